"""Build the heavy zoo into benchmarks/.cache/zoo/ (run with the zoo venv's python).

Every model of benchmarks/zoo/models.py is exported with the TorchScript-based ONNX exporter
(opsets 11, 14, 17) and the dynamo exporter (18, 20), and kept as TorchScript (scripted and
traced), a torch.export `.pt2` and a factory with a state dict; scikit-learn MLPs go through
skl2onnx (opsets 13, 15, 17). Each model gets its example inputs as calibration `.npz` and,
for the PyTorch forms, truth from forward hooks (tests/zoo/torch_truth.py).
A form that fails to build is recorded in manifest.json with its error."""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]
OUT = ROOT / "benchmarks" / ".cache" / "zoo"
LEGACY, DYNAMO, SKL = (11, 14, 17), (18, 20), (13, 15, 17)


def _entry(manifest, model, fmt, opset, fn, **kw):
    """Run one build step; record the entry (or its error) in the manifest."""
    e = {"model": model, "format": fmt, "opset": opset, **kw}
    t = time.time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e.update(fn() or {})
    except Exception as exc:  # noqa: BLE001 - a failed export is a row of the table
        e["build_error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}" \
            if str(exc).strip() else type(exc).__name__
        (OUT / "build_errors.log").open("a").write(f"== {model} {fmt} {opset}\n"
                                                    f"{traceback.format_exc()}\n")
    e["build_s"] = round(time.time() - t, 1)
    manifest.append(e)
    print(f"{model:20s} {fmt:18s} {opset or '':>3} {e.get('build_error', 'ok')}", flush=True)


def _onnx_calib(path: Path, inputs: dict, dest: Path) -> str:
    """An .npz keyed by the ONNX graph's input names (by name, else by position)."""
    import onnx
    m = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    keys = list(inputs)
    arrays = {n: inputs[n] if n in inputs else inputs[keys[k]] for k, n in enumerate(names)}
    np.savez(dest, **arrays)
    return str(dest.relative_to(OUT))


def build_torch(name: str, manifest: list) -> None:
    import torch

    from models import build, example_inputs
    from tests.zoo.torch_truth import module_truth
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    model, inputs = build(name), example_inputs(name)
    arrays = {k: v.numpy() for k, v in inputs.items()}
    np.savez(d / "calib.npz", **arrays)
    torch.save(model.state_dict(), d / "state_dict.pt")
    (d / "truth_torch.json").write_text(json.dumps(module_truth(model, inputs), indent=0))
    args = tuple(inputs.values())
    names = list(inputs)

    def legacy(op):
        def go():
            p = d / f"legacy_op{op}.onnx"
            torch.onnx.export(model, args, str(p), opset_version=op, dynamo=False,
                              input_names=names, output_names=["out"])
            return {"path": str(p.relative_to(OUT)),
                    "calib": _onnx_calib(p, arrays, d / f"legacy_op{op}.npz")}
        return go

    def dynamo(op):
        def go():
            p = d / f"dynamo_op{op}.onnx"
            torch.onnx.export(model, args, str(p), opset_version=op, dynamo=True,
                              input_names=names, output_names=["out"], external_data=False,
                              verbose=False)
            return {"path": str(p.relative_to(OUT)),
                    "calib": _onnx_calib(p, arrays, d / f"dynamo_op{op}.npz")}
        return go

    def script():
        p = d / "scripted.ts"
        torch.jit.save(torch.jit.script(model), str(p))
        return {"path": str(p.relative_to(OUT))}

    def trace():
        p = d / "traced.ts"
        torch.jit.save(torch.jit.trace(model, args, strict=False), str(p))
        return {"path": str(p.relative_to(OUT))}

    def pt2():
        p = d / "model.pt2"
        torch.export.save(torch.export.export(model, args), str(p))
        return {"path": str(p.relative_to(OUT))}

    torch_kw = {"calib": str((d / "calib.npz").relative_to(OUT)),
                "truth": str((d / "truth_torch.json").relative_to(OUT))}
    for op in LEGACY:
        _entry(manifest, name, "onnx (torchscript exporter)", op, legacy(op))
    for op in DYNAMO:
        _entry(manifest, name, "onnx (dynamo exporter)", op, dynamo(op))
    _entry(manifest, name, "torchscript scripted", None, script, **torch_kw)
    _entry(manifest, name, "torchscript traced", None, trace, **torch_kw)
    _entry(manifest, name, "pt2", None, pt2, **torch_kw)
    _entry(manifest, name, "factory", None, lambda: {
        "target": f"{HERE / 'models.py'}:build",
        "args": ["--arg", f"name={name}", "--weights", str(d / "state_dict.pt")]}, **torch_kw)


def build_sklearn(manifest: list) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1)
    for act in ("relu", "tanh", "logistic"):
        for kind, cls in (("classifier", MLPClassifier), ("regressor", MLPRegressor)):
            name = f"sklearn_mlp_{kind}_{act}"
            d = OUT / name
            d.mkdir(parents=True, exist_ok=True)
            np.savez(d / "calib.npz", X=x[:64])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = cls(hidden_layer_sizes=(32, 16), activation=act, max_iter=30,
                          random_state=0).fit(x, y if kind == "classifier" else x[:, 0])

            def go(op, est=est, d=d):
                p = d / f"skl2onnx_op{op}.onnx"
                opts = {id(est): {"zipmap": False}} if kind == "classifier" else None
                m = convert_sklearn(est, initial_types=[("X", FloatTensorType([None, 8]))],
                                    target_opset={"": op, "ai.onnx.ml": 3}, options=opts)
                p.write_bytes(m.SerializeToString())
                return {"path": str(p.relative_to(OUT)), "calib": str((d / "calib.npz")
                                                                      .relative_to(OUT))}
            for op in SKL:
                _entry(manifest, name, "onnx (skl2onnx)", op, lambda op=op, go=go: go(op))


def truth_only(names: list) -> None:
    from models import build, example_inputs
    from tests.zoo.torch_truth import module_truth
    for name in names:
        t = module_truth(build(name), example_inputs(name))
        (OUT / name / "truth_torch.json").write_text(json.dumps(t, indent=0))
        print(f"{name}: {len(t)} sites")


def main() -> None:
    from models import NAMES
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="model names (default: all, sklearn and pypi: "
                    "the trained models PyPI packages ship, pypi_models.py)")
    ap.add_argument("--truth-only", action="store_true", help="rewrite truth_torch.json only")
    a = ap.parse_args()
    if a.truth_only:
        return truth_only(a.only or list(NAMES))
    OUT.mkdir(parents=True, exist_ok=True)
    mpath = OUT / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() and a.only else []
    todo = a.only or [*NAMES, "sklearn", "pypi"]
    manifest = [e for e in manifest if e["model"] not in todo
                and not (e["model"].startswith("sklearn") and "sklearn" in todo)
                and not ("shipped in" in e["format"] and "pypi" in todo)]
    for name in todo:
        try:
            if name == "pypi":
                from pypi_models import build_pypi
                build_pypi(manifest, OUT, _entry)
            elif name == "sklearn":
                build_sklearn(manifest)
            else:
                build_torch(name, manifest)
        except Exception as exc:  # noqa: BLE001 - the model itself did not build
            _entry(manifest, name, "(model)", None, lambda exc=exc: (_ for _ in ()).throw(exc))
        mpath.write_text(json.dumps(manifest, indent=1))
    print(f"{len(manifest)} entries in {mpath}")


if __name__ == "__main__":
    main()
