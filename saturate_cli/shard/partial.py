"""A partial report: what one shard measured, with everything the merge needs to rebuild the
full report without the model (sites, producers, not covered, notes, calibration, settings,
model hash, tool version).

Per site it holds the shard's merged statistics (counts, extremes, histogram and per-unit
counts: integers and min/max, exact in any order) and, per measured batch, the parts whose
float64 result depends on the order of the fold: finite count, mean and M2 (Chan's update) and
the per-unit sums, plus the batch's softmax rows while they can still enter the row sample.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from saturate_cli import __version__
from saturate_cli.settings import Settings, Thresholds
from saturate_cli.shard.select import Shard
from saturate_cli.shard.state import EMPTY_HISTOGRAM, PartialError, decode_stats, encode_stats
from saturate_cli.stats.site_stats import SiteStats, cap_rows
from saturate_cli.types import InputSpec, NotCovered, Producer, Site

FORMAT = "saturate-partial"
FORMAT_VERSION = 1
# settings that say where and how fast a shard runs, not what it measures
LOCAL_SETTINGS = ("threads", "memory_budget", "device", "trust_pickle", "shard", "workers",
                  "scheduler")


@dataclass
class PartialModel:
    """What report/build.py reads of a model, as a partial recorded it."""

    path: str
    format: str
    sha256: Optional[str]
    inputs: list
    sites: list
    not_covered: list
    notes: tuple = ()


@dataclass
class Partial:
    """One partial report, read back."""

    source: str  # where it came from (messages)
    version: str  # the tool version that wrote it
    shard: Optional[Shard]
    measured: tuple  # batch indices, in order
    interrupted: bool
    model: PartialModel
    settings: dict  # as written (compared between parts)
    calibration: dict
    totals: dict  # site -> SiteStats merged over the shard's batches
    batches: dict  # site -> [(batch index, SiteStats of the order-dependent fields)]

    @property
    def batches_read(self) -> int:
        return int(self.calibration.get("batches") or 0)


def order_dependent(s: SiteStats, rows: Optional[np.ndarray]) -> SiteStats:
    """The fields of one batch whose fold depends on the order (and the emptiness test); no
    histogram of its own (one shared empty one: a partial holds one state per batch)."""
    return SiteStats(count=s.count, rows=s.rows, finite=s.finite, mean=s.mean, m2=s.m2,
                     unit_sum=s.unit_sum, row_sample=rows, histogram=EMPTY_HISTOGRAM)


class Recorder:
    """Collects a shard's per-batch states (run_batches' on_batch) and writes the partial."""

    def __init__(self, keep: Callable[[int], bool], shard: Optional[Shard] = None):
        self.keep, self.shard = keep, shard
        self.measured: list[int] = []
        self.batches: dict[str, list] = {}
        self._rows: dict[tuple, int] = {}  # (site, row width) -> rows kept so far
        self.partial: Optional[dict] = None  # the document, once the run is done

    def on_batch(self, index: int, part: dict) -> None:
        self.measured.append(index)
        for name, s in part.items():
            self.batches.setdefault(name, []).append((index, order_dependent(s, self._kept(
                name, s))))

    def _kept(self, name: str, s: SiteStats) -> Optional[np.ndarray]:
        """The batch's softmax rows, unless this shard alone already filled the row sample
        at their width (earlier batches of other shards only add to what fills it)."""
        rows = s.row_sample
        if rows is None or rows.ndim != 2 or (s.count == 0 and not s.rows):
            return rows
        key = (name, rows.shape[1])
        have = self._rows.get(key, 0)
        if not len(cap_rows(np.empty((1, rows.shape[1])), have)):
            return None
        self._rows[key] = have + len(rows)
        return rows

    def document(self, handle, settings: Settings, calibration: dict, notes: tuple,
                 measured) -> dict:
        """The partial as plain JSON values (`measured`: run_batches' result)."""
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "tool": {"name": "saturate", "version": __version__},
            "shard": None if self.shard is None else {"index": self.shard.index,
                                                       "count": self.shard.count},
            "measured": list(self.measured),
            "interrupted": bool(measured.interrupted) if measured is not None else False,
            "model": {"path": handle.path, "format": handle.format, "sha256": handle.sha256,
                      "inputs": [asdict(i) for i in handle.inputs]},
            "settings": settings_json(settings),
            "calibration": calibration,
            "notes": list(notes),
            "sites": [asdict(s) for s in handle.sites],
            "not_covered": [asdict(u) for u in handle.not_covered],
            "totals": {k: encode_stats(v) for k, v in (measured.stats if measured else {}
                                                        ).items()},
            "batches": {k: [[i, encode_stats(b)] for i, b in v] for k, v in self.batches.items()},
        }


