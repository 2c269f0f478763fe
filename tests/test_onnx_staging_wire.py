"""The wire-format reader that locates initializers' raw bytes in a model file
(onnx/wire.py), checked against what protobuf's own parser makes of the same bytes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from wire_bytes import field as _field
from wire_bytes import varint as _varint
from conftest import SAMPLES
from onnx import TensorProto, helper, numpy_helper

from saturate_cli.model.onnx.wire import initializer_spans


def _agrees(data: bytes) -> list:
    """Each located raw_data span holds exactly what the parser put in the tensor."""
    spans = initializer_spans(data)
    parsed = onnx.ModelProto.FromString(data).graph.initializer
    assert spans is not None and [s.name for s in spans] == [t.name for t in parsed]
    for s, t in zip(spans, parsed):
        assert (s.data_type, s.dims) == (t.data_type, tuple(t.dims))
        assert s.plain == t.HasField("raw_data")
        if s.plain:
            assert data[s.offset:s.offset + s.length] == t.raw_data
    return spans


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.onnx")), ids=lambda p: p.stem)
def test_every_sample_model_is_located_as_the_parser_reads_it(path):
    assert _agrees(path.read_bytes())


def _model(*tensors) -> onnx.ModelProto:
    graph = helper.make_graph([], "g", [], [], list(tensors))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_typed_fields_are_not_raw_bytes():
    typed = helper.make_tensor("t", TensorProto.FLOAT, [2, 3], [1.0] * 6)
    raw = numpy_helper.from_array(np.arange(6, dtype=np.int64).reshape(3, 2), "r")
    spans = _agrees(_model(typed, raw).SerializeToString())
    assert [s.plain for s in spans] == [False, True]


def test_protobuf_merging_rules_are_followed():
    """A second graph field merges into the first; within a tensor a repeated name or
    raw_data keeps its last value and packed dims chunks concatenate."""
    base = _model(numpy_helper.from_array(np.ones((4, 4), np.float32), "a")).SerializeToString()
    tensor = (_field(8, b"first") + _varint(1 << 3) + _varint(2)  # name, dims 2 (unpacked)
              + _field(1, _varint(3) + _varint(4))  # packed dims 3, 4
              + _varint(2 << 3) + _varint(TensorProto.UINT8)
              + _field(9, bytes(24)) + _field(8, b"b") + _field(9, bytes(range(24))))
    data = base + _field(7, _field(5, tensor))
    spans = _agrees(data)
    assert [(s.name, s.dims) for s in spans] == [("a", (4, 4)), ("b", (2, 3, 4))]
    assert data[spans[1].offset:spans[1].offset + 24] == bytes(range(24))


@pytest.mark.parametrize("cut", [1, 7, 40])
def test_a_truncated_or_foreign_file_gives_up(cut):
    data = _model(numpy_helper.from_array(np.ones(16, np.float32), "a")).SerializeToString()
    assert initializer_spans(data[:-cut]) is None
    assert initializer_spans(data + _varint(3 << 3 | 3)) is None  # a group: not ONNX
    assert initializer_spans(b'ir_version: 8\ngraph { name: "g" }\n') is None  # text format
