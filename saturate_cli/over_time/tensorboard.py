"""Send the monitor's scalars to TensorBoard (torch.utils.tensorboard; needs `tensorboard`)."""

from __future__ import annotations

from saturate_cli.over_time.points import share


class ScalarBoard:
    """Per site: saturated share, mean gain, mean, std; per layer: parameter change."""

    def __init__(self, target=None):
        if hasattr(target, "add_scalar"):
            self.writer, self._own = target, False
        else:
            from torch.utils.tensorboard import SummaryWriter

            self.writer, self._own = SummaryWriter(log_dir=target), True

    def write(self, step: int, record: dict) -> None:
        add = self.writer.add_scalar
        for site in record["report"]["sites"]:
            name, stats = site["name"], site.get("stats") or {}
            values = {"share": share(site), "mean_gain": site["saturation"].get("mean_gain"),
                      "mean": stats.get("mean"), "std": stats.get("std")}
            for key, value in values.items():
                if value is not None:
                    add(f"saturate/{name}/{key}", value, step)
        for layer, change in record["changes"].items():
            if change is not None:
                add(f"saturate/change/{layer}", change, step)
        add("saturate/flagged", record["report"]["summary"]["flagged"], step)

    def close(self) -> None:
        self.writer.flush()
        if self._own:
            self.writer.close()
