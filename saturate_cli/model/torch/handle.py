"""A PyTorch model in any form as a ModelHandle: sites from a probe run, on-device statistics.

A *runner* (eager capture, .pt2 interpreter, TorchScript dispatch capture) runs the model and
reports each activation call as (site name, op, kind, params, producer, input tensor). The sites
are learnt in call order from a probe run: on a tiny synthetic batch at load time, or - when
calibration data is given - on the user's first batch (a synthetic guess at the input shapes is
never needed then); a site first seen later in calibration (data-dependent control flow) is
appended.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Optional, Protocol

import numpy as np
import torch

from saturate_cli.errors import CalibrationError, ModelLoadError, first_line
from saturate_cli.model.handle import Batch, InputSpec, NotCovered, Progress, Producer, Site
from saturate_cli.model.torch.producer import make_site
from saturate_cli.model.torch.reduce import Plan, batch_stats, plan_for
from saturate_cli.stats.site_stats import SiteStats

PROBE_BATCH = 2


def _as_given(array: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Data for an input of unknown dtype: float64 runs as float32, torch's default."""
    return array.astype(np.float32) if spec.dtype == "unknown" and array.dtype == np.float64 \
        else array


class Runner(Protocol):
    not_covered: list[NotCovered]

    def run(self, args: tuple, sink) -> object:
        ...


class TorchModel:
    """A loaded PyTorch model (ModelHandle)."""

    def __init__(self, path: str, fmt: str, runner: Runner, inputs: list[InputSpec],
                 device: str, settings, keywords: tuple[str, ...] = ()):
        self.path, self.format, self.runner, self.inputs = path, fmt, runner, inputs
        self.device, self.keywords = device, keywords  # inputs passed by name
        self.sites: list[Site] = []
        self.notes: list[str] = []
        self.interrupted = False
        self._by_name: dict[str, Site] = {}
        self._learnt = not getattr(settings, "calibration", ())
        if self._learnt:
            self._probe(settings)

    @property
    def has_branches(self) -> bool:
        """True while the sites are still to be learnt from the first calibration batch."""
        return not self._learnt

    def estimate_peak(self, shapes: dict) -> Optional[int]:
        """PyTorch gives no cheap estimate of a run's peak memory before running it."""
        return None

    @property
    def not_covered(self) -> list[NotCovered]:
        return list(self.runner.not_covered)

    def _register(self, name: str, op: str, kind: str, params: dict,
                  producer: Optional[Producer], x: torch.Tensor) -> Site:
        site = self._by_name.get(name)
        if site is None:
            site = make_site(name, kind, params, producer, x.dim(), op, f"{name}:input")
            self._by_name[name] = site
            self.sites.append(site)
        return site

    def _args(self, batch: Batch) -> dict:
        missing = [s.name for s in self.inputs if s.name not in batch]
        if missing:
            raise CalibrationError(f"{self.path}: calibration data lacks input(s) {missing}")
        return {s.name: torch.from_numpy(np.ascontiguousarray(_as_given(batch[s.name], s)))
                .to(self.device) for s in self.inputs}

    def _forward(self, batch: Batch, sink, error) -> None:
        tensors = self._args(batch)
        args = tuple(t for n, t in tensors.items() if n not in self.keywords)
        kwargs = {n: t for n, t in tensors.items() if n in self.keywords}
        try:
            with torch.no_grad():
                self.runner.run(args, sink, kwargs) if kwargs else self.runner.run(args, sink)
        except Exception as exc:  # noqa: BLE001 - any failure inside the user's model
            shapes = {n: list(t.shape) for n, t in tensors.items()}
            hint = "" if error is CalibrationError else \
                "; give --input-shape NAME=DIMS or --calibration"
            raise error(f"{self.path}: the model failed on inputs of shapes {shapes}: "
                        f"{first_line(exc)}{hint}") from None

    def _probe(self, settings) -> None:
        """Learn the sites from one forward pass on a tiny synthetic batch."""
        from saturate_cli.calibration.synthetic import synthetic_batches

        tiny = replace(settings, synthetic="normal", samples=PROBE_BATCH,
                       batch_size=PROBE_BATCH, seed=0)
        batch = next(synthetic_batches(self.inputs, tiny))
        self._forward(batch, lambda name, op, kind, params, producer, x, *_:
                      self._register(name, op, kind, params, producer, x), ModelLoadError)

    def collect(self, batches: Iterable[Batch], tau: float, softmax_tau: float,
                progress: Optional[Progress] = None) -> dict[str, SiteStats]:
        """Run every batch; merge each site's on-device reductions."""
        totals: dict[str, SiteStats] = {s.name: SiteStats() for s in self.sites}
        plans: dict[str, Plan] = {}

        def sink(name, op, kind, params, producer, x, out=None):
            site = self._register(name, op, kind, params, producer, x)
            plan = plans.get(name) or plans.setdefault(name, plan_for(site, tau))
            totals[name] = totals.get(name, SiteStats()).merge(
                batch_stats(x, plan, softmax_tau, out))

        seen = False
        done, self.interrupted = dict(totals), False  # done: totals after the last whole batch
        try:
            for batch in batches:
                seen = True
                self._forward(batch, sink, CalibrationError)
                self._learnt = True
                done = dict(totals)
                if progress:
                    progress(1)
        except KeyboardInterrupt:  # Ctrl-C: report the batches measured so far (partial)
            self.interrupted = True
        if not seen and not self.interrupted:
            raise CalibrationError(f"{self.path}: no calibration data")
        return done
