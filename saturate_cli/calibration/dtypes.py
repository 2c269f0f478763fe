"""Element types: numpy dtypes for the model's inputs (bf16 included) and the cast policy.

Casts the data needs to reach the model's dtype are applied when no value changes meaning:
float64 -> float32 (noted: precision), int -> float, integers into a narrower integer type when
every value fits, 0/1 integers into bool.  float -> int is refused: truncating data silently
would measure something else.
"""

from __future__ import annotations

import numpy as np

from saturate_cli.errors import CalibrationError

_EXTENDED = ("bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz")


def numpy_dtype(name: str, input_name: str = "") -> np.dtype:
    """The numpy dtype for a name; bfloat16/float8 come from ml_dtypes (installed with onnx)."""
    if name in _EXTENDED:
        try:
            import ml_dtypes
        except ImportError:
            raise CalibrationError(f"input '{input_name}' is {name}: numpy needs the ml_dtypes "
                                   "package for it (pip install ml_dtypes)") from None
        return np.dtype(getattr(ml_dtypes, name))
    try:
        return np.dtype(name)
    except TypeError:
        raise CalibrationError(f"input '{input_name}' has type {name}, which saturate cannot feed "
                               "from numpy data") from None


def is_floating(dtype: np.dtype) -> bool:
    """True for IEEE and ml_dtypes floating types."""
    return dtype.kind == "f" or dtype.name in _EXTENDED


def _kind(dtype: np.dtype) -> str:
    if dtype == np.bool_:
        return "bool"
    if is_floating(dtype):
        return "float"
    if dtype.kind in "iu":
        return "int"
    return "other"


def cast(a: np.ndarray, want: np.dtype, input_name: str, where: str, notes) -> np.ndarray:
    """`a` as dtype `want`, or a CalibrationError naming both dtypes; `notes` records casts."""
    if a.dtype == want:
        return a
    src, dst = _kind(a.dtype), _kind(want)
    refuse = f"{where}: input '{input_name}' expects {want.name}, the data is {a.dtype.name}"
    if src == "other" or dst == "other":
        raise CalibrationError(refuse + "; no cast between these types")
    if src == "float" and dst != "float":
        raise CalibrationError(refuse + "; refusing to cast floating-point data to "
                               f"{want.name} (it would truncate values)")
    if dst == "int" and src == "int" and a.size:
        info = np.iinfo(want)
        lo, hi = int(a.min()), int(a.max())
        if lo < info.min or hi > info.max:
            raise CalibrationError(refuse + f"; values [{lo}, {hi}] do not fit in {want.name}")
    if dst == "bool" and src == "int" and a.size and not np.isin(a, (0, 1)).all():
        raise CalibrationError(refuse + "; only 0/1 integers cast to bool")
    lossy = src == "float" and want.itemsize < a.dtype.itemsize
    notes(f"input '{input_name}': {a.dtype.name} data cast to {want.name}"
          + (" (precision reduced)" if lossy else ""))
    return a.astype(want)
