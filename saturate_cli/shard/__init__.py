"""Beyond one machine: shards of the calibration batches, their partial reports, the exact
merge, and the engines that only move partials (Dask, torch.distributed).

state.py    SiteStats <-> JSON (exact: float64 by repr, arrays as raw bytes)
select.py   --shard K/N: which batch indices a run measures
partial.py  what a shard records and writes; reading a partial back (checked)
merge.py    partials -> the full Report, folded in batch order
dask_engine.py, distributed.py  engines (optional: dask.distributed, torch.distributed)
"""
