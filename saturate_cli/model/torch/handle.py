"""A PyTorch model in any form as a ModelHandle: sites learnt as it runs, on-device statistics.

A *runner* (eager capture, .pt2 interpreter, TorchScript dispatch capture) runs the model and
reports each activation call as (site name, op, kind, params, producer, input tensor). The sites
are learnt in call order from the first batch; a site first seen in a later batch
(data-dependent control flow) is appended.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Protocol

import numpy as np
import torch

from saturate_cli.activations import TailBook
from saturate_cli.model.mask import kept_unit_axis, strip, token_wise
from saturate_cli.errors import CalibrationError, first_line
from saturate_cli.model.torch.producer import make_site
from saturate_cli.model.torch.reduce import Plan, batch_stats, plan_for
from saturate_cli.stats.site_stats import SiteStats, fold
from saturate_cli.types import Batch, InputSpec, NotCovered, Producer, Site


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
                 device: str, keywords: tuple[str, ...] = (), sha256: Optional[str] = None):
        self.path, self.format, self.runner, self.inputs = path, fmt, runner, inputs
        self.device, self.keywords = device, keywords  # inputs passed by name
        self.sha256 = sha256
        self.tokenizer = None  # a Hugging Face checkpoint's (torch/hf.py)
        self.sites: list[Site] = []
        self.notes: list[str] = []
        self._by_name: dict[str, Site] = {}
        self._learnt = False
        self._book: Optional[TailBook] = None
        self._softmax_tau = 0.01
        self._plans: dict[str, Plan] = {}

    @property
    def has_branches(self) -> bool:
        """True while the sites are still to be learnt from the first calibration batch."""
        return not self._learnt

    def estimate_peak(self, shapes: dict) -> Optional[int]:
        """PyTorch gives no cheap estimate of a run's peak memory before running it."""
        return None

    def largest_site_input(self, shapes: dict) -> Optional[int]:
        """Nor of its activations' sizes."""
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

    def _forward(self, batch: Batch, sink) -> None:
        tensors = self._args(batch)
        args = tuple(t for n, t in tensors.items() if n not in self.keywords)
        kwargs = {n: t for n, t in tensors.items() if n in self.keywords}
        try:
            with torch.no_grad():
                self.runner.run(args, sink, kwargs) if kwargs else self.runner.run(args, sink)
        except Exception as exc:  # noqa: BLE001 - any failure inside the user's model
            shapes = {n: list(t.shape) for n, t in tensors.items()}
            raise CalibrationError(f"{self.path}: the model failed on inputs of shapes {shapes}: "
                                   f"{first_line(exc)}; give --input-shape NAME=DIMS or "
                                   "--calibration data the model accepts") from None

    def prepare(self, first: Batch, book: TailBook, softmax_tau: float) -> None:
        """Nothing to build ahead: the sites are learnt as the first batch runs."""
        self._book, self._softmax_tau, self._plans = book, softmax_tau, {}

    def measure(self, batch: Batch) -> dict[str, SiteStats]:
        """One forward pass; each site's on-device reductions of this batch (token-wise sites
        on the valid positions only, where a text batch marks padding: model/mask.py)."""
        out: dict[str, SiteStats] = {}
        batch, valid = strip(batch)
        valid = None if valid is None or valid.all() else torch.from_numpy(valid).to(self.device)

        def sink(name, op, kind, params, producer, x, result=None):
            site = self._register(name, op, kind, params, producer, x)
            plan = self._plans.get(name) or self._plans.setdefault(
                name, plan_for(site, self._book.of(site)))
            if valid is not None and token_wise(tuple(x.shape), tuple(valid.shape),
                                                plan.unit_axis, plan.softmax_axis is not None):
                x, plan = x[valid], replace(plan, unit_axis=kept_unit_axis(plan.unit_axis,
                                                                           x.dim()))
            fold(out, name, batch_stats(x, plan, self._softmax_tau, result))

        self._forward(batch, sink)
        self._learnt = True
        return out

    def finish(self) -> None:
        """Nothing learnt at run time changes the sites after the last batch."""
