"""An Optimum-style ONNX folder (model.onnx + tokenizer) of a tiny checkpoint: the same site
names as the PyTorch report of that checkpoint, and the same numbers, padded positions left out
on both sides; the ONNX numbers checked against onnx.reference as well."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from test_hf import BATCH, SITES, TEXTS, build_checkpoint, inspect  # noqa: E402


class _Outputs(torch.nn.Module):
    """The checkpoint's forward on (input_ids, attention_mask) alone, exported with the model's
    own module paths (its children are registered here under their names)."""

    def __init__(self, model):
        super().__init__()
        object.__setattr__(self, "hf", model)
        for name, child in model.named_children():
            self.add_module(name, child)

    def forward(self, input_ids, attention_mask):
        return self.hf(input_ids=input_ids, attention_mask=attention_mask)[0]


def export_folder(folder, out):
    """model.onnx (TorchScript exporter, dynamic batch and sequence) beside the tokenizer."""
    model = transformers.LlamaForCausalLM.from_pretrained(str(folder),
                                                          attn_implementation="eager").eval()
    model.config.use_cache = False
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    enc = tok(TEXTS[:2], padding=True, return_tensors="pt")
    out.mkdir()
    names = ["input_ids", "attention_mask"]
    with warnings.catch_warnings():  # the legacy exporter's deprecation and tracer warnings
        warnings.simplefilter("ignore")
        torch.onnx.export(_Outputs(model), (enc["input_ids"], enc["attention_mask"]),
                          str(out / "model.onnx"), input_names=names, dynamo=False,
                          opset_version=17,
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names})
    tok.save_pretrained(str(out))
    model.config.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_onnx")
    (root / "samples.txt").write_text("\n".join(TEXTS) + "\n")
    folder = build_checkpoint(root, "llama")
    return root, folder, export_folder(folder, root / "llama-onnx")


def test_onnx_folder_names_and_numbers_equal_the_pytorch_report(pair):
    root, folder, onnx_folder = pair
    eager = inspect(folder, root / "samples.txt", attn="eager")
    exported = inspect(onnx_folder, root / "samples.txt")
    assert exported.model["format"] == "onnx"
    assert [s.name for s in exported.sites] == [s.name for s in eager.sites] == [
        "model.layers.0.self_attn:softmax#0", "model.layers.0.mlp.act_fn",
        "model.layers.1.self_attn:softmax#0", "model.layers.1.mlp.act_fn"]
    for a, b in zip(exported.sites, eager.sites):
        assert a.stats["count"] == b.stats["count"]
        assert a.stats["mean"] == pytest.approx(b.stats["mean"], rel=1e-4, abs=1e-6)
        assert a.stats["std"] == pytest.approx(b.stats["std"], rel=1e-4)
    assert [n for n in exported.calibration["notes"] if "padding" in n] == \
        [n for n in eager.calibration["notes"] if "padding" in n]


def test_onnx_token_wise_site_equals_the_reference_evaluator_on_valid_positions(pair):
    import onnx
    from onnx.reference import ReferenceEvaluator

    root, _, onnx_folder = pair
    report = inspect(onnx_folder, root / "samples.txt", samples=BATCH)
    model = onnx.load(str(onnx_folder / "model.onnx"))
    gate = next(n for n in model.graph.node if n.name == "/model/layers.0/mlp/act_fn/Sigmoid")
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(gate.input[0]))
    tok = transformers.AutoTokenizer.from_pretrained(str(onnx_folder))
    enc = tok(TEXTS[:BATCH], padding=True, return_tensors="np")
    feeds = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")}
    x = ReferenceEvaluator(model).run([gate.input[0]], feeds)[0].astype(np.float64)
    valid = x[enc["attention_mask"].astype(bool)]
    s = report.site("model.layers.0.mlp.act_fn").stats
    assert s["count"] == valid.size == 32 * int(enc["attention_mask"].sum())
    assert s["mean"] == pytest.approx(valid.mean(), rel=1e-4, abs=1e-6)
    assert s["std"] == pytest.approx(valid.std(), rel=1e-4)
    assert s["min"] == pytest.approx(valid.min(), rel=1e-5)
    assert s["max"] == pytest.approx(valid.max(), rel=1e-5)
    assert report.site("model.layers.0.mlp.act_fn").kind == SITES["llama"][0][1]
