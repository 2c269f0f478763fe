"""Small sample networks for trying and testing ``saturate``.

Every ``build_<name>(seed=0)`` returns an ``nn.Module`` in eval mode whose
weights are drawn deterministically from ``seed`` (the global torch RNG is
left untouched).  These factories are also the PyTorch "factory" model form::

    saturate inspect sample_models/models.py:build_mlp_sigmoid_badinit

``sample_models/generate.py`` exports each of them to ONNX and to the saved
PyTorch forms.
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

DEAD_BIAS = -100.0
HIDDEN_WIDTHS = (784, 128, 128, 128, 128)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU RNG for the block, restoring the caller's state after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _init_weights(model: nn.Module, weight_init: Callable[[torch.Tensor], object]) -> None:
    """Apply ``weight_init`` to every Linear/Conv2d weight and zero its bias."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            weight_init(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def _mlp(
    widths: tuple[int, ...], activations: list[tuple[str, nn.Module]], n_out: int
) -> nn.Sequential:
    """``fc1, <act1>, fc2, <act2>, ..., fc<n>``: a Linear before each named activation, a head."""
    layers: list[tuple[str, nn.Module]] = []
    for i, (name, act) in enumerate(activations, start=1):
        layers += [(f"fc{i}", nn.Linear(widths[i - 1], widths[i])), (name, act)]
    layers.append((f"fc{len(activations) + 1}", nn.Linear(widths[-1], n_out)))
    return nn.Sequential(OrderedDict(layers))


def _sigmoid_mlp() -> nn.Sequential:
    """MLP 784-128-128-128-128-10 with a Sigmoid after each hidden Linear."""
    acts = [(f"sigmoid{i}", nn.Sigmoid()) for i in range(1, len(HIDDEN_WIDTHS))]
    return _mlp(HIDDEN_WIDTHS, acts, 10)


def build_mlp_sigmoid_badinit(seed: int = 0) -> nn.Module:
    """Sigmoid MLP with weights and biases from N(0, 1): saturated, gain collapses with depth."""
    with _seeded(seed):
        model = _sigmoid_mlp()
        for param in model.parameters():
            nn.init.normal_(param, 0.0, 1.0)
    return model.eval()


def build_mlp_sigmoid_xavier(seed: int = 0) -> nn.Module:
    """Same Sigmoid MLP with Xavier-uniform weights and zero biases: healthy on N(0, 1) inputs."""
    with _seeded(seed):
        model = _sigmoid_mlp()
        _init_weights(model, nn.init.xavier_uniform_)
    return model.eval()


