"""Issue #7: fuzz the loaders with mutated sample models and calibration files (bounded time).

Contract on every run: exit 0, 1 or 2; for 2 exactly one stderr line naming the file; never a
traceback; and for these ONNX / .npz inputs never an "internal error" (that would be a bug in a
loader, not a bad input). Examples are derandomised so CI is reproducible; set
SATURATE_FUZZ_SCALE=10 (and SATURATE_FUZZ_RANDOM=1) to fuzz longer and wider locally.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
from hypothesis import HealthCheck, given, settings, strategies as st

from hostile import onnx_models as om
from hostile.contract import check, inspect
from hostile.mutate import MUTATIONS

SAMPLES = Path(__file__).resolve().parent.parent / "sample_models"
SCALE = int(os.environ.get("SATURATE_FUZZ_SCALE", "1"))
FUZZ = settings(deadline=None, database=None, derandomize=not os.environ.get("SATURATE_FUZZ_RANDOM"),
                suppress_health_check=list(HealthCheck))


def _bases() -> dict[str, bytes]:
    models = {name: (SAMPLES / f"{name}.onnx").read_bytes()
              for name in ("softmax_hot", "mlp_mixed", "cnn_relu_deadbias", "transformer_block")}
    for build in (om.gemm_act, om.if_model, om.qdq_relu, om.lstm, om.inf_div):
        models[build.__name__] = build().SerializeToString()
    return models


BASES = _bases()
NAMES = sorted(BASES)


def _run_model(data: bytes, *extra: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.onnx"
        path.write_bytes(data)
        out = Path(tmp) / "out.json"
        check(inspect([str(path), *extra], out), out, names="fuzzed.onnx")


@settings(FUZZ, max_examples=40 * SCALE)
@given(name=st.sampled_from(NAMES), cut=st.floats(0, 1),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=8))
def test_fuzz_bytes(name, cut, flips):
    """Byte flips and truncations of valid models."""
    data = bytearray(BASES[name])
    for where, xor in flips:
        data[int(where * (len(data) - 1))] ^= xor
    if cut < 0.3:
        data = data[: int(len(data) * cut / 0.3)]
    _run_model(bytes(data))



@settings(FUZZ, max_examples=120 * SCALE)
@given(name=st.sampled_from(NAMES), data=st.data(),
       picks=st.lists(st.integers(0, len(MUTATIONS) - 1), min_size=1, max_size=3))
def test_fuzz_structure(name, data, picks):
    """Field-level mutations through the onnx API: dims, types, ops, attributes, initializers."""
    model = onnx.ModelProto()
    model.ParseFromString(BASES[name])
    done = [MUTATIONS[i](model, data.draw) for i in picks]
    data.draw(st.just(done), label="mutations")
    try:
        raw = model.SerializeToString()
    except Exception:  # noqa: BLE001 - protobuf refuses some field values itself
        return
    _run_model(raw)


# --- calibration files -------------------------------------------------------------------------

_DTYPES = ["float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool",
           "complex64", "U3", "datetime64[s]"]


_MODELS = {str(SAMPLES / "mlp_sigmoid_xavier.onnx"): {"x": 784},
           str(SAMPLES / "transformer_block.onnx"): {"input_ids": 12, "attention_mask": 12}}


@st.composite
def _array(draw, width: int):
    """Mostly the right shape [n, width], sometimes not; any dtype; odd values."""
    n = draw(st.sampled_from([1, 2, 5, 16]))
    shape = draw(st.sampled_from([[n, width]] * 4 + [[n], [], [0, width], [n, width, 2],
                                                     [n, 3], [n, 0]]))
    dtype = draw(st.sampled_from(_DTYPES))
    fill = draw(st.sampled_from([0.0, 1.0, -1e30, float("nan"), float("inf"), 3.0, 10**12]))
    try:
        with np.errstate(all="ignore"):
            return np.full(shape, fill).astype(dtype)
    except (ValueError, TypeError, OverflowError):
        return np.zeros(shape, dtype)


@st.composite
def _calibration(draw):
    """A model and arrays for it: the right names mostly, a wrong or missing one sometimes."""
    model = draw(st.sampled_from(sorted(_MODELS)))
    inputs = _MODELS[model]
    names = list(inputs)
    if draw(st.integers(0, 3)) == 0:
        names = draw(st.lists(st.sampled_from(names + ["arr_0", "y", ""]), max_size=3,
                              unique=True))
    return model, {k: draw(_array(inputs.get(k, 784))) for k in names}


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _run_calibration(model: str, data: bytes, suffix: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzzed{suffix}"
        path.write_bytes(data)
        out = Path(tmp) / "out.json"
        check(inspect([model, "--calibration", str(path)], out), out,
              names=(path.name, Path(model).name))  # inference errors name the model


@settings(FUZZ, max_examples=60 * SCALE)
@given(case=_calibration(), suffix=st.sampled_from([".npz", ".npz", ".npy"]))
def test_fuzz_calibration_arrays(case, suffix):
    """.npz/.npy files of near-valid names, shapes, dtypes and odd values."""
    model, arrays = case
    if suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, next(iter(arrays.values()), np.zeros(0)), allow_pickle=False)
        data = buf.getvalue()
    else:
        data = _npz_bytes(arrays)
    _run_calibration(model, data, suffix)


@settings(FUZZ, max_examples=40 * SCALE)
@given(flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=6),
       cut=st.floats(0, 1))
def test_fuzz_calibration_bytes(flips, cut):
    """Byte flips and truncations of a valid calibration .npz (its zip members included)."""
    rng = np.random.default_rng(0)
    data = bytearray(_npz_bytes({"input_ids": rng.integers(0, 1000, (4, 12)),
                                 "attention_mask": np.ones((4, 12), np.int64)}))
    for where, xor in flips:
        data[int(where * (len(data) - 1))] ^= xor
    if cut < 0.3:
        data = data[: int(len(data) * cut / 0.3)]
    _run_calibration(str(SAMPLES / "transformer_block.onnx"), bytes(data), ".npz")



def test_valid_bases_run():
    """The unmutated bases pass: the fuzz starts from working inputs."""
    for name in NAMES:
        _run_model(BASES[name])
    assert zipfile.is_zipfile(io.BytesIO(_npz_bytes({"x": np.zeros(2)})))
