"""An ONNX model as a ModelHandle: sites, producers, and in-graph measurement with onnxruntime.

This module (like every onnx_* module) must never import torch.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np
import onnx

from saturate_cli.activations import get_kind
from saturate_cli.errors import first_line, CalibrationError, ModelLoadError
from saturate_cli.model.handle import Batch, InputSpec, NotCovered, Progress, Site
from saturate_cli.model.onnx_branches import measurable_ifs, read_conditions, specialise
from saturate_cli.model.onnx_graph import GraphView
from saturate_cli.model.onnx_instrument import SiteOutputs, instrumented
from saturate_cli.model.onnx_load import read_model, weightless
from saturate_cli.model.onnx_session import Staged
from saturate_cli.model.onnx_producer import find_producer, unit_axis
from saturate_cli.model.onnx_sites import discover, is_float
from saturate_cli.stats.reductions import Reductions, sample_step, stats_from_reductions
from saturate_cli.stats.site_stats import SiteStats, stats_of_array


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


def _vocab(g: GraphView, name: str) -> Optional[int]:
    """Rows of the embedding table an integer input indexes (Gather on an initializer)."""
    for node in g.only(name, "Gather"):
        if len(node.input) == 2 and node.input[1] == name:
            table = g.initializers.get(node.input[0])
            if table is not None and table.dims:
                return int(table.dims[0])
    return None


class OnnxModel:
    """A loaded ONNX model (ModelHandle)."""

    format = "onnx"

    def __init__(self, path: Path, memory_budget: int, threads: int = 0,
                 providers: Optional[list[str]] = None, model: Optional[onnx.ModelProto] = None):
        self.path = str(path)
        self.model = model if model is not None else read_model(path, memory_budget)
        self._budget = memory_budget
        self._reloadable = model is None  # the file can give the weights back (see _measure)
        self.threads = threads
        self.providers = providers or ["CPUExecutionProvider"]
        self.notes: list[str] = []
        self._untaken: list[NotCovered] = []
        self._analyse()
        self.inputs = _input_specs(self.graph)

    @property
    def has_branches(self) -> bool:
        """Activations inside top-level If branches wait for data to pick the branch."""
        self._reload()
        return bool(measurable_ifs(self.model))

    def _analyse(self) -> None:
        """Sites, producers and what is not covered, for the current graph."""
        self.graph = GraphView(self.model)
        self._types, ranks = _value_types(self.model)
        raw, self.not_covered = discover(self.graph)
        self.not_covered.extend(self._untaken)
        self.sites: list[Site] = []
        for r in raw:
            if not is_float(self._types.get(r.input)):
                self.not_covered.append(NotCovered(r.name, r.op, "input is not floating point"))
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
        return Site(r.name, r.input, r.op, r.kind, params, producer, axis, softmax_axes, rank)

    # --- measurement -----------------------------------------------------------------------

    def collect(self, batches: Iterable[Batch], tau: float, softmax_tau: float,
                progress: Optional[Progress] = None) -> dict[str, SiteStats]:
        """Stream the batches through the instrumented model; merge statistics per site."""
        stream = iter(batches)
        first = next(stream, None)
        if first is None:
            raise CalibrationError(f"{self.path}: no calibration data")
        self._reload()
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
        try:
            return staged.open(options, self.providers)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            raise ModelLoadError(f"{self.path}: onnxruntime cannot run this model: "
                                 f"{first_line(exc)}") from None

    def _run(self, session, names: list[str], batch: Batch) -> list:
        try:
            return session.run(names, _ort_feed(batch))
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

    def _tails(self, site: Site, tau: float):
        t = get_kind(site.kind).tails(site.params, tau)
        return t.low, t.high

    def _measure(self, batches: Iterator[Batch], tau, softmax_tau, progress) -> dict[str, SiteStats]:
        plan = [(s, *self._tails(s, tau)) for s in self.sites]
        with instrumented(self.model, plan, self._types, self.graph.opset, softmax_tau) as (
                model, outputs):
            # the file gives the weights back if needed: staging may empty the model
            staged = self._stage(model, consume=self._reloadable)
        del model
        with staged:
            if staged.consumed:  # Python's copy of the weights goes before onnxruntime loads
                self.model = self.graph = None  # its own (BERT-size peak -130 MB)
            session = self._open(staged)
        names = [n for so in outputs.values() for n in so.names()]
        totals = {s.name: SiteStats() for s in self.sites}
        raw_session = None
        done, self.interrupted = dict(totals), False  # done: totals after the last whole batch
        try:
            for batch in batches:
                values = dict(zip(names, self._run(session, names, batch)))
                redo = []
                for site, low, high in plan:
                    stats = _batch_stats(values, outputs[site.name])
                    if stats is None:
                        redo.append((site, low, high))
                    else:
                        totals[site.name] = totals[site.name].merge(stats)
                if redo:  # NaN/Inf reached these sites: measure them exactly from the raw tensors
                    raw_session = raw_session or self._raw_session()
                    raw = dict(zip([s.input for s in self.sites],
                                   self._run(raw_session, [s.input for s in self.sites], batch)))
                    for site, low, high in redo:
                        totals[site.name] = totals[site.name].merge(
                            _array_stats(raw[site.input], site, low, high, softmax_tau))
                done = dict(totals)
                if progress:
                    progress(1)
        except KeyboardInterrupt:  # Ctrl-C: report the batches measured so far (partial)
            self.interrupted = True
        return done

    def _reload(self) -> None:
        """Read the model again if an earlier measurement handed its weights to onnxruntime."""
        if self.model is None:
            self.model = read_model(Path(self.path), self._budget)
            self.graph = GraphView(self.model)

    def _raw_session(self):
        self._reload()
        raw = onnx.ModelProto()
        raw.CopyFrom(self.model)
        del raw.graph.output[:]
        for name in dict.fromkeys(s.input for s in self.sites):
            raw.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
        return self._session(raw)


def _ort_feed(batch: Batch) -> dict:
    """onnxruntime takes numpy arrays, except bfloat16, which goes in as a typed OrtValue."""
    if not any(a.dtype.name == "bfloat16" for a in batch.values()):
        return batch
    import onnxruntime as ort

    return {k: ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
        np.ascontiguousarray(a).view(np.uint16), onnx.TensorProto.BFLOAT16)
        if a.dtype.name == "bfloat16" else a for k, a in batch.items()}


def _batch_stats(values: dict, so: SiteOutputs) -> Optional[SiteStats]:
    """One batch's statistics from the graph's outputs; None when non-finite values appeared."""
    def opt(name):
        return values[name] if name else None

    return stats_from_reductions(Reductions(
        size=int(values[so.size]), total=float(values[so.total]),
        total_sq=float(values[so.total_sq]), min=float(values[so.min]),
        max=float(values[so.max]), sample=np.ravel(values[so.sample]), unit_low=opt(so.unit_low),
        unit_high=opt(so.unit_high), rows=opt(so.rows), collapsed=opt(so.collapsed),
        row_sample=opt(so.row_sample), unit_sum=opt(so.unit_sum),
    ))


def _array_stats(x: np.ndarray, site: Site, low, high, softmax_tau: float) -> SiteStats:
    axes = site.softmax_axes
    if axes is not None and len(axes) > 1:  # opset < 13: softmax over the flattened tail
        x_rows = x.reshape(x.shape[: axes[0]] + (-1,))
        rows = stats_of_array(x_rows, None, None, None, -1, softmax_tau)
        base = stats_of_array(x, low, high, site.unit_axis, None, softmax_tau,
                              sample_step(x.size))
        return replace(base, rows=rows.rows, collapsed_rows=rows.collapsed_rows,
                       row_sample=rows.row_sample)
    return stats_of_array(x, low, high, site.unit_axis, axes[0] if axes else None,
                          softmax_tau, sample_step(x.size))

