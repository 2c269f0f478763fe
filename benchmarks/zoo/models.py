"""The heavy zoo's PyTorch models: architectures others made, built from PyPI packages only
(torchvision with weights=None, transformers from small configs, an LSTM/GRU model), each
wrapped so forward(**inputs) returns one tensor. `build(name)` is also the factory target
`saturate inspect benchmarks/zoo/models.py:build --arg name=NAME --weights W.pt`."""

from __future__ import annotations

import torch
from torch import nn

VISION = ("resnet18", "mobilenet_v3_small", "efficientnet_b0", "shufflenet_v2_x0_5",
          "squeezenet1_1")
TEXT = ("bert", "gpt2", "vit", "whisper", "t5")
NAMES = VISION + TEXT + ("lstm_gru",)
BATCH = 4


class Vision(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


class _HF(nn.Module):
    """A transformers model; forward returns last_hidden_state."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def _run(self, **kw):
        return self.net(**kw, return_dict=True).last_hidden_state


class HFBert(_HF):
    def forward(self, input_ids, attention_mask):
        return self._run(input_ids=input_ids, attention_mask=attention_mask)


class HFIds(_HF):
    def forward(self, input_ids):
        return self._run(input_ids=input_ids)


class HFPixels(_HF):
    def forward(self, pixel_values):
        return self._run(pixel_values=pixel_values)


class HFWhisper(_HF):
    def forward(self, input_features, decoder_input_ids):
        return self._run(input_features=input_features, decoder_input_ids=decoder_input_ids)


class HFT5(_HF):
    def forward(self, input_ids, decoder_input_ids):
        return self._run(input_ids=input_ids, decoder_input_ids=decoder_input_ids)


WRAP = {"bert": HFBert, "gpt2": HFIds, "vit": HFPixels, "whisper": HFWhisper, "t5": HFT5}


class LstmGru(nn.Module):
    """LSTM then GRU then a tanh/sigmoid head (fused RNN gates are out of the tool's reach)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.gru = nn.GRU(32, 32, batch_first=True)
        self.fc = nn.Linear(32, 8)
        self.act = nn.Tanh()
        self.gate = nn.Sigmoid()

    def forward(self, x):
        h, _ = self.lstm(x)
        h, _ = self.gru(h)
        y = self.fc(h)
        return self.act(y) * self.gate(y)


def _hf(name: str) -> nn.Module:
    import transformers as tf
    small = dict(attn_implementation="eager")
    if name == "bert":
        cfg = tf.BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=128, **small)
        return tf.BertModel(cfg, add_pooling_layer=False)  # dead code once traced
    if name == "gpt2":
        cfg = tf.GPT2Config(vocab_size=1000, n_embd=64, n_layer=2, n_head=2, n_positions=64,
                            bos_token_id=1, eos_token_id=2,
                            **small)
        return tf.GPT2Model(cfg)
    if name == "vit":
        cfg = tf.ViTConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=128, **small)
        return tf.ViTModel(cfg, add_pooling_layer=False)
    if name == "whisper":
        cfg = tf.WhisperConfig(vocab_size=1000, num_mel_bins=80, d_model=64, encoder_layers=2,
                               decoder_layers=2, encoder_attention_heads=2,
                               decoder_attention_heads=2, encoder_ffn_dim=128,
                               decoder_ffn_dim=128, max_source_positions=50,
                               max_target_positions=32, pad_token_id=0, bos_token_id=1,
                               eos_token_id=2, decoder_start_token_id=1, **small)
        return tf.WhisperModel(cfg)
    if name == "t5":
        cfg = tf.T5Config(vocab_size=1000, d_model=64, d_kv=32, d_ff=128, num_layers=2,
                          num_heads=2, decoder_start_token_id=0, **small)
        return tf.T5Model(cfg)
    raise KeyError(name)


def build(name: str = "resnet18", seed: int = 0) -> nn.Module:
    """The model `name`, freshly initialised with `seed`, in eval mode."""
    torch.manual_seed(seed)
    if name in VISION:
        import torchvision
        model = Vision(getattr(torchvision.models, name)(weights=None))
    elif name in TEXT:
        model = WRAP[name](_hf(name))
    elif name == "lstm_gru":
        model = LstmGru()
    else:
        raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(NAMES)}")
    return model.eval()


def example_inputs(name: str, seed: int = 0) -> dict:
    """The model's own example inputs (the calibration data), keyed by forward argument."""
    g = torch.Generator().manual_seed(seed)
    ids = lambda n: torch.randint(0, 1000, (BATCH, n), generator=g)  # noqa: E731
    if name in VISION:
        return {"x": torch.randn(BATCH, 3, 64, 64, generator=g)}
    if name == "bert":
        return {"input_ids": ids(16), "attention_mask": torch.ones(BATCH, 16, dtype=torch.long)}
    if name == "gpt2":
        return {"input_ids": ids(16)}
    if name == "vit":
        return {"pixel_values": torch.randn(BATCH, 3, 32, 32, generator=g)}
    if name == "whisper":
        return {"input_features": torch.randn(BATCH, 80, 100, generator=g),
                "decoder_input_ids": ids(8)}
    if name == "t5":
        return {"input_ids": ids(16), "decoder_input_ids": ids(8)}
    if name == "lstm_gru":
        return {"x": torch.randn(BATCH, 10, 16, generator=g)}
    raise KeyError(name)
