"""--shard K/N: the batch indices one run measures.

K is 0-based (0 <= K < N), as Python, Dask and Slurm's `--array=0-(N-1)` count: shard K measures
batches K, K+N, K+2N, ... (round robin by batch index, so a shard needs no batch count up front
and the shards stay balanced). Every shard reads all batches and runs only its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from saturate_cli.errors import UsageError


@dataclass(frozen=True)
class Shard:
    index: int  # K, 0-based
    count: int  # N

    def keeps(self, batch: int) -> bool:
        """Whether this shard measures the batch with this index."""
        return batch % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """'K/N' -> Shard (UsageError naming the option otherwise)."""
    index, slash, count = str(text).strip().partition("/")
    try:
        k, n = int(index), int(count)
    except ValueError:
        k = n = -1
    if not slash or n < 1 or not 0 <= k < n:
        raise UsageError(f"--shard {text}: expected K/N with 0 <= K < N (K counts from 0, e.g. "
                         "--shard $SLURM_ARRAY_TASK_ID/4 with --array=0-3)")
    return Shard(k, n)
