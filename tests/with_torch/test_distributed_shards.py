"""--shard K/N then merge on PyTorch models (torch.export .pt2 and TorchScript, whose sites are
learnt as they run): the merged report is the single run's, byte for byte."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from conftest import run_cli  # noqa: E402


@pytest.mark.parametrize("model", ["transformer_block.pt2", "mlp_mixed.ts"])
def test_torch_shards_merge_to_one_run(samples, tmp_path, model):
    args = ["inspect", str(samples / model), "-n", "12", "-b", "4"]
    one = run_cli(*args, "-f", "json")
    parts = [str(tmp_path / f"p{k}.json") for k in range(2)]
    for k, part in enumerate(parts):
        assert run_cli(*args, "--shard", f"{k}/2", "-o", part).exit_code == 0
    merged = run_cli("merge", *parts, "-f", "json")
    assert merged.exit_code == one.exit_code and merged.stdout == one.stdout
