"""The monitor as a Lightning callback (needs `lightning` or `pytorch_lightning`):

    trainer = Trainer(callbacks=[SaturateCallback(every=50, log="runs/sat.jsonl")])

A recorded step captures from the batch start to just before backward (the training forward
and the loss), whichever module the LightningModule calls inside; records are keyed by
`trainer.global_step`.
"""

from __future__ import annotations

try:
    from lightning.pytorch import Callback
except ImportError:  # the older package name
    from pytorch_lightning import Callback

from saturate_cli.over_time.watch import Watch


class SaturateCallback(Callback):
    """Records every `every` optimizer steps; `tensorboard` and `settings` as for watch()."""

    def __init__(self, every: int = 50, log=None, tensorboard=None, settings=None):
        super().__init__()
        self.options = (every, log, tensorboard, settings)
        self.watch = None

    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.watch = Watch(pl_module, *self.options, name=type(pl_module).__name__, auto=False)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.watch is not None:
            self.watch.step_count = trainer.global_step
            self.watch.begin()

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        if self.watch is not None:
            self.watch.finish()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.watch is not None:
            self.watch.finish()  # manual optimisation may not pass on_before_backward

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.watch is not None:
            self.watch.close()
            self.watch = None