class DeadBiasCNN(nn.Module):
    """Conv-ReLU-Conv-ReLU-pool-Linear; some conv biases are set so the channels never fire."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _kaiming(weight: torch.Tensor) -> None:
    """He-normal init for a layer followed by a ReLU-like activation."""
    nn.init.kaiming_normal_(weight, nonlinearity="relu")


def build_cnn_relu_deadbias(seed: int = 0) -> nn.Module:
    """CNN, He init; conv1 channels 0-5 and conv2 channels 3 and 7 are dead (bias -100)."""
    with _seeded(seed):
        model = DeadBiasCNN()
        _init_weights(model, _kaiming)
    with torch.no_grad():
        model.conv1.bias[:6] = DEAD_BIAS
        model.conv2.bias[[3, 7]] = DEAD_BIAS
    return model.eval()


class TinyEncoderBlock(nn.Module):
    """Embedding + one post-LN transformer encoder block with explicit multi-head attention."""

    def __init__(self, vocab: int = 1000, dim: int = 64, heads: int = 4, ffn: int = 256) -> None:
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.embed = nn.Embedding(vocab, dim)
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.attn_out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim)
        self.ffn_in = nn.Linear(dim, ffn)
        self.ffn_out = nn.Linear(ffn, dim)
        self.ffn_norm = nn.LayerNorm(dim)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, seq, dim] -> [batch, heads, seq, dim / heads]."""
        batch, seq, dim = x.shape
        return x.view(batch, seq, self.heads, dim // self.heads).transpose(1, 2)

    def _attention(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        """Scaled dot-product self-attention over all heads, merged back to [batch, seq, dim]."""
        q, k, v = (self._split_heads(proj(x)) for proj in (self.query, self.key, self.value))
        scores = (q @ k.transpose(-2, -1)) * self.scale + additive_mask
        context = F.softmax(scores, dim=-1) @ v
        return self.attn_out(context.transpose(1, 2).reshape(x.shape))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids)
        keep = attention_mask[:, None, None, :].to(x.dtype)
        additive_mask = (1.0 - keep) * torch.finfo(x.dtype).min
        x = self.attn_norm(x + self._attention(x, additive_mask))
        hidden = F.gelu(self.ffn_in(x))
        return self.ffn_norm(x + self.ffn_out(hidden))


def build_transformer_block(seed: int = 0) -> nn.Module:
    """Tiny encoder block (vocab 1000, dim 64, 4 heads, FFN 256, erf GELU), PyTorch default init."""
    with _seeded(seed):
        model = TinyEncoderBlock()
    return model.eval()


class SiluHardswishCNN(nn.Module):
    """Conv-SiLU, Conv-Hardswish, Conv-silu (functional), pool, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.silu = nn.SiLU()
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.hardswish = nn.Hardswish()
        self.conv3 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.silu(self.conv1(x))
        x = self.hardswish(self.conv2(x))
        x = F.silu(self.conv3(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def build_cnn_silu_hardswish(seed: int = 0) -> nn.Module:
    """CNN with SiLU / Hardswish modules and a functional silu, He init."""
    with _seeded(seed):
        model = SiluHardswishCNN()
        _init_weights(model, _kaiming)
    return model.eval()


def _mixed_activations() -> list[tuple[str, nn.Module]]:
    """One of each remaining activation kind, in layer order."""
    return [
        ("tanh", nn.Tanh()),
        ("elu", nn.ELU()),
        ("selu", nn.SELU()),
        ("celu", nn.CELU()),
        ("softplus", nn.Softplus()),
        ("softsign", nn.Softsign()),
        ("leaky_relu", nn.LeakyReLU(0.01)),
        ("relu6", nn.ReLU6()),
        ("hardtanh", nn.Hardtanh()),
        ("hardsigmoid", nn.Hardsigmoid()),
        ("prelu", nn.PReLU()),
        ("mish", nn.Mish()),
        ("gelu_tanh", nn.GELU(approximate="tanh")),
    ]


def build_mlp_mixed(seed: int = 0) -> nn.Module:
    """MLP 16 -> 32 x 13 -> 10, a different activation per layer, LogSoftmax head, Xavier init."""
    acts = _mixed_activations()
    with _seeded(seed):
        model = _mlp((16,) + (32,) * len(acts), acts, 10)
        model.add_module("log_softmax", nn.LogSoftmax(dim=-1))
        _init_weights(model, nn.init.xavier_uniform_)
    return model.eval()


def build_softmax_hot(seed: int = 0) -> nn.Module:
    """Linear(16, 10) with weights scaled by 50, then Softmax: rows collapse to one-hot."""
    with _seeded(seed):
        model = nn.Sequential(OrderedDict(fc=nn.Linear(16, 10), softmax=nn.Softmax(dim=-1)))
    with torch.no_grad():
        model.fc.weight.mul_(50.0)
    return model.eval()


BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "mlp_sigmoid_badinit": build_mlp_sigmoid_badinit,
    "mlp_sigmoid_xavier": build_mlp_sigmoid_xavier,
    "cnn_relu_deadbias": build_cnn_relu_deadbias,
    "transformer_block": build_transformer_block,
    "cnn_silu_hardswish": build_cnn_silu_hardswish,
    "mlp_mixed": build_mlp_mixed,
    "softmax_hot": build_softmax_hot,
}
