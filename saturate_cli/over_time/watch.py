"""The training-loop monitor: every N steps, the same per-site statistics as `inspect`.

    with watch(model, every=50, log="runs/sat.jsonl") as w:
        for batch in loader:
            loss = loss_fn(model(batch.x), batch.y); loss.backward(); opt.step()
            w.step()

On a recorded step the next training-mode forward pass of `model` is captured (the eager
capture, model/torch/capture.py: module, functional and in-place activations), each site's
input reduced on its device (model/torch/reduce.py, no activation kept), and the report built
as inspect builds it (report/build.py: the same rules). One JSON line per record: the step,
that report and each producing layer's relative parameter change since the first record
(`saturate trend runs/sat.jsonl` reads it). Between records no hook is attached: off-steps
run the model untouched. Callbacks that drive the steps themselves use begin()/finish().
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import torch

from saturate_cli.activations import TailBook
from saturate_cli.model.torch.capture import EagerCapture
from saturate_cli.model.torch.producer import make_site
from saturate_cli.model.torch.reduce import batch_stats, plan_for
from saturate_cli.over_time.params import relative_change
from saturate_cli.settings import Settings
from saturate_cli.shard import distributed as ranks
from saturate_cli.stats.site_stats import SiteStats, fold


@dataclass
class _Handle:
    """What report/build.py reads of a model: its sites and what was not covered."""

    path: str
    sites: list = field(default_factory=list)
    not_covered: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    notes: tuple = ()
    format: str = "pytorch-training"
    sha256: Optional[str] = None


class Watch:
    """Records the activation statistics of `model` every `every` steps (step 0 first)."""

    def __init__(self, model: torch.nn.Module, every: int = 50, log=None,
                 tensorboard=None, settings: Optional[Settings] = None, name: str = "model",
                 auto: bool = True):
        if every < 1:
            raise ValueError("every must be at least 1")
        self.model, self.every, self.settings = model, every, settings or Settings()
        self.capture = EagerCapture(model)
        self.book = TailBook(self.settings.tau)
        self.handle = _Handle(name)
        self._sites: dict = {}
        self._plans: dict = {}
        self._stats: dict[str, SiteStats] = {}
        self._first: Optional[dict] = None  # producers' parameters at the first record
        self._auto = auto
        self._root: list = []  # the root module's hooks while a record is armed
        self.step_count = 0
        self.last = None  # the latest record's Report
        self.records = 0
        self._recorded_step = -1
        self._log = None
        if log is not None:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
            self._log = open(log, "a", encoding="utf-8")
        self._board = _board(tensorboard)

    # -- the step protocol ---------------------------------------------------------------
    @property
    def due(self) -> bool:
        """This step is to be recorded and has not been yet."""
        return self.step_count % self.every == 0 and self._recorded_step != self.step_count

    def __enter__(self) -> "Watch":
        self._arm()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def step(self) -> None:
        """One training step is done: the next forward pass is recorded when it is due."""
        self.finish()
        self.step_count += 1
        self._arm()

    def close(self) -> None:
        self.finish()
        self._disarm()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._board is not None:
            self._board.close()

    def _arm(self) -> None:
        if self._auto and self.due and not self._root:
            self._root = [self.model.register_forward_pre_hook(self._pre),
                          self.model.register_forward_hook(self._post)]

    def _disarm(self) -> None:
        for h in self._root:
            h.remove()
        self._root = []

    def _pre(self, module, args) -> None:
        if module.training:  # evaluation passes in between are not training inputs
            self.begin()

    def _post(self, module, args, out) -> None:
        if self.capture.active:
            self.finish()

    # -- one record ----------------------------------------------------------------------
    def begin(self) -> None:
        """Capture from now on (a callback's batch start), when this step is due."""
        if self.due and not self.capture.active:
            self._disarm()
            self._stats = {}
            self.capture.begin(self._sink)

    def finish(self) -> None:
        """Stop capturing and write the record (nothing when no capture runs)."""
        if not self.capture.active:
            return
        self.capture.end()
        self._record()

    def _sink(self, name, op, kind, params, producer, x, result=None) -> None:
        site = self._sites.get(name)
        if site is None:
            site = self._sites[name] = make_site(name, kind, params, producer, x.dim(), op,
                                                 f"{name}:input")
            self.handle.sites.append(site)
        plan = self._plans.get(name) or self._plans.setdefault(
            name, plan_for(site, self.book.of(site)))
        with torch.no_grad():
            part = batch_stats(x, plan, self.settings.softmax_tau, result)
        fold(self._stats, name, part)

    def _record(self) -> None:
        from saturate_cli.report.build import build_report

        self.handle.not_covered = list(self.capture.not_covered)
        calibration = {"source": "training", "step": self.step_count, "batches": 1,
                       "samples": None, "partial": False, "notes": []}
        sites, stats, writer = self.handle.sites, self._stats, True
        if ranks.active():  # every rank's statistics, merged in rank order; rank 0 writes
            sites, stats, writer = ranks.gather_record(sites, stats)
        report = build_report(replace(self.handle, sites=sites), stats, self.settings,
                              calibration, book=self.book)
        self.last, self.records, self._recorded_step = report, self.records + 1, self.step_count
        record = {"step": self.step_count, "time": time.time(), "report": report.to_dict(),
                  "changes": self._changes()}
        self._stats = {}
        if self._log is not None and writer:
            self._log.write(json.dumps(record, allow_nan=False) + "\n")
            self._log.flush()
        if self._board is not None and writer:
            self._board.write(self.step_count, record)

    def _changes(self) -> dict:
        """Each producing layer's ||(W, b) - (W0, b0)|| / ||(W0, b0)|| since the first record."""
        named = dict(self.model.named_parameters())
        layers = {s.producer.weight: s.producer.bias for s in self.handle.sites
                  if s.producer is not None and s.producer.weight in named}
        with torch.no_grad():
            now = {n: named[n].detach() for pair in layers.items() for n in pair
                   if n in named}
            if self._first is None:
                self._first = {n: t.clone() for n, t in now.items()}
            missing = {n: t.clone() for n, t in now.items() if n not in self._first}
            self._first.update(missing)  # a layer first seen later starts there
            return {w: relative_change(now, self._first, w, b) for w, b in layers.items()}


def _board(tensorboard):
    if not tensorboard:
        return None
    from saturate_cli.over_time.tensorboard import ScalarBoard

    return ScalarBoard(None if tensorboard is True else tensorboard)


def watch(model: torch.nn.Module, every: int = 50, log=None, tensorboard=None,
          settings: Optional[Settings] = None) -> Watch:
    """A monitor for a plain training loop: `with watch(model) as w: ... w.step()`.
    `tensorboard`: True (./runs), a log folder, or a SummaryWriter to send the scalars to."""
    return Watch(model, every, log, tensorboard, settings)
