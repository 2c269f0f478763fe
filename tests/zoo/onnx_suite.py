"""The activation cases of the ONNX backend test suite shipped in the `onnx` package.

`node` cases come from `onnx/backend/test/data/node` when the wheel ships it (older wheels),
else they are generated from `onnx.backend.test.case.node` into a cache folder once per onnx
version; `pytorch-operator` and `pytorch-converted` are read as shipped."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from tests.zoo.truth import activation_nodes

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "benchmarks" / ".cache"
SUITES = ("node", "pytorch-operator", "pytorch-converted")


def data_dir() -> Path:
    """onnx's backend test data, or $ZOO_ONNX_DATA (e.g. the data folder of an older wheel)."""
    env = os.environ.get("ZOO_ONNX_DATA")
    return Path(env) if env else Path(onnx.__file__).parent / "backend" / "test" / "data"


def node_dir(cache: Path = CACHE) -> Path:
    """The node cases: shipped, or generated into cache/onnx-node-<version>/ once."""
    shipped = data_dir() / "node"
    if shipped.is_dir() and any(shipped.iterdir()):
        return shipped
    out = cache / f"onnx-node-{onnx.__version__}"
    if (out / ".complete").exists():
        return out
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="onnx-node-", dir=cache))
    except OSError:  # a read-only checkout: the system's temporary folder
        fallback = Path(tempfile.gettempdir()) / "saturate-zoo"
        if cache == fallback:
            raise
        return node_dir(fallback)
    _generate(tmp)
    (tmp / ".complete").write_text(onnx.__version__)
    try:
        tmp.rename(out)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _generate(out: Path) -> None:
    from onnx.backend.test.case import node as node_cases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collected = node_cases.collect_testcases()
    for c in collected:
        if not activation_nodes(c.model) or not c.data_sets:
            continue
        d = out / c.name
        (d / "test_data_set_0").mkdir(parents=True)
        (d / "model.onnx").write_bytes(c.model.SerializeToString())
        ins = c.data_sets[0][0]
        for j, a in enumerate(ins):
            if not hasattr(a, "dtype"):  # sequences, optionals: no activation input
                continue
            a = np.asarray(a)
            name = c.model.graph.input[j].name if j < len(c.model.graph.input) else ""
            t = numpy_helper.from_array(a, name)
            (d / "test_data_set_0" / f"input_{j}.pb").write_bytes(t.SerializeToString())


def cases(cache: Path = CACHE) -> list:
    """(id, case folder) of every case whose model has an explicit activation node."""
    found = []
    for suite in SUITES:
        base = node_dir(cache) if suite == "node" else data_dir() / suite
        if not base.is_dir():
            continue
        for d in sorted(base.iterdir()):
            model = d / "model.onnx"
            if not model.exists() or not (d / "test_data_set_0").is_dir():
                continue
            if activation_nodes(onnx.load(str(model), load_external_data=False)):
                found.append((f"{suite}/{d.name}", d))
    return found


def _index(p: Path) -> int:
    m = re.search(r"(\d+)", p.stem)
    return int(m.group(1)) if m else 0


def load_feeds(model: onnx.ModelProto, set_dir: Path) -> dict:
    """input_K.pb of a data set -> {graph input name: array}, by name else by position."""
    inits = {t.name for t in model.graph.initializer}
    real = [i.name for i in model.graph.input if i.name not in inits]
    feeds = {}
    for k, p in enumerate(sorted(set_dir.glob("input_*.pb"), key=_index)):
        t = onnx.TensorProto()
        t.ParseFromString(p.read_bytes())
        name = t.name if t.name in real else (real[k] if k < len(real) else t.name)
        feeds[name] = numpy_helper.to_array(t)
    return feeds


if __name__ == "__main__":  # python -m tests.zoo.onnx_suite: list the cases
    for cid, d in cases():
        print(cid, os.path.relpath(d, ROOT))
