"""Calibration files that are broken, mismatched or hostile (.npy / .npz)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from onnx import TensorProto

from hostile import onnx_models as om
from hostile.make_corpus import FAIL, RAN, Case, Evil

_EVIL_MARKER = "PWNED_npy"


def _case(name: str, model: Path, data: Path, why: str, exit=FAIL, **kw) -> Case:
    return Case(name, (str(model), "--calibration", str(data)), exit,
                data.name if exit == FAIL else "", why, **kw)


def calibration_cases(d: Path) -> list[Case]:
    x = om.save(om.plain(), d / "x_sigmoid.onnx")
    ids = om.save(om.plain(elem=TensorProto.INT64, name="ids"), d / "ids_sigmoid.onnx")
    ab = om.save(om.two_inputs(), d / "ab_sigmoid.onnx")
    rng = np.random.default_rng(3)
    good = rng.standard_normal((16, 8)).astype(np.float32)

    def npy(name: str, array, **kw) -> Path:
        p = d / name
        np.save(p, array, **kw)
        return p

    empty_npz = d / "empty.npz"
    np.savez(empty_npz)
    evil_obj = np.array([Evil(d / _EVIL_MARKER)], dtype=object)
    evil_npz = d / "evil.npz"
    np.savez(evil_npz, x=evil_obj)
    junk_zip = d / "junk.npz"
    with zipfile.ZipFile(junk_zip, "w") as z:
        z.writestr("x.npy", rng.bytes(512))
    truncated = d / "truncated.npy"
    truncated.write_bytes(npy("full.npy", good).read_bytes()[:100])
    (d / "random.npy").write_bytes(rng.bytes(1000))
    bomb = d / "deflate_bomb.npz"  # 16 MiB of zeros in a few KiB
    np.savez_compressed(bomb, x=np.zeros((2**19, 8), np.float32))
    nan = good.copy()
    nan[::3, ::2] = np.nan
    marker = str(d / _EVIL_MARKER)
    return [
        _case("calib_empty_npz", x, empty_npz, "an .npz with no arrays"),
        _case("calib_junk_npz", x, junk_zip, "a zip whose .npy member is junk"),
        _case("calib_random_npy", x, d / "random.npy", "random bytes named .npy"),
        _case("calib_truncated_npy", x, truncated, "an .npy cut after its header"),
        _case("calib_missing", x, d / "absent.npy", "the calibration file does not exist"),
        _case("calib_wrong_shape", x, npy("wrong_shape.npy", good[:, :5]), "[16, 5] for [batch, 8]",
              mentions="shape"),
        _case("calib_wrong_rank", x, npy("wrong_rank.npy", good.reshape(16, 2, 4)),
              "rank 3 for a rank-2 input", mentions="rank"),
        _case("calib_scalar", x, npy("scalar.npy", np.float32(1.0)), "a 0-d array"),
        _case("calib_empty_array", x, npy("empty_array.npy", good[:0]), "zero samples"),
        _case("calib_float_to_int", ids, npy("floats.npy", good.astype(np.float64)),
              "float64 data for an int64 input: unsafe cast refused", mentions="int64"),
        _case("calib_object_npy", x, npy("evil.npy", evil_obj, allow_pickle=True),
              "an object (pickled) .npy whose unpickling writes a file", marker=marker),
        _case("calib_object_npz", x, evil_npz, "an .npz holding a pickled object array",
              marker=marker),
        _case("calib_wrong_name", ab, _npz(d / "wrong_name.npz", a=good, c=good),
              "arrays a, c for inputs a, b", mentions="'b'"),
        Case("calib_deflate_bomb", (str(x), "--calibration", str(bomb), "--memory-budget",
                                    "4MB"), FAIL, bomb.name,
             "a compressed .npz unpacking to 16 MiB, budget 4 MB: refused before unpacking",
             mentions="memory budget"),
        _case("calib_nan", x, npy("nan.npy", nan), "NaN in the data: reported, not refused", RAN,
              codes=("SAT301",), note="NaN"),
        _case("calib_constant", x, npy("ones.npy", np.ones((16, 8), np.float32)),
              "every value 1.0: std 0", RAN, codes=("SAT302",)),
    ]


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path
