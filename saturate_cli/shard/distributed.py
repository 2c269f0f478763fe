"""The training monitor across torch.distributed ranks: at each record every rank's small state
(its sites and their statistics, encoded as in a partial report) is all-gathered and folded in
rank order, so every rank holds the same merged record, and rank 0 writes it.

Works on any backend that has all_gather_object (gloo on CPU, nccl on GPUs); every rank must
record the same steps, as the monitor's fixed schedule does.
"""

from __future__ import annotations

from dataclasses import asdict

from saturate_cli.shard.partial import site_from_dict
from saturate_cli.shard.state import decode_stats, encode_stats
from saturate_cli.stats.site_stats import fold


def active() -> bool:
    """A torch.distributed process group is running."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def gather_record(sites: list, stats: dict) -> tuple[list, dict, bool]:
    """(sites any rank saw, in rank order; statistics merged over the ranks in rank order;
    whether this rank writes: rank 0)."""
    import torch.distributed as dist

    mine = {"sites": [asdict(s) for s in sites],
            "stats": {name: encode_stats(s) for name, s in stats.items()}}
    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    merged_sites, merged = list(sites), {}
    known = {s.name for s in sites}
    for part in everyone:
        for d in part["sites"]:
            if d["name"] not in known:
                known.add(d["name"])
                merged_sites.append(site_from_dict(d))
        for name, state in part["stats"].items():
            fold(merged, name, decode_stats(state))
    return merged_sites, merged, dist.get_rank() == 0
