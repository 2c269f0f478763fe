"""The per-batch measurers of an ONNX model: in-graph reductions, or exposed site inputs.

Each factory opens its session once and returns `measure(batch) -> {site: SiteStats}` for one
batch. The in-graph one is the fast path; sites that meet NaN/Inf in a batch are measured
again, exactly, by an exposed-tensor measurer built on first need.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
import onnx

from saturate_cli.model.onnx.engine import OrtSession
from saturate_cli.model.onnx.instrument import instrumented
from saturate_cli.model.onnx.measure import Observed, Plan, array_batch, exposed_names, \
    graph_batch
from saturate_cli.model.onnx.runner import Runner
from saturate_cli.model.mask import kept_unit_axis, token_wise
from saturate_cli.stats.site_stats import SiteStats
from saturate_cli.types import Batch

Measure = Callable[..., dict[str, SiteStats]]


def graph_measurer(runner: Runner, model: onnx.ModelProto, plans: list[Plan],
                   known: tuple[dict, dict], opset: int, tau: float, softmax_tau: float,
                   observed: Observed, consume: bool, release: Callable[[], None],
                   exact: Callable[[], Measure]) -> Measure:
    """In-graph reductions per batch. `known`: the element types and dims shape inference
    told. `consume`: the model's weights may move out to the staged file, and `release()` then
    drops the caller's copy before onnxruntime loads its own; `exact()` builds the
    exposed-tensor measurer for batches whose in-graph sums cannot be trusted."""
    plan_tuples = [(p.site, p.low, p.high) for p in plans]
    types, dims = known
    with instrumented(model, plan_tuples, types, opset, softmax_tau, tau, dims) as (graph,
                                                                                     outputs):
        staged = runner.stage(graph, consume=consume)
    del graph, model  # the protobuf's memory goes only once no name holds it
    with staged:
        if staged.consumed:  # Python's copy of the weights goes before onnxruntime loads
            release()  # its own (BERT-size peak -130 MB)
        session = OrtSession(runner.open_checked(staged))
    names = [n for so in outputs.values() for n in so.names()]
    fallback: list[Measure] = []

    def measure(batch: Batch) -> dict[str, SiteStats]:
        values = dict(zip(names, runner.run(session, names, batch)))
        out, redo = {}, []
        for plan in plans:
            stats = graph_batch(values, plan, outputs[plan.site.name], observed)
            if stats is None:
                redo.append(plan)
            else:
                out[plan.site.name] = stats
        if redo:  # NaN/Inf or untrusted sums at these sites: measured exactly from raw tensors
            fallback[:] = fallback or [exact()]
            out.update(fallback[0](batch, only={p.site.name for p in redo}))
        return out

    return measure


def exposed_measurer(runner: Runner, model: onnx.ModelProto, plans: list[Plan], tau: float,
                     softmax_tau: float, observed: Observed, constant) -> Measure:
    """Per batch: the site inputs (and run-time thresholds) as outputs, numpy statistics
    (of the plans' sites, or of those named in `only`)."""
    names = exposed_names([p.site for p in plans])
    raw_model = onnx.ModelProto()
    raw_model.CopyFrom(model)
    del raw_model.graph.output[:]
    raw_model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
    session = runner.session(raw_model)
    del raw_model

    def measure(batch: Batch, only=None, valid=None) -> dict[str, SiteStats]:
        raw = dict(zip(names, runner.run(session, names, batch)))
        return {p.site.name: array_batch(*_valid_only(raw, p, valid), softmax_tau, tau,
                                         observed, constant)
                for p in plans if only is None or p.site.name in only}

    return measure


def _valid_only(raw: dict, plan: Plan, valid) -> tuple[dict, Plan]:
    """A token-wise site's input at the valid positions only (text batches with padding:
    model/mask.py), its units then on the last of two axes."""
    site, x = plan.site, raw.get(plan.site.input)
    if valid is None or x is None or not token_wise(np.shape(x), np.shape(valid),
                                                    site.unit_axis, site.softmax_axes is not None):
        return raw, plan
    kept = replace(site, unit_axis=kept_unit_axis(site.unit_axis, np.ndim(x)))
    return {**raw, site.input: np.asarray(x)[valid]}, replace(plan, site=kept)
