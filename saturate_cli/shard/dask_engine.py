"""Dask as the engine: one shard per worker, partials back, the client merges.

`--workers N` starts a LocalCluster of N single-threaded worker processes; `--scheduler
ADDRESS` uses a running cluster, one shard per worker. Each task loads the model once and
returns its partial (kilobytes: no activation leaves the worker). A worker lost mid-run is
Dask's to handle: it reruns that shard's task elsewhere, and the result is the same because a
shard is a pure function of its index. Needs the `dask` extra (dask.distributed).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable, Optional

from saturate_cli.errors import UsageError
from saturate_cli.settings import Settings

EXTRA = "pip install 'saturate-cli[dask]'"


def shard_task(target: str, settings: Settings, index: int, count: int,
               batch_given: bool = False) -> dict:
    """One shard, run where Dask put it: the partial as JSON values."""
    from saturate_cli.pipeline import inspect_model
    from saturate_cli.shard.partial import Recorder
    from saturate_cli.shard.select import Shard

    shard = Shard(index, count)
    recorder = Recorder(shard.keeps, shard)
    inspect_model(target, settings, None, batch_given, recorder=recorder)
    return recorder.partial


def inspect_on_dask(target: str, settings: Settings, batch_given: bool = False):
    """The Report of `target`, its shards run on the cluster the settings name."""
    distributed = require_dask()
    if settings.scheduler:
        try:
            client = distributed.Client(settings.scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"--scheduler {settings.scheduler}: cannot connect ({exc})"
                             ) from None
        with client:
            return run_on(client, target, settings, batch_given=batch_given)
    with distributed.LocalCluster(n_workers=settings.workers, threads_per_worker=1,
                                  processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        return run_on(client, target, settings, settings.workers, batch_given)


def run_on(client, target: str, settings: Settings, shards: Optional[int] = None,
           batch_given: bool = False, task: Callable = shard_task):
    """Run `shards` shards (default: one per worker) as tasks of `client` and merge them."""
    from saturate_cli.shard.merge import merge_partials
    from saturate_cli.shard.partial import parse_partial

    count = shards or len(client.scheduler_info().get("workers", {}))
    if count < 1:
        raise UsageError("the Dask cluster has no workers")
    work = replace(settings, shard=None, workers=0, scheduler=None)
    futures = [client.submit(task, target, work, k, count, batch_given, pure=False)
               for k in range(count)]
    documents = client.gather(futures)
    return merge_partials(parse_partial(d, f"shard {k}/{count}")
                          for k, d in enumerate(documents))


def require_dask():
    """dask.distributed, or a one-line error naming the extra."""
    try:
        import distributed
    except ImportError:
        raise UsageError(f"--workers and --scheduler run on Dask, which is not installed: "
                         f"{EXTRA}") from None
    return distributed
