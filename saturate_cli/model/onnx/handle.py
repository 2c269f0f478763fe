"""An ONNX model as a ModelHandle: sites, producers, and in-graph measurement with onnxruntime.

This module (like every onnx_* module) must never import torch.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np
import onnx

from saturate_cli.activations import get_kind
from saturate_cli.errors import first_line, CalibrationError, ModelLoadError
from saturate_cli.model.handle import Batch, InputSpec, NotCovered, Progress, Site
from saturate_cli.model.onnx.branches import measurable_ifs, read_conditions, specialise
from saturate_cli.model.onnx.graph import VALUE_MOVES, GraphView
from saturate_cli.model.onnx.engine import (PLAIN, OrtSession, first_working, missing_kernel,
                                            open_with)
from saturate_cli.model.onnx.instrument import instrumented
from saturate_cli.model.onnx.load import read_model, weightless
from saturate_cli.model.onnx.measure import (GRAPH_STATS_OPSET, Observed, Plan, array_batch,
                                             exposed_names, graph_batch)
from saturate_cli.model.onnx.session import Staged
from saturate_cli.model.onnx.producer import find_producer, unit_axis
from saturate_cli.model.onnx.sites import discover, is_measurable
from saturate_cli.stats.site_stats import SiteStats


def _value_types(model: onnx.ModelProto) -> tuple[dict[str, int], dict[str, int]]:
    """Element type and rank of every tensor shape inference can tell."""
    try:
        inferred = onnx.shape_inference.infer_shapes(weightless(model), strict_mode=False)
    except Exception:  # noqa: BLE001 - inference is best effort
        inferred = model
    types, ranks = {}, {}
    g = inferred.graph
    for vi in itertools.chain(g.input, g.value_info, g.output):
        t = vi.type.tensor_type
        if t.elem_type:
            types[vi.name] = t.elem_type
        if t.HasField("shape"):
            ranks[vi.name] = len(t.shape.dim)
    for init in g.initializer:
        types[init.name] = init.data_type
        ranks[init.name] = len(init.dims)
    return types, ranks


def _input_specs(g: GraphView) -> list[InputSpec]:
    specs = []
    for vi in g.graph.input:
        if vi.name in g.initializers:
            continue
        t = vi.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                     for d in t.shape.dim)
        try:
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)).name
        except Exception:  # noqa: BLE001
            dtype = "unknown"
        specs.append(InputSpec(vi.name, dims, dtype, _vocab(g, vi.name)))
    return specs


_SHAPE_ONLY = {*VALUE_MOVES, "Flatten", "Expand", "Slice", "Concat", "Tile", "CastLike"}


def _vocab(g: GraphView, name: str, depth: int = 8) -> Optional[int]:
    """Rows of the embedding table an integer input indexes: a Gather on a constant table,
    reached directly or through ops that only move values (GPT-2 exports reshape the ids
    first). The smallest table wins when several are indexed."""
    found, frontier, seen = [], [name], {name}
    for _ in range(depth):
        following = []
        for tensor in frontier:
            for node in g.consumers.get(tensor, []):
                if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == tensor:
                    rows = _table_rows(g, node.input[0])
                    if rows is not None:
                        found.append(rows)
                elif node.op_type in _SHAPE_ONLY and node.input and node.input[0] == tensor:
                    following.extend(o for o in node.output if o and o not in seen)
        seen.update(following)
        frontier = following
    return min(found) if found else None


def _table_rows(g: GraphView, table: str) -> Optional[int]:
    """Rows of a constant table: an initializer's declared dims (not its decoded values, which
    can be hundreds of MB), else a Constant node's value."""
    init = g.initializers.get(table)
    if init is not None:
        return int(init.dims[0]) if init.dims else None
    value = g.constant(table)
    return int(value.shape[0]) if value is not None and value.ndim else None


