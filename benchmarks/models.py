"""The benchmark models, written out in plain torch.nn and exported to ONNX once (cached).

- ``resnet18``: a ResNet-18-shaped CNN (BasicBlocks 2-2-2-2, 64..512 channels, BatchNorm folded
  by the exporter), input 3x224x224.
- ``resnet50``: the torchvision ResNet-50 architecture (Bottlenecks 3-4-6-3, width 64, expansion
  4), input 3x224x224, 49 ReLU sites.
- ``bert``: a BERT-size encoder (12 layers, hidden 384, 12 heads, FFN 1536 like MiniLM-L12),
  GELU, softmax attention with an additive mask of -3.4e38 on padded positions.

Weights are random (seeded); no downloads.
"""

from __future__ import annotations

from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
VOCAB = 30522
SEQ = 128
NAMES = ("resnet18", "resnet50", "bert")


def _torch_modules():
    import torch
    from torch import nn

    def shortcut(cin: int, cout: int, stride: int):
        """The projection of a residual block whose shape changes (None: identity)."""
        if stride == 1 and cin == cout:
            return None
        return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def stem():
        return nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                             nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.down = shortcut(cin, cout, stride)

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.relu(y + (x if self.down is None else self.down(x)))

    class ResNet18(nn.Module):
        def __init__(self, classes: int = 1000):
            super().__init__()
            self.stem = stem()
            layers, cin = [], 64
            for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
                cin = cout
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(512, classes)

        def forward(self, x):
            x = self.layers(self.stem(x))
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, width: int, stride: int):
            super().__init__()
            cout = 4 * width
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.down = shortcut(cin, cout, stride)

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return self.relu(y + (x if self.down is None else self.down(x)))

    class ResNet50(ResNet18):
        def __init__(self, classes: int = 1000):
            nn.Module.__init__(self)
            self.stem = stem()
            layers, cin = [], 64
            for width, count, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                for i in range(count):
                    layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
                    cin = 4 * width
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, classes)

    class Layer(nn.Module):
        def __init__(self, hidden: int, heads: int, ffn: int):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.out = nn.Linear(hidden, hidden)
            self.norm1 = nn.LayerNorm(hidden)
            self.up = nn.Linear(hidden, ffn)
            self.act = nn.GELU()
            self.down = nn.Linear(ffn, hidden)
            self.norm2 = nn.LayerNorm(hidden)

        def forward(self, x, mask):
            b, s, h = x.shape
            q, k, v = self.qkv(x).view(b, s, 3, self.heads, h // self.heads).permute(
                2, 0, 3, 1, 4).unbind(0)
            scores = q @ k.transpose(-1, -2) / (h // self.heads) ** 0.5 + mask
            ctx = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, s, h)
            x = self.norm1(x + self.out(ctx))
            return self.norm2(x + self.down(self.act(self.up(x))))

    class Encoder(nn.Module):
        def __init__(self, layers: int = 12, hidden: int = 384, heads: int = 12,
                     ffn: int = 1536):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, hidden)
            self.pos = nn.Embedding(512, hidden)
            self.norm = nn.LayerNorm(hidden)
            self.layers = nn.ModuleList(Layer(hidden, heads, ffn) for _ in range(layers))
            self.pool = nn.Linear(hidden, hidden)

        def forward(self, input_ids, attention_mask):
            pos = torch.arange(input_ids.shape[1], device=input_ids.device)
            x = self.norm(self.embed(input_ids) + self.pos(pos))
            mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * \
                torch.finfo(torch.float32).min
            for layer in self.layers:
                x = layer(x, mask)
            return torch.tanh(self.pool(x[:, 0]))

    return {"resnet18": ResNet18, "resnet50": ResNet50, "bert": Encoder}


def build_torch(name: str):
    """The torch module of a benchmark model, in eval mode, seeded."""
    import torch

    torch.manual_seed(0)
    model = _torch_modules()[name]()
    if name.startswith("resnet"):  # give BatchNorm non-trivial statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def resnet18():
    """Factory target for `saturate inspect benchmarks/models.py:resnet18`."""
    return build_torch("resnet18")


def resnet50():
    """Factory target for `saturate inspect benchmarks/models.py:resnet50`."""
    return build_torch("resnet50")


def bert():
    """Factory target for `saturate inspect benchmarks/models.py:bert`."""
    return build_torch("bert")


SHAPES = {"resnet18": {"x": (2, 3, 224, 224)}, "resnet50": {"x": (2, 3, 224, 224)},
          "bert": {"input_ids": (2, SEQ), "attention_mask": (2, SEQ)}}


def example_inputs(name: str, batch: int, seed: int = 0) -> dict:
    """One batch of calibration inputs (numpy), deterministic in `seed`.

    BERT batches pad a random tail of each sequence, so the -3.4e38 mask reaches the softmax.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    if name.startswith("resnet"):
        return {"x": rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)}
    ids = rng.integers(0, VOCAB, (batch, SEQ), dtype=np.int64)
    lengths = rng.integers(SEQ // 4, SEQ + 1, batch)
    mask = (np.arange(SEQ)[None, :] < lengths[:, None]).astype(np.int64)
    return {"input_ids": ids, "attention_mask": mask}


def onnx_path(name: str) -> Path:
    """The cached ONNX file of a model, exported on first use."""
    path = CACHE / f"{name}.onnx"
    if not path.exists():
        _export(name, path)
    return path


def _export(name: str, path: Path) -> None:
    import torch

    model = build_torch(name)
    inputs = example_inputs(name, 2)
    args = tuple(torch.from_numpy(v) for v in inputs.values())
    dynamic = {k: {0: "batch"} for k in inputs}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with torch.no_grad():
        torch.onnx.export(model, args, str(tmp), input_names=list(inputs), output_names=["out"],
                          dynamic_axes={**dynamic, "out": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    tmp.replace(path)
