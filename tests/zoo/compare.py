"""Match a `saturate inspect -f json` report against the truth of `truth.model_truth`."""

from __future__ import annotations

import math
from typing import Optional

REL = 1e-3  # mean, std, min, max: relative (to max(|mean|, std) for the mean)
ABS_FRACTION = 1e-3


def _close(got: Optional[float], want: Optional[float], scale: float) -> bool:
    if want is None or got is None:
        return got is None and want is None
    if math.isinf(want) or math.isnan(want):
        return got == want or (math.isnan(got) and math.isnan(want))
    return abs(got - want) <= REL * max(abs(want), scale, 1e-30)


def _pick(sites: list, t: dict) -> Optional[dict]:
    same = [s for s in sites if s.get("input") == t["input"]]
    exact = [s for s in same if s.get("op") == t["op"]]
    return (exact or same or [None])[0]


def compare(report: dict, truths: list) -> list:
    """Differences as short strings ('site missed: ...', 'mean 1.2 != 1.3 ...'); [] if none."""
    sites = list(report.get("sites", []))
    diffs = []
    for t in truths:
        where = f"{t['op']}({t['input']})"
        s = _pick(sites, t)
        if s is None:
            diffs.append(f"site missed: {where}")
            continue
        sites.remove(s)
        st, sat = s.get("stats") or {}, s.get("saturation") or {}
        if st.get("count") != t["count"]:
            diffs.append(f"{where}: count {st.get('count')} != {t['count']}")
        spread = max(abs(t["mean"] or 0.0), t["std"] or 0.0)
        for k in ("mean", "std", "min", "max"):
            scale = spread if k == "mean" else 0.0
            if not _close(st.get(k), t[k], scale):
                diffs.append(f"{where}: {k} {st.get(k)!r} != {t[k]!r}")
        got = sat.get("fraction")
        if "rows" in t:
            got3 = (sat.get("rows"), sat.get("masked_rows", t.get("masked_rows")),
                    sat.get("collapsed_rows"))
            want3 = (t["rows"], t.get("masked_rows"), t["collapsed_rows"])
            if got3 != want3:
                diffs.append(f"{where}: rows/masked/collapsed {'/'.join(map(str, got3))} != "
                             f"{'/'.join(map(str, want3))}")
            if got is None or abs(got - t["fraction"]) > ABS_FRACTION:
                diffs.append(f"{where}: softmax fraction {got!r} != collapsed share "
                             f"{t['fraction']!r}")
        elif got is None or abs(got - t["fraction"]) > ABS_FRACTION:
            diffs.append(f"{where}: saturated fraction {got!r} != {t['fraction']!r}")
    return diffs


def cause(diffs: list) -> str:
    """A one-phrase cause for grouping: 'exit 2: ...', 'site missed', 'mean', ..."""
    if not diffs:
        return "ok"
    first = diffs[0]
    if first.startswith("exit"):
        return first.split(":", 1)[0]
    kinds = sorted({d.split(": ", 1)[-1].split(" ")[0] if not d.startswith("site missed")
                    else "site missed" for d in diffs})
    return ", ".join(kinds)