class OnnxModel:
    """A loaded ONNX model (ModelHandle)."""

    format = "onnx"

    def __init__(self, path: Path, memory_budget: int, threads: int = 0,
                 providers: Optional[list[str]] = None, model: Optional[onnx.ModelProto] = None):
        self.path = str(path)
        self.notes: list[str] = []
        self.model = model if model is not None else read_model(path, memory_budget, self.notes)
        self._budget = memory_budget
        self._reloadable = model is None  # the file can give the weights back (see _measure)
        self.threads = threads
        self.providers = providers or ["CPUExecutionProvider"]
        self.interrupted = False  # set by collect when Ctrl-C stopped it
        self.engine = PLAIN  # onnx_engine: may fall back when onnxruntime lacks a kernel
        self._first: Optional[Batch] = None  # the first calibration batch: fallbacks try it
        self._untaken: list[NotCovered] = []
        self._analyse()
        self.inputs = _input_specs(self.graph)

    @property
    def has_branches(self) -> bool:
        """Activations inside top-level If branches wait for data to pick the branch."""
        self._reload()
        return bool(measurable_ifs(self.model))

    def estimate_peak(self, shapes: dict) -> Optional[int]:
        """Bytes a run on inputs of these shapes may need (onnx/memory.py)."""
        from saturate_cli.model.onnx.memory import estimate_peak

        self._reload()
        return estimate_peak(self.model, shapes)

    def _analyse(self) -> None:
        """Sites, producers and what is not covered, for the current graph."""
        self.graph = GraphView(self.model)
        self.opset = self.graph.opset
        self._types, ranks = _value_types(self.model)
        raw, self.not_covered = discover(self.graph)
        self.not_covered.extend(self._untaken)
        self.sites: list[Site] = []
        for r in raw:
            if not is_measurable(self._types.get(r.input)):
                self.not_covered.append(NotCovered(r.name, r.op, "input is not a number type"))
                continue
            producer = find_producer(self.graph, r.input)
            self.sites.append(self._site(r, producer, ranks.get(r.input)))

    def _site(self, r, producer, rank: Optional[int]) -> Site:
        params = dict(r.params)
        softmax_axes = None
        if get_kind(r.kind).metric == "rows" and rank is not None:
            axis = params.get("axis", -1) % max(rank, 1)
            softmax_axes = (axis,) if self.graph.opset >= 13 else tuple(range(axis, rank))
        axis = None if softmax_axes is not None or get_kind(r.kind).metric == "rows" else \
            unit_axis(producer, rank)
        low_from, high_from, slope_from = r.dynamic
        return Site(r.name, r.input, r.op, r.kind, params, producer, axis, softmax_axes, rank,
                    low_from, high_from, slope_from)

    # --- measurement -----------------------------------------------------------------------

    def collect(self, batches: Iterable[Batch], tau: float, softmax_tau: float,
                progress: Optional[Progress] = None) -> dict[str, SiteStats]:
        """Stream the batches through the instrumented model; merge statistics per site."""
        stream = iter(batches)
        first = next(stream, None)
        if first is None:
            raise CalibrationError(f"{self.path}: no calibration data")
        self._reload()
        self._first = first
        self._specialise(first)
        if any(s.rank is None for s in self.sites):
            self._probe_ranks(first)
        return self._measure(itertools.chain([first], stream), tau, softmax_tau, progress)

    def _specialise(self, batch: Batch, rounds: int = 4) -> None:
        """Replace measurable If nodes by the branch this batch takes (nested ones too)."""
        for _ in range(rounds):
            ifs = measurable_ifs(self.model)
            if not ifs:
                return
            taken = read_conditions(self.model, ifs, lambda m, names: self._run(
                self._session(m), names, batch))
            model, untaken = specialise(self.model, ifs, taken, self.graph.node_name)
            if len(model.graph.node) == len(self.model.graph.node) and not untaken:
                return  # nothing could be inlined
            self.model, self._untaken = model, self._untaken + untaken
            self._reloadable = False
            self.notes.extend(f"If '{self.graph.node_name(n)}': measured its "
                              f"{'then' if t else 'else'} branch, the one the first batch takes"
                              for n, t in zip(ifs, taken))
            self._analyse()

    def _session(self, model: onnx.ModelProto):
        """A session for `model` under the current engine; when onnxruntime lacks a kernel the
        model needs, the first fallback engine that runs it (onnx/engine.py), with a note."""
        try:
            return open_with(self.engine, model, self._ort_session)
        except Exception as exc:  # noqa: BLE001 - runtimes and converters raise many types
            refusal = exc
        if self.engine != PLAIN or not missing_kernel(str(refusal)):
            raise _load_error(self.path, refusal)
        try:
            outputs = [o.name for o in model.graph.output]
            check = None if self._first is None else (
                lambda session: session.run(outputs, self._first))
            engine, session, _ = first_working(model, self.opset, self._ort_session, check)
        except ValueError as why:
            raise ModelLoadError(f"{self.path}: onnxruntime cannot run this model: "
                                 f"{first_line(refusal)} (fallbacks: {why})") from None
        self.engine = engine
        slower = ", slower" if engine.runtime == "reference" else ""
        self.notes.append(f"onnxruntime cannot run this model as it is ({first_line(refusal)}); "
                          f"measured with {engine.describe()}{slower}")
        return session

    def _ort_session(self, model: onnx.ModelProto):
        with self._stage(model) as staged:
            return self._open(staged)

    def _stage(self, model: onnx.ModelProto, consume: bool = False) -> Staged:
        try:
            return Staged(model, consume)
        except Exception as exc:  # noqa: BLE001 - protobuf and the file system raise many types
            raise ModelLoadError(f"{self.path}: cannot serialise the model for onnxruntime: "
                                 f"{first_line(exc)}") from None

    def _open(self, staged: Staged):
        import onnxruntime as ort

        ort.set_default_logger_severity(4)  # failures reach the user as one line, not ORT logs
        options = ort.SessionOptions()
        options.log_severity_level = 4
        # The memory pattern plans one block per input shape; with the statistics nodes its
        # reuse is poor (ResNet-18, batch 8: +220 MB against +114 MB without), at no speed gain.
        # Priority order runs each site's statistics nodes (placed right after the site) as
        # soon as they can run, so activation inputs die early (BERT-size peak -58 MB).
        options.enable_mem_pattern = False
        options.execution_order = ort.ExecutionOrder.PRIORITY_BASED
        if self.threads:
            options.intra_op_num_threads = self.threads
        return staged.open(options, self.providers)

    def _run(self, session, names: list[str], batch: Batch) -> list:
        try:
            return session.run(names, batch)
        except Exception as exc:  # noqa: BLE001
            shapes = {k: list(np.shape(v)) for k, v in batch.items()}
            raise CalibrationError(f"{self.path}: inference failed on inputs of shapes {shapes} "
                                   f"({first_line(exc)}); give --input-shape NAME=DIMS or "
                                   "--calibration data the model accepts") from None

    def _probe_ranks(self, batch: Batch) -> None:
        """Learn ranks shape inference could not tell by running one batch for shapes only."""
        probe = onnx.ModelProto()
        probe.CopyFrom(self.model)
        del probe.graph.output[:]
        names = []
        for i, site in enumerate(self.sites):
            name = f"__saturate_probe_{i}"
            probe.graph.node.append(onnx.helper.make_node("Shape", [site.input], [name]))
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
            names.append(name)
        shapes = self._run(self._session(probe), names, batch)
        by_name = {r.name: r for r in discover(self.graph)[0]}
        self.sites = [
            self._site(by_name[s.name], s.producer, len(shape)) if s.name in by_name else s
            for s, shape in zip(self.sites, shapes)
        ]

    def _plan(self, site: Site, tau: float) -> Plan:
        t = get_kind(site.kind).tails(site.params, tau)
        low = 0.0 if site.slope_from else t.low  # PRelu: its slopes decide where x <= 0 is flat
        return Plan(site, low, t.high)

    def _measure(self, batches: Iterator[Batch], tau, softmax_tau, progress) -> dict[str, SiteStats]:
        plans = [self._plan(s, tau) for s in self.sites]
        observed = Observed()
        measure, refused = None, None
        if self.engine == PLAIN and self.opset >= GRAPH_STATS_OPSET:
            try:
                measure = self._graph_measurer(plans, tau, softmax_tau, observed)
            except ModelLoadError as exc:
                self._reload()
                refused = exc
        if measure is None:
            measure = self._exposed_measurer(plans, tau, softmax_tau, observed)
            if refused is not None and self.engine == PLAIN:  # the model ran, our nodes did not
                self.notes.append(f"the statistics nodes cannot run with this model "
                                  f"({first_line(refused)}): site inputs measured as whole "
                                  "tensors")
        totals = {s.name: SiteStats() for s in self.sites}
        done, self.interrupted = dict(totals), False  # done: totals after the last whole batch
        try:
            for batch in batches:
                for name, stats in measure(batch).items():
                    totals[name] = totals[name].merge(stats)
                done = dict(totals)
                if progress:
                    progress(1)
        except KeyboardInterrupt:  # Ctrl-C: report the batches measured so far (partial)
            self.interrupted = True
        self.sites = observed.apply(self.sites, self.notes)
        return done

    def _graph_measurer(self, plans: list[Plan], tau, softmax_tau, observed: Observed):
        """Per batch: the in-graph reductions, and exact numpy for sites that met NaN/Inf."""
        plan_tuples = [(p.site, p.low, p.high) for p in plans]
        with instrumented(self.model, plan_tuples, self._types, self.opset, softmax_tau,
                          tau) as (model, outputs):
            # the file gives the weights back if needed: staging may empty the model
            staged = self._stage(model, consume=self._reloadable)
        del model
        with staged:
            if staged.consumed:  # Python's copy of the weights goes before onnxruntime loads
                self.model = self.graph = None  # its own (BERT-size peak -130 MB)
            session = OrtSession(self._open_checked(staged))
        names = [n for so in outputs.values() for n in so.names()]
        exposed = []

        def measure(batch: Batch) -> dict[str, SiteStats]:
            values = dict(zip(names, self._run(session, names, batch)))
            out, redo = {}, []
            for plan in plans:
                stats = graph_batch(values, plan, outputs[plan.site.name], observed)
                if stats is None:
                    redo.append(plan)
                else:
                    out[plan.site.name] = stats
            if redo:  # NaN/Inf reached these sites: measure them exactly from the raw tensors
                exposed[:] = exposed or [self._exposed_measurer(plans, tau, softmax_tau,
                                                                observed)]
                out.update(exposed[0](batch, only={p.site.name for p in redo}))
            return out

        return measure

    def _open_checked(self, staged: Staged):
        try:
            return self._open(staged)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            raise _load_error(self.path, exc) from None

    def _exposed_measurer(self, plans: list[Plan], tau, softmax_tau, observed: Observed):
        """Per batch: the site inputs (and run-time thresholds) as outputs, numpy statistics
        (of the plans' sites, or of those named in `only`)."""
        self._reload()
        names = exposed_names([p.site for p in plans])
        raw_model = onnx.ModelProto()
        raw_model.CopyFrom(self.model)
        del raw_model.graph.output[:]
        raw_model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
        session = self._session(raw_model)
        del raw_model
        constant = self.graph.constant

        def measure(batch: Batch, only=None) -> dict[str, SiteStats]:
            raw = dict(zip(names, self._run(session, names, batch)))
            return {p.site.name: array_batch(raw, p, softmax_tau, tau, observed, constant)
                    for p in plans if only is None or p.site.name in only}

        return measure

    def _reload(self) -> None:
        """Read the model again if an earlier measurement handed its weights to onnxruntime."""
        if self.model is None:
            self.model = read_model(Path(self.path), self._budget)
            self.graph = GraphView(self.model)


def _load_error(path: str, exc: BaseException) -> ModelLoadError:
    if isinstance(exc, ModelLoadError):
        return exc
    return ModelLoadError(f"{path}: onnxruntime cannot run this model: {first_line(exc)}")
