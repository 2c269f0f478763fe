"""The heavy zoo (benchmarks/zoo): every built model and form against independent truth.
Slow: run with the zoo's venv after `benchmarks/zoo/build.py`, e.g.
`benchmarks/.cache/zoo-venv/bin/python -m pytest -m slow tests/test_zoo_models.py`."""

from __future__ import annotations

import importlib.util

import pytest

from tests.zoo.heavy import ZOO, check_entry, entry_id, manifest

pytestmark = pytest.mark.slow
ENTRIES = manifest()
ZOO_ENV = all(importlib.util.find_spec(m) for m in ("torchvision", "transformers", "sklearn"))


@pytest.mark.skipif(not ENTRIES, reason=f"the zoo is not built: run benchmarks/zoo/build.py "
                    f"(it writes {ZOO}/manifest.json)")
@pytest.mark.parametrize("entry", ENTRIES or [None], ids=[entry_id(e) for e in ENTRIES] or
                         ["not-built"])
def test_zoo_model(entry):
    if not ZOO_ENV and not entry["format"].startswith("onnx"):
        pytest.skip("PyTorch forms need the zoo's venv: benchmarks/.cache/zoo-venv/bin/python "
                    "-m pytest -m slow tests/test_zoo_models.py")
    if entry.get("build_error"):
        pytest.skip(f"{entry_id(entry)} did not build: {entry['build_error']}")
    row = check_entry(entry)
    assert not row["diffs"], (f"{entry_id(entry)} ({row['sites']} sites): "
                              + "; ".join(row["diffs"][:20]))
