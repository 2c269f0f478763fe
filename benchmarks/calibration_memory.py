"""Peak memory of streaming a folder of calibration shards vs. loading one shard.

    python benchmarks/calibration_memory.py [--shards 50] [--rows 2048] [--format npy|npz|both]

Writes N shards of [rows, 784] float32 (the MLP sample's input) to a temporary folder, then runs
each measurement in a fresh process, its peak RSS (VmHWM, reset after the imports through
/proc/self/clear_refs: Linux only) counted above the RSS it started from:

- baseline: imports only;
- one:      np.load of a single shard into memory (what one shard costs);
- stream:   saturate's make_batches over the whole folder, every batch consumed.

It prints peak RSS above the baseline and tracemalloc's peak (numpy allocations) for each.
Streaming is "flat" when its peak is about one shard, however many shards there are.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

COLS = 784

_CHILD = r"""
import json, sys, tracemalloc
from pathlib import Path
import numpy as np
from saturate_cli.calibration import make_batches
from saturate_cli.types import InputSpec
from saturate_cli.settings import Settings

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])  # KiB

mode, folder, first = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) after the imports
    fh.write("5")
rss0 = status("VmRSS")
tracemalloc.start()
checksum, samples = 0.0, 0
if mode == "one":
    if first.suffix == ".npz":
        with np.load(first) as data:
            arrays = [data[k] for k in data.files]
    else:
        arrays = [np.load(first)]
    checksum, samples = float(sum(a.sum() for a in arrays)), arrays[0].shape[0]
elif mode == "stream":
    spec = InputSpec("x", ("batch", 784), "float32")
    settings = Settings(calibration=(str(folder),), samples=10**12, batch_size=64)
    batches, info = make_batches([spec], settings)
    for batch in batches:
        checksum += float(batch["x"].sum())
    samples = info.samples
peak = tracemalloc.get_traced_memory()[1]
rss = status("VmHWM")
print(json.dumps({"rss_kib": rss, "rss0_kib": rss0, "traced": peak, "samples": samples,
                  "checksum": checksum}))
"""


def _measure(mode: str, folder: Path, first: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(folder), str(first)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _write_shards(folder: Path, fmt: str, shards: int, rows: int) -> list[Path]:
    import numpy as np

    rng = np.random.default_rng(0)
    paths = []
    for i in range(shards):
        x = rng.standard_normal((rows, COLS), dtype=np.float32)
        path = folder / f"shard_{i}.{fmt}"
        if fmt == "npz":
            np.savez(path, x=x)
        else:
            np.save(path, x)
        paths.append(path)
    return paths


def run(fmt: str, shards: int, rows: int) -> dict:
    """Measure one format; returns MiB figures."""
    with tempfile.TemporaryDirectory(prefix="saturate-shards-") as tmp:
        folder = Path(tmp)
        paths = _write_shards(folder, fmt, shards, rows)
        base = _measure("baseline", folder, paths[0])
        one = _measure("one", folder, paths[0])
        stream = _measure("stream", folder, paths[0])
    mib = 1024.0
    shard_mib = rows * COLS * 4 / 2**20
    result = {
        "format": fmt, "shards": shards, "shard_mib": round(shard_mib, 1),
        "total_mib": round(shard_mib * shards, 1),
        "samples_streamed": stream["samples"],
        "baseline_rss_mib": round((base["rss_kib"] - base["rss0_kib"]) / mib, 1),
        "one_rss_mib": round((one["rss_kib"] - one["rss0_kib"]) / mib, 1),
        "stream_rss_mib": round((stream["rss_kib"] - stream["rss0_kib"]) / mib, 1),
        "one_traced_mib": round(one["traced"] / 2**20, 1),
        "stream_traced_mib": round(stream["traced"] / 2**20, 1),
    }
    assert stream["samples"] == shards * rows
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=50)
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--format", choices=("npy", "npz", "both"), default="both")
    args = parser.parse_args()
    formats = ("npy", "npz") if args.format == "both" else (args.format,)
    print("| format | shards x MiB (total) | peak RSS: one shard | peak RSS: stream all | "
          "tracemalloc: one | tracemalloc: stream |")
    print("|---|---|---|---|---|---|")
    for fmt in formats:
        r = run(fmt, args.shards, args.rows)
        print(f"| .{r['format']} | {r['shards']} x {r['shard_mib']} ({r['total_mib']}) | "
              f"{r['one_rss_mib']} MiB | {r['stream_rss_mib']} MiB | {r['one_traced_mib']} MiB | "
              f"{r['stream_traced_mib']} MiB |")


if __name__ == "__main__":
    main()
