"""Models with real-world site names for the picture and layout tests, built by hand in ONNX.

A BERT-like encoder (HF exporter names: `/bert/encoder/layer.3/intermediate/
intermediate_act_fn/Mul_1`, decomposed erf GELU, attention softmax, tanh pooler) and a
ResNet-18-like CNN (torchvision exporter names: `/layer2/layer2.1/relu_1/Relu`), small enough to
inspect in well under a second each. `wide_mlp` has many sites of every bounded kind.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG_SEED = 15
HIDDEN, SEQ = 16, 8


def _model(nodes, inputs, inits, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(
        nodes[-1].output[0], TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def bert_like(layers: int = 12, scale: float = 1.0) -> onnx.ModelProto:
    """[batch, SEQ, HIDDEN] -> per layer: attention scores softmax, dense -> erf GELU -> dense."""
    rng = np.random.default_rng(RNG_SEED)
    nodes, inits, t = [], {"sqrt2": math.sqrt(2.0), "one": 1.0, "half": 0.5}, "x"
    for i in range(layers):
        p = f"/bert/encoder/layer.{i}"
        inits[f"q{i}"] = rng.standard_normal((HIDDEN, SEQ)) * scale / math.sqrt(HIDDEN)
        inits[f"w{i}"] = rng.standard_normal((HIDDEN, 4 * HIDDEN)) * scale / math.sqrt(HIDDEN)
        inits[f"v{i}"] = rng.standard_normal((4 * HIDDEN, HIDDEN)) / math.sqrt(4 * HIDDEN)
        nodes += [
            helper.make_node("MatMul", [t, f"q{i}"], [f"s{i}"], name=f"{p}/attention/self/MatMul"),
            helper.make_node("Softmax", [f"s{i}"], [f"p{i}"], name=f"{p}/attention/self/Softmax",
                             axis=-1),
            helper.make_node("MatMul", [t, f"w{i}"], [f"h{i}"],
                             name=f"{p}/intermediate/dense/MatMul"),
            helper.make_node("Div", [f"h{i}", "sqrt2"], [f"d{i}"],
                             name=f"{p}/intermediate/intermediate_act_fn/Div"),
            helper.make_node("Erf", [f"d{i}"], [f"e{i}"],
                             name=f"{p}/intermediate/intermediate_act_fn/Erf"),
            helper.make_node("Add", [f"e{i}", "one"], [f"a{i}"],
                             name=f"{p}/intermediate/intermediate_act_fn/Add"),
            helper.make_node("Mul", [f"h{i}", f"a{i}"], [f"m{i}"],
                             name=f"{p}/intermediate/intermediate_act_fn/Mul"),
            helper.make_node("Mul", [f"m{i}", "half"], [f"g{i}"],
                             name=f"{p}/intermediate/intermediate_act_fn/Mul_1"),
            helper.make_node("MatMul", [f"g{i}", f"v{i}"], [f"o{i}"],
                             name=f"{p}/output/dense/MatMul"),
            helper.make_node("Add", [f"o{i}", t], [f"r{i}"], name=f"{p}/output/Add"),
            helper.make_node("ReduceMean", [f"p{i}"], [f"pm{i}"], name=f"{p}/attention/Reduce",
                             axes=[-1], keepdims=1),
            helper.make_node("Add", [f"r{i}", f"pm{i}"], [f"x{i + 1}"], name=f"{p}/Add_out"),
        ]
        t = f"x{i + 1}"
    inits["pool"] = rng.standard_normal((HIDDEN, HIDDEN)) * 4 / math.sqrt(HIDDEN)  # saturates
    nodes += [helper.make_node("MatMul", [t, "pool"], ["pooled"], name="/bert/pooler/dense/MatMul"),
              helper.make_node("Tanh", ["pooled"], ["y"], name="/bert/pooler/activation/Tanh")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", SEQ, HIDDEN])
    return _model(nodes, [x], inits)


def resnet_like(blocks: tuple = (2, 2, 2, 2), channels: int = 4) -> onnx.ModelProto:
    """[batch, 3, 8, 8] -> stem conv + relu, then BasicBlocks (conv-relu-conv + skip, relu)."""
    rng = np.random.default_rng(RNG_SEED + 1)
    c = channels

    def conv(name, src, dst, cin):
        w = f"{name}.weight"
        inits[w] = rng.standard_normal((c, cin, 3, 3)) * math.sqrt(2.0 / (cin * 9))
        inits[f"{name}.bias"] = np.zeros(c) - (0.8 if "layer3" in name else 0.0)  # some dead
        return helper.make_node("Conv", [src, w, f"{name}.bias"], [dst], name=f"/{name}/Conv",
                                pads=[1, 1, 1, 1])

    inits: dict = {}
    nodes = [conv("conv1", "x", "c0", 3),
             helper.make_node("Relu", ["c0"], ["t0"], name="/relu/Relu")]
    t, n = "t0", 0
    for stage, count in enumerate(blocks, start=1):
        for b in range(count):
            p = f"layer{stage}.{b}"
            n += 1
            nodes += [conv(f"layer{stage}/{p}/conv1", t, f"a{n}", c),
                      helper.make_node("Relu", [f"a{n}"], [f"ar{n}"],
                                       name=f"/layer{stage}/{p}/relu/Relu"),
                      conv(f"layer{stage}/{p}/conv2", f"ar{n}", f"b{n}", c),
                      helper.make_node("Add", [f"b{n}", t], [f"s{n}"], name=f"/layer{stage}/{p}/Add"),
                      helper.make_node("Relu", [f"s{n}"], [f"o{n}"],
                                       name=f"/layer{stage}/{p}/relu_1/Relu")]
            t = f"o{n}"
    nodes.append(helper.make_node("GlobalAveragePool", [t], ["y"], name="/avgpool/GlobalAveragePool"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])
    return _model(nodes, [x], inits)


def wide_mlp(sites: int = 60, width: int = 32) -> onnx.ModelProto:
    """x[batch, width] -> `sites` x (Gemm -> sigmoid / tanh / relu / softsign, rotating), with
    weight scales from healthy to far too wide: a 60-site model for the size budget."""
    rng = np.random.default_rng(RNG_SEED + 2)
    acts = ("Sigmoid", "Tanh", "Relu", "Softsign")
    nodes, inits, t = [], {}, "x"
    for i in range(sites):
        scale = (0.5, 1.0, 3.0, 8.0)[i % 4] / math.sqrt(width)
        inits[f"fc{i}.weight"] = rng.standard_normal((width, width)) * scale
        inits[f"fc{i}.bias"] = rng.standard_normal(width) * 0.1
        nodes += [helper.make_node("Gemm", [t, f"fc{i}.weight", f"fc{i}.bias"], [f"h{i}"],
                                   name=f"/blocks/block.{i}/fc/Gemm", transB=1),
                  helper.make_node(acts[i % 4], [f"h{i}"], [f"a{i}"],
                                   name=f"/blocks/block.{i}/act/{acts[i % 4]}")]
        t = f"a{i}"
    nodes.append(helper.make_node("Identity", [t], ["y"], name="out"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])
    return _model(nodes, [x], inits)


def pieces_in_order(short: str, full: str) -> bool:
    """Every part of a shortened name between ellipses occurs in the full name, left to right."""
    at = 0
    for part in short.split("…"):
        found = full.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return True


BUILDERS = {"bert_like": bert_like, "resnet_like": resnet_like, "wide_mlp": wide_mlp}


@lru_cache(maxsize=None)
def inspected(name: str, folder: str):
    """The report of one of the models above (built into `folder`), default settings."""
    from saturate_cli.pipeline import inspect_model
    from saturate_cli.settings import Settings

    path = Path(folder) / f"{name}.onnx"
    onnx.save(BUILDERS[name](), str(path))
    return inspect_model(str(path), Settings(samples=32, batch_size=16))
