"""The graphs the per-op benchmarks run: a benchmark model as saturate reads it, the
instrumented graph saturate builds for it, and the session options of either."""

from __future__ import annotations

import models


def instrumented(name: str):
    """(model, instrumented bytes, their statistics outputs, site inputs) for a benchmark
    model, built as `saturate inspect` builds them (onnx/instrument.py); `model` has its
    weights back in memory (serialisable whole)."""
    from saturate_cli.activations import TailBook
    from saturate_cli.model.onnx.handle import OnnxModel
    from saturate_cli.model.onnx.instrument import instrumented as with_statistics
    from saturate_cli.model.onnx.lazy import materialise

    handle = OnnxModel(models.onnx_path(name), 2**40)
    materialise(handle.model)
    book = TailBook(0.05)
    plan = [(p.site, p.low, p.high) for p in (handle._plan(s, book) for s in handle.sites)]
    with with_statistics(handle.model, plan, handle._types, handle.graph.opset, 0.01, 0.05,
                         handle._dims) as (m, outs):
        inst = m.SerializeToString()
    names = [n for so in outs.values() for n in so.names()]
    return handle.model, inst, names, [site.input for site, *_ in plan]


def session_options(ours: bool):
    """onnxruntime's defaults, or (`ours`) the options saturate's runner sets
    (onnx/runner.py)."""
    import onnxruntime as ort

    from saturate_cli.model.onnx import arena

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if ours:
        options.enable_mem_pattern = False
        options.execution_order = ort.ExecutionOrder.PRIORITY_BASED
        arena.use(options)
    return options
