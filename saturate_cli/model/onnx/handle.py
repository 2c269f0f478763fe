"""An ONNX model as a ModelHandle: its sites, and one batch at a time measured in the graph.

Reading and analysing the graph is onnx/analysis.py, sessions and engines onnx/runner.py, the
per-batch measurers onnx/measurers.py; this class holds them together. It must never import
torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import onnx

from saturate_cli.activations import TailBook
from saturate_cli.model.onnx.analysis import analyse, input_specs, site_of
from saturate_cli.model.onnx.branches import measurable_ifs, read_conditions, specialise
from saturate_cli.model.onnx.engine import PLAIN
from saturate_cli.model.onnx.graph import GraphView
from saturate_cli.model.mask import strip
from saturate_cli.model.onnx.lazy import materialise
from saturate_cli.model.onnx.load import read_model
from saturate_cli.model.onnx.measure import GRAPH_STATS_OPSET, Observed, Plan
from saturate_cli.model.onnx.measurers import Measure, exposed_measurer, graph_measurer
from saturate_cli.model.onnx.runner import Runner
from saturate_cli.model.onnx.sites import discover
from saturate_cli.errors import ModelLoadError, first_line
from saturate_cli.stats.site_stats import SiteStats
from saturate_cli.types import Batch, NotCovered, Site


class OnnxModel:
    """A loaded ONNX model (ModelHandle)."""

    format = "onnx"

    def __init__(self, path: Path, memory_budget: int, threads: int = 0,
                 providers: Optional[list[str]] = None, model: Optional[onnx.ModelProto] = None):
        self.path = str(path)
        self.sha256: Optional[str] = None
        self.tokenizer = None  # an Optimum folder's (onnx/optimum.py)
        self.notes: list[str] = []
        self.model = model if model is not None else read_model(path, memory_budget, self.notes,
                                                                lazy=True)
        self._budget = memory_budget
        self._reloadable = model is None  # the file can give the weights back (see prepare)
        self._untaken: list[NotCovered] = []
        self._analyse()
        self.runner = Runner(self.path, self.opset, self.notes, threads, providers)
        self.inputs = input_specs(self.graph)
        self._measure: Optional[Measure] = None
        self._masked: Optional[Measure] = None  # built for the first batch with padding
        self._observed = Observed()
        self._sizes: dict = {}  # tensor sizes at the latest input shapes asked about

    @property
    def engine(self):
        """The runtime measuring this model (onnx/engine.py)."""
        return self.runner.engine

    @property
    def has_branches(self) -> bool:
        """Activations inside top-level If branches wait for data to pick the branch."""
        self._reload()
        return bool(measurable_ifs(self.model))

    def estimate_peak(self, shapes: dict) -> Optional[int]:
        """Bytes a run on inputs of these shapes may need (onnx/memory.py)."""
        from saturate_cli.model.onnx.memory import estimate_peak

        self._reload()
        return estimate_peak(self.model, shapes, self._sizes_at(shapes))

    def largest_site_input(self, shapes: dict) -> Optional[int]:
        """Bytes of the largest site input at these input shapes (None if none is known)."""
        sizes = self._sizes_at(shapes)
        return max((sizes[s.input] for s in self.sites if s.input in sizes), default=None)

    def _sizes_at(self, shapes: dict) -> dict:
        """onnx/memory.tensor_sizes at these input shapes (one shape inference per shapes)."""
        from saturate_cli.model.onnx.memory import tensor_sizes

        key = tuple(sorted((k, tuple(v)) for k, v in shapes.items()))
        if key not in self._sizes:
            self._reload()
            self._sizes = {key: tensor_sizes(self.model, shapes)}  # the latest shapes only
        return self._sizes[key]

    def whole_model(self) -> onnx.ModelProto:
        """The model with every weight in the proto (those left in the file read back)."""
        self._reload()
        return materialise(self.model)

    def _analyse(self) -> None:
        """Sites, producers and what is not covered, for the current graph."""
        found = analyse(self.model, self._untaken)
        self.graph, self.opset, self._types = found.graph, found.graph.opset, found.types
        self._dims = found.dims
        self.sites: list[Site] = found.sites
        self.not_covered: list[NotCovered] = found.not_covered

    # --- measurement -----------------------------------------------------------------------

    def prepare(self, first: Batch, book: TailBook, softmax_tau: float) -> None:
        """Before the first batch: pick If branches and learn ranks from it, then build the
        instrumented session (or, where it cannot run, the exposed-tensor one)."""
        self._reload()
        first = strip(first)[0]
        self.runner.first = first
        self._specialise(first)
        if any(s.rank is None for s in self.sites):
            self._probe_ranks(first)
        plans = [self._plan(s, book) for s in self.sites]
        self._masked, self._masked_of = None, lambda: self._exposed(plans, book.tau, softmax_tau)
        self._observed = Observed()
        self._measure, refused = None, None
        if self.engine == PLAIN and self.opset >= GRAPH_STATS_OPSET:
            try:
                self._measure = graph_measurer(
                    self.runner, self.model, plans, (self._types, self._dims), self.opset,
                    book.tau,
                    softmax_tau, self._observed, self._reloadable, self._release,
                    lambda: self._exposed(plans, book.tau, softmax_tau))
            except ModelLoadError as exc:
                self._reload()
                refused = exc
        if self._measure is None:
            self._measure = self._exposed(plans, book.tau, softmax_tau)
            if refused is not None and self.engine == PLAIN:  # the model ran, our nodes did not
                self.notes.append(f"the statistics nodes cannot run with this model "
                                  f"({first_line(refused)}): site inputs measured as whole "
                                  "tensors")

    def measure(self, batch: Batch) -> dict[str, SiteStats]:
        """One batch's statistics per site. A text batch with padding (model/mask.py) is
        measured from the exposed site inputs, token-wise sites on its valid positions."""
        batch, valid = strip(batch)
        if valid is None or valid.all():
            return self._measure(batch)
        if self._masked is None:
            self._masked = self._masked_of()
            self.notes.append("batches with padding: site inputs measured as whole tensors "
                              "(numpy), token-wise sites on the valid positions only")
        return self._masked(batch, valid=valid)

    def finish(self) -> None:
        """After the last batch: run-time thresholds seen (Clip bounds, PRelu slopes) become
        the sites' parameters, with a note where they varied."""
        self.sites = self._observed.apply(self.sites, self.notes)
        self._measure = self._masked = None

    def _plan(self, site: Site, book: TailBook) -> Plan:
        t = book.of(site)
        low = 0.0 if site.slope_from else t.low  # PRelu: its slopes decide where x <= 0 is flat
        return Plan(site, low, t.high)

    def _exposed(self, plans: list[Plan], tau: float, softmax_tau: float) -> Measure:
        return exposed_measurer(self.runner, self.whole_model(), plans, tau, softmax_tau,
                                self._observed, self.graph.constant)

    def _release(self) -> None:
        """Drop Python's copy of the weights (onnxruntime holds its own; see _reload)."""
        self.model = self.graph = None

    def _specialise(self, batch: Batch, rounds: int = 4) -> None:
        """Replace measurable If nodes by the branch this batch takes (nested ones too)."""
        for _ in range(rounds):
            ifs = measurable_ifs(self.model)
            if not ifs:
                return
            taken = read_conditions(self.model, ifs, lambda m, names: self.runner.run(
                self.runner.session(m), names, batch))
            model, untaken = specialise(self.model, ifs, taken, self.graph.node_name)
            if len(model.graph.node) == len(self.model.graph.node) and not untaken:
                return  # nothing could be inlined
            self.model, self._untaken = model, self._untaken + untaken
            self._reloadable = False
            self.notes.extend(f"If '{self.graph.node_name(n)}': measured its "
                              f"{'then' if t else 'else'} branch, the one the first batch takes"
                              for n, t in zip(ifs, taken))
            self._analyse()

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
        shapes = self.runner.run(self.runner.session(probe), names, batch)
        by_name = {r.name: r for r in discover(self.graph)[0]}
        self.sites = [
            site_of(self.graph, by_name[s.name], s.producer, len(shape))
            if s.name in by_name else s for s, shape in zip(self.sites, shapes)
        ]

    def _reload(self) -> None:
        """Read the model again if an earlier measurement handed its weights to onnxruntime."""
        if self.model is None:
            self.model = read_model(Path(self.path), self._budget, lazy=True)
            self.graph = GraphView(self.model)
