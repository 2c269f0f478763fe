"""The training monitor under torch.distributed (2 CPU processes, gloo): each rank captures its
own batch, the records are merged over the ranks (the same on both), rank 0 alone writes, and
the merged numbers are those of one process seeing both batches."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

from saturate_cli.over_time.watch import Watch

ROWS = (32, 24)  # rank 0's and rank 1's batch


def build():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 8),
                              torch.nn.ReLU(), torch.nn.Linear(8, 4), torch.nn.Sigmoid())
    with torch.no_grad():
        net[0].weight.mul_(3.0)  # tanh partly saturated
        net[2].bias.sub_(0.5)  # some dead ReLU units
    return net


def data() -> torch.Tensor:
    return torch.from_numpy(__import__("numpy").random.default_rng(3).normal(
        size=(sum(ROWS), 6)).astype("float32"))


def one_record(model, x, log=None):
    with Watch(model.train(), every=1, log=log) as w:
        model(x).sum().backward()
        w.step()
    return w.last


def rank_main(rank: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        x = data()[:ROWS[0]] if rank == 0 else data()[ROWS[0]:]
        report = one_record(build(), x, f"{out}/log{rank}.jsonl")
        with open(f"{out}/rank{rank}.json", "w") as fh:
            json.dump(report.to_dict(), fh)
    finally:
        dist.destroy_process_group()


def test_ranks_merge_into_one_record_that_rank_0_writes(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(rank_main, args=(f"file://{tmp_path / 'init'}", str(tmp_path)), nprocs=2)
    merged = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert merged[0] == merged[1]  # every rank holds the merged record
    lines = [(tmp_path / f"log{r}.jsonl").read_text().splitlines() for r in (0, 1)]
    assert len(lines[0]) == 1 and lines[1] == []  # rank 0 writes, the others do not
    assert json.loads(lines[0][0])["report"]["sites"] == merged[0]["sites"]
    whole = one_record(build(), data()).to_dict()  # one process, both batches at once
    assert [s["name"] for s in merged[0]["sites"]] == [s["name"] for s in whole["sites"]]
    for got, want in zip(merged[0]["sites"], whole["sites"]):
        g, o = got["stats"], want["stats"]
        assert g["count"] == o["count"] == sum(ROWS) * got["saturation"]["units"]
        assert g["mean"] == pytest.approx(o["mean"], rel=1e-6, abs=1e-6)
        assert g["std"] == pytest.approx(o["std"], rel=1e-6)
        assert (g["min"], g["max"]) == pytest.approx((o["min"], o["max"]), rel=1e-6)
        assert got["saturation"]["fraction"] == pytest.approx(want["saturation"]["fraction"],
                                                              abs=1.5 / g["count"])
        assert got["saturation"]["dead_units"] == want["saturation"]["dead_units"]
