"""Text calibration: samples from a text file, tokenized by the checkpoint's own tokenizer.

`--text FILE`: one sample per line, or a `.jsonl` file with one JSON object per line (the
sample under `--text-field`). Samples stream in batches of --batch-size; each batch is padded to
its longest sample, truncated to --max-length (and to the model's own limit), and given only the
inputs the model takes (input_ids, attention_mask, token_type_ids ...). Each batch also carries
the validity mask (types.VALID_POSITIONS; model/mask.py) so padded positions stay out of token-wise statistics; the
report's calibration notes say how many were left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from saturate_cli.calibration.dtypes import numpy_dtype
from saturate_cli.calibration.source import CalibrationInfo, counted
from saturate_cli.errors import CalibrationError, UsageError
from saturate_cli.settings import Settings
from saturate_cli.types import VALID_POSITIONS, InputSpec

JSONL = (".jsonl", ".ndjson")


def read_texts(path: Path, field: str) -> Iterator[str]:
    """The samples of a text file, streamed: non-empty lines, or `field` of each JSON line."""
    jsonl = path.suffix.lower() in JSONL
    try:
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                yield _field(path, number, line, field) if jsonl else line.rstrip("\r\n")
    except OSError as exc:
        raise CalibrationError(f"--text {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"--text {path}: not UTF-8 text ({exc.reason} at byte "
                               f"{exc.start})") from None


def _field(path: Path, number: int, line: str, field: str) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"--text {path}: line {number} is not JSON ({exc.msg})") from None
    value = record.get(field) if isinstance(record, dict) else None
    if not isinstance(value, str):
        keys = sorted(record) if isinstance(record, dict) else []
        raise CalibrationError(f"--text {path}: line {number} has no text field '{field}' "
                               f"(its keys: {keys}); choose one with --text-field")
    return value


def _chunks(texts: Iterator[str], size: int, limit: Optional[int]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for i, text in enumerate(texts):
        if limit is not None and i >= limit:
            break
        chunk.append(text)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class PaddingCount:
    """Padded positions left out so far, said in one calibration note kept up to date."""

    def __init__(self, info: CalibrationInfo):
        self.info, self.padded, self.positions, self._note = info, 0, 0, None

    def add(self, valid: np.ndarray) -> None:
        self.positions += int(valid.size)
        self.padded += int(valid.size - np.count_nonzero(valid))
        text = (f"text: {self.padded} of {self.positions} token positions are padding, left out "
                "of the statistics of token-wise sites (inputs [batch, sequence, ...]); "
                "softmax rows keep their own masking")
        if self._note in self.info.notes:
            self.info.notes[self.info.notes.index(self._note)] = text
        else:
            self.info.notes.append(text)
        self._note = text


def text_batches(specs: list[InputSpec], settings: Settings, tokenizer
                 ) -> tuple[Iterator[dict], CalibrationInfo]:
    """Batches of tokenized text for a checkpoint's inputs, and their record."""
    if settings.calibration:
        raise UsageError(f"--text {settings.text} and --calibration: give one of them")
    if tokenizer is None:
        raise CalibrationError(f"--text {settings.text}: text needs a Hugging Face checkpoint "
                               "folder (or an ONNX folder) with its tokenizer files")
    path = Path(settings.text)
    if not path.is_file():
        raise CalibrationError(f"--text {path}: no such file")
    names = [s.name for s in specs]
    if "input_ids" not in names:
        raise CalibrationError(f"--text {path}: the model takes no input_ids (its inputs are "
                               f"{names})")
    limit = min(settings.max_length, getattr(tokenizer, "model_max_length", None)
                or settings.max_length)
    info = CalibrationInfo(source=f"text:{path}")
    info.note(f"text: tokenized by the checkpoint's tokenizer, padded per batch, truncated to "
              f"{limit} tokens")
    count = PaddingCount(info)

    def feeds():
        for texts in _chunks(read_texts(path, settings.text_field), settings.batch_size,
                             settings.samples):
            batch = _encode(tokenizer, texts, specs, limit, path)
            if not info.shapes:
                info.shapes = {k: list(v.shape) for k, v in batch.items()
                               if k != VALID_POSITIONS}
            yield batch, len(texts)
            count.add(batch[VALID_POSITIONS])

    stream = counted(feeds(), info)
    first = next(stream, None)
    if first is None:
        raise CalibrationError(f"--text {path}: no samples (the file has no non-empty line)")
    return _chain(first, stream), info


def _chain(first: dict, rest: Iterator[dict]) -> Iterator[dict]:
    yield first
    yield from rest


def _encode(tokenizer, texts: list[str], specs: list[InputSpec], limit: int,
            path: Path) -> dict:
    names = [s.name for s in specs]
    try:
        encoded = tokenizer(texts, padding="longest", truncation=True, max_length=limit,
                            return_attention_mask=True,
                            return_token_type_ids="token_type_ids" in names,
                            return_tensors="np")
    except Exception as exc:  # noqa: BLE001 - the tokenizer's own complaint, in one line
        raise CalibrationError(f"--text {path}: the tokenizer failed: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    missing = [n for n in names if n not in encoded]
    if missing:
        raise CalibrationError(f"--text {path}: the tokenizer gives no {missing} (it gives "
                               f"{sorted(encoded)}); the model's inputs are {names}")
    batch = {s.name: np.asarray(encoded[s.name]).astype(_dtype(s)) for s in specs}
    batch[VALID_POSITIONS] = np.asarray(encoded["attention_mask"]).astype(bool)
    return batch


def _dtype(spec: InputSpec):
    return np.int64 if spec.dtype == "unknown" else numpy_dtype(spec.dtype, spec.name)