def settings_json(settings: Settings) -> dict:
    """Settings as JSON values (tuples become lists)."""
    return json.loads(json.dumps(asdict(settings), default=_plain))


def settings_of(d: dict) -> Settings:
    """The Settings `settings_json` wrote."""
    known = {f.name for f in fields(Settings)}
    values = {k: _tuples(v) for k, v in d.items() if k in known}
    values["thresholds"] = Thresholds(**d.get("thresholds", {}))
    values["input_shapes"] = {k: _tuples(v) for k, v in d.get("input_shapes", {}).items()}
    values["per_site_ignores"] = {k: _tuples(v) for k, v in d.get("per_site_ignores", {}).items()}
    return replace(Settings(), **values)


def to_text(document: dict) -> str:
    return json.dumps(document, allow_nan=False, separators=(",", ":"), default=_plain) + "\n"


def read_partial(path: str) -> Partial:
    """A partial report file, checked (PartialError with the file name otherwise)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PartialError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}"
                           ) from None
    try:
        return parse_partial(json.loads(text), str(path))
    except json.JSONDecodeError as exc:
        raise PartialError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except PartialError as exc:
        raise PartialError(f"{path}: {exc}") from None


def parse_partial(doc: dict, source: str) -> Partial:
    """A partial from its JSON values (as `Recorder.document` made them)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PartialError("not a partial report (write one with `saturate inspect --shard "
                           "K/N -o PART.json`)")
    if doc.get("format_version") != FORMAT_VERSION:
        raise PartialError(f"partial format {doc.get('format_version')!r}; this saturate "
                           f"reads format {FORMAT_VERSION}")
    try:
        shard = doc["shard"]
        model = doc["model"]
        return Partial(
            source=source, version=str(doc["tool"]["version"]),
            shard=None if shard is None else Shard(int(shard["index"]), int(shard["count"])),
            measured=tuple(int(i) for i in doc["measured"]),
            interrupted=bool(doc["interrupted"]),
            model=PartialModel(
                path=str(model["path"]), format=str(model["format"]), sha256=model["sha256"],
                inputs=[InputSpec(i["name"], tuple(i["shape"]), i["dtype"], i.get("vocab"))
                        for i in model["inputs"]],
                sites=[site_from_dict(s) for s in doc["sites"]],
                not_covered=[NotCovered(**u) for u in doc["not_covered"]],
                notes=tuple(str(n) for n in doc["notes"])),
            settings=dict(doc["settings"]), calibration=dict(doc["calibration"]),
            totals={str(k): decode_stats(v) for k, v in doc["totals"].items()},
            batches={str(k): [(int(i), decode_stats(b)) for i, b in v]
                     for k, v in doc["batches"].items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PartialError(f"incomplete partial report ({type(exc).__name__}: {exc})") from None


def site_from_dict(d: dict) -> Site:
    """A Site from its asdict() values (JSON lists back to tuples)."""
    values = dict(d)
    producer = values.get("producer")
    if producer is not None:
        values["producer"] = Producer(**{k: _tuples(v) for k, v in producer.items()})
    values["params"] = {k: _tuples(v) for k, v in values.get("params", {}).items()}
    if values.get("softmax_axes") is not None:
        values["softmax_axes"] = tuple(values["softmax_axes"])
    return Site(**values)


def _tuples(value):
    """Lists back to the tuples JSON turned them into."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _plain(value):
    """numpy scalars and arrays as JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")
