"""The monitor as a Hugging Face `TrainerCallback` (needs `transformers`):

    Trainer(model, args, ..., callbacks=[SaturateCallback(every=50, log="runs/sat.jsonl")])

The Trainer calls model(**inputs): on a recorded step the next training-mode forward pass is
captured (evaluation passes in between are skipped); records are keyed by
`state.global_step`.
"""

from __future__ import annotations

from transformers import TrainerCallback

from saturate_cli.over_time.watch import Watch


class SaturateCallback(TrainerCallback):
    """Records every `every` optimizer steps; `tensorboard` and `settings` as for watch()."""

    def __init__(self, every: int = 50, log=None, tensorboard=None, settings=None):
        self.options = (every, log, tensorboard, settings)
        self.watch = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is not None and state.is_world_process_zero:
            self.watch = Watch(model, *self.options, name=type(model).__name__)
            self.watch.step_count = state.global_step
            self.watch.__enter__()

    def on_step_end(self, args, state, control, **kwargs):
        if self.watch is not None:
            self.watch.finish()
            self.watch.step_count = state.global_step - 1
            self.watch.step()  # counts to global_step and arms when it is due

    def on_train_end(self, args, state, control, **kwargs):
        if self.watch is not None:
            self.watch.close()
            self.watch = None
