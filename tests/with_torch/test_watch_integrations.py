"""The monitor inside Lightning and the Hugging Face Trainer (each only when installed): records
at the configured steps, with the numbers of the batch the trainer fed (checked in numpy)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).normal(size=(48, 5)).astype(np.float32)
Y = (X[:, :1] > 0).astype(np.float32)


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 1))


def _expected_first(net, batch: np.ndarray) -> tuple[float, float]:
    w, b = (p.detach().double().numpy() for p in (net[0].weight, net[0].bias))
    h = batch.astype(np.float64) @ w.T + b
    return h.mean(), h.std()


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lightning_callback(tmp_path):
    pl = pytest.importorskip("lightning.pytorch")
    from saturate_cli.over_time.lightning import SaturateCallback

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = _net()

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.binary_cross_entropy_with_logits(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.5)

    module = Module()
    expected = _expected_first(module.net, X[:8])
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=8)
    log = tmp_path / "sat.jsonl"
    trainer = pl.Trainer(max_steps=6, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", callbacks=[SaturateCallback(every=2, log=log)])
    trainer.fit(module, data)
    records = _records(log)
    assert [r["step"] for r in records] == [0, 2, 4]
    site = records[0]["report"]["sites"][0]
    assert site["name"] == "net.1" and site["stats"]["count"] == 8 * 7
    assert site["stats"]["mean"] == pytest.approx(expected[0], rel=1e-5, abs=1e-7)
    assert site["stats"]["std"] == pytest.approx(expected[1], rel=1e-5)
    assert records[2]["changes"]["net.0.weight"] > 0
    assert all(len(m._forward_hooks) == 0 for m in module.modules())


def test_hugging_face_callback(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from transformers import Trainer, TrainingArguments

    from saturate_cli.over_time.hf_callback import SaturateCallback

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = _net()

        def forward(self, x, labels=None):
            logits = self.net(x)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
            return {"loss": loss, "logits": logits}

    model = Model()
    w0 = [p.detach().clone() for p in (model.net[0].weight, model.net[0].bias)]
    batches = []

    def collate(items):
        batch = {k: torch.stack([item[k] for item in items]) for k in items[0]}
        batches.append(batch["x"].numpy().copy())
        return batch

    rows = [{"x": torch.from_numpy(X[i]), "labels": torch.from_numpy(Y[i])}
            for i in range(len(X))]
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=6,
                             per_device_train_batch_size=8, report_to=[], save_strategy="no",
                             logging_strategy="no", use_cpu=True, dataloader_drop_last=True,
                             learning_rate=0.1, disable_tqdm=True)
    log = tmp_path / "sat.jsonl"
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collate,
                      callbacks=[SaturateCallback(every=2, log=log)])
    trainer.train()
    records = _records(log)
    assert [r["step"] for r in records] == [0, 2, 4]
    site = records[0]["report"]["sites"][0]
    assert site["name"] == "net.1" and site["stats"]["count"] == 8 * 7
    h = batches[0].astype(np.float64) @ w0[0].double().numpy().T + w0[1].double().numpy()
    assert site["stats"]["mean"] == pytest.approx(h.mean(), rel=1e-5, abs=1e-7)
    assert site["stats"]["std"] == pytest.approx(h.std(), rel=1e-5)
    assert records[1]["changes"]["net.0.weight"] > 0
