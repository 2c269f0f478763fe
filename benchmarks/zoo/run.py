"""Run `saturate inspect` on every model of the built zoo (benchmarks/zoo/build.py), check each
site against truth computed without the tool, print the table and write
benchmarks/.cache/zoo/results.json and table.md. Exit 1 when a built model fails."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.zoo.heavy import ZOO, check_entry, manifest, table  # noqa: E402


def _merged(rows: list) -> list:
    """A partial run's rows over the last results.json, in manifest order."""
    key = lambda r: (r["model"], r["format"], r["opset"])  # noqa: E731
    old = ZOO / "results.json"
    by = {key(r): r for r in (json.loads(old.read_text()) if old.exists() else [])}
    by.update({key(r): r for r in rows})
    order = [key(e) for e in manifest()]
    return [by[k] for k in order if k in by]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="model names (default: all)")
    ap.add_argument("--format", dest="fmt", help="only formats containing this text")
    a = ap.parse_args()
    entries = [e for e in manifest() if (not a.only or e["model"] in a.only)
               and (not a.fmt or a.fmt in e["format"])]
    if not entries:
        print(f"no zoo at {ZOO}: run benchmarks/zoo/build.py first", file=sys.stderr)
        return 2
    rows = []
    for e in entries:
        t = time.time()
        try:
            r = check_entry(e)
        except Exception as exc:  # noqa: BLE001 - the truth itself failed: a row too
            r = {"model": e["model"], "format": e["format"], "opset": e["opset"],
                 "sites": None, "result": f"truth error: {type(exc).__name__}: {exc}"[:200],
                 "diffs": []}
        r["seconds"] = round(time.time() - t, 1)
        rows.append(r)
        print(f"{r['model']:28s} {r['format']:28s} {r['opset'] or '':>3} "
              f"{r['sites'] if r['sites'] is not None else '':>4}  {r['result']}"
              + (f"  [{r['diffs'][0][:120]}]" if r["diffs"] else ""), flush=True)
    print(table(rows))
    rows = _merged(rows) if a.only or a.fmt else rows
    (ZOO / "results.json").write_text(json.dumps(rows, indent=1))
    (ZOO / "table.md").write_text(table(rows) + "\n")
    bad = [r for r in rows if r["diffs"] or r["result"].startswith("truth error")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
