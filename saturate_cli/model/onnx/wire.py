"""Where each top-level initializer's raw bytes sit in a serialised ONNX model, read from the
protobuf wire format (ModelProto 7 = graph, GraphProto 5 = initializer, TensorProto 1 = dims,
2 = data_type, 8 = name, 9 = raw_data) without touching the bytes themselves.

Merging follows protobuf's rules (a repeated `graph` field merges, a repeated scalar's last
value wins, `dims` chunks concatenate); anything this reader does not expect (groups, a
truncated field) gives up on the whole file.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
_GRAPH, _INITIALIZER = 7, 5
_DIMS, _DATA_TYPE, _NAME, _RAW = 1, 2, 8, 9
_DATA_LOCATION = 14
_STORED_ELSEWHERE = {3, 4, 5, 6, 7, 10, 11, 13}  # segment, typed fields, external_data


class Span(NamedTuple):
    """One initializer as the file stores it: raw_data at [offset, offset + length)."""

    name: str
    data_type: int
    dims: tuple
    offset: Optional[int]  # None: no raw_data
    length: int
    plain: bool  # only raw_data carries the values (no typed field, segment or external data)


class _Malformed(Exception):
    pass


def _varint(buf, i: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= end or shift > 63:
            raise _Malformed
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(buf, start: int, end: int):
    """(field number, wire type, value or payload start, payload end) of each field."""
    for number, kind, _, a, b in _located(buf, start, end):
        yield number, kind, a, b


def _located(buf, start: int, end: int):
    """(field number, wire type, tag offset, value or payload start, field end) of each
    field."""
    i = start
    while i < end:
        at = i
        tag, i = _varint(buf, i, end)
        number, kind = tag >> 3, tag & 7
        if kind == _VARINT:
            value, i = _varint(buf, i, end)
            yield number, kind, at, value, i
            continue
        if kind == _LEN:
            size, i = _varint(buf, i, end)
        elif kind in (_FIXED64, _FIXED32):
            size = 8 if kind == _FIXED64 else 4
        else:  # groups: not in ONNX's schema
            raise _Malformed
        if i + size > end:
            raise _Malformed
        yield number, kind, at, i, i + size
        i += size


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _tensor(buf, start: int, end: int) -> Span:
    name, data_type, dims, raw, plain = "", 0, [], None, True
    for number, kind, a, b in _fields(buf, start, end):
        if number == _NAME and kind == _LEN:
            name = bytes(buf[a:b]).decode("utf-8", "replace")
        elif number == _DATA_TYPE and kind == _VARINT:
            data_type = a
        elif number == _DIMS and kind == _VARINT:
            dims.append(_signed(a))
        elif number == _DIMS and kind == _LEN:  # packed
            i = a
            while i < b:
                value, i = _varint(buf, i, b)
                dims.append(_signed(value))
        elif number == _RAW and kind == _LEN:
            raw = (a, b - a)
        elif number in _STORED_ELSEWHERE or (number == _DATA_LOCATION
                                              and (kind != _VARINT or a != 0)):
            plain = False
    offset, length = raw if raw is not None else (None, 0)
    return Span(name, data_type, tuple(dims), offset, length, plain and raw is not None)


def initializer_spans(buf) -> Optional[list[Span]]:
    """The top-level initializers of the model serialised in `buf` (bytes or an mmap), in the
    order a parser reads them; None when the bytes are not a model this reader follows."""
    try:
        found = []
        for number, kind, a, b in _fields(buf, 0, len(buf)):
            if number == _GRAPH and kind == _LEN:
                found.extend(_tensor(buf, c, d) for field, wire, c, d in _fields(buf, a, b)
                             if field == _INITIALIZER and wire == _LEN)
        return found
    except _Malformed:
        return None


def without_raw(buf, drop: set) -> Optional[bytes]:
    """The model serialised in `buf` with every raw_data field of the top-level initializers
    numbered in `drop` (their order in `initializer_spans`) left out; everything else byte for
    byte. None when the bytes are not a model this reader follows."""
    try:
        out, index = [], 0
        for number, kind, at, a, b in _located(buf, 0, len(buf)):
            if number != _GRAPH or kind != _LEN:
                out.append(buf[at:b])
                continue
            parts, kept = [], a
            for field, wire, t_at, c, d in _located(buf, a, b):
                if field != _INITIALIZER or wire != _LEN:
                    continue
                if index in drop:
                    parts.append(buf[kept:t_at])
                    parts.append(_message(_INITIALIZER, b"".join(
                        buf[f_at:f_end] for f, _, f_at, _, f_end in _located(buf, c, d)
                        if f != _RAW)))
                    kept = d
                index += 1
            parts.append(buf[kept:b])
            out.append(_message(_GRAPH, b"".join(parts)))
        return b"".join(out)
    except _Malformed:
        return None


def _message(number: int, payload: bytes) -> bytes:
    return _encode(number << 3 | _LEN) + _encode(len(payload)) + payload


def _encode(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
