"""A Hugging Face checkpoint folder (config.json + weights + tokenizer) as a TorchModel.

The model is built by transformers from the folder's files only (`local_files_only`: never a
network call), in eval mode, on --device; `pytorch_model.bin` weights load with
`weights_only=True`. Its inputs are those its tokenizer gives and its forward() takes
(input_ids, attention_mask, token_type_ids ...), fed by name; the tokenizer rides on the handle
for --text. Sites are named by module path, as print(model) shows them.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Optional

from saturate_cli.errors import ModelLoadError, first_line
from saturate_cli.types import InputSpec

HF_EXTRA = "pip install 'saturate-cli[hf]'"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model",
                   "tokenizer.model")
DEFAULT_INPUTS = ("input_ids", "attention_mask")
ATTN = ("eager", "sdpa")  # --attn choices (flash attention needs a GPU build)


def is_checkpoint(folder: Path) -> bool:
    """A folder saved by save_pretrained: config.json beside weights."""
    return (folder / "config.json").is_file() and any((folder / n).is_file()
                                                       for n in WEIGHT_FILES)


def transformers_module():
    """transformers, or the one-line error naming the extra to install."""
    try:
        import transformers
    except ImportError as exc:
        raise ModelLoadError(f"Hugging Face checkpoints need the hf extra: {HF_EXTRA} "
                             f"({exc})") from None
    return transformers


def load_tokenizer(folder: Path, notes: list):
    """The folder's own tokenizer (None when it has none); a pad token where it lacks one."""
    if not any((folder / n).is_file() for n in TOKENIZER_FILES):
        return None
    transformers = transformers_module()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder),
                                                               local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - a broken tokenizer file fails anywhere
        raise ModelLoadError(f"{folder}: cannot read its tokenizer: {type(exc).__name__}: "
                             f"{first_line(exc)}") from None
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
        notes.append(f"the tokenizer has no pad token: padding with its end-of-sequence token "
                     f"{tokenizer.eos_token!r} (padded positions are left out of the statistics)")
    return tokenizer


def _model_class(transformers, config):
    for name in getattr(config, "architectures", None) or ():
        cls = getattr(transformers, name, None)
        if cls is not None:
            return cls
    return transformers.AutoModel


def _build(folder: Path, attn: Optional[str]):
    transformers = transformers_module()
    if attn is not None and attn not in ATTN:
        raise ModelLoadError(f"--attn {attn}: choose one of {', '.join(ATTN)}")
    transformers.utils.logging.disable_progress_bar()  # stderr is for saturate's own lines
    try:
        config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
        cls = _model_class(transformers, config)
        extra = {"attn_implementation": attn} if attn else {}
        model = cls.from_pretrained(str(folder), config=config, local_files_only=True,
                                    weights_only=True, **extra)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds
        raise ModelLoadError(f"{folder}: transformers cannot build this checkpoint: "
                             f"{type(exc).__name__}: {first_line(exc)}") from None
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False  # no key/value cache kept for a measurement pass
    return model


def input_names(model, tokenizer) -> list[str]:
    """What the tokenizer gives and forward() takes, input_ids first."""
    given = list(getattr(tokenizer, "model_input_names", None) or DEFAULT_INPUTS)
    if "attention_mask" not in given:
        given.append("attention_mask")
    params = inspect.signature(model.forward).parameters
    names = [n for n in given if n in params]
    return sorted(names, key=lambda n: n != "input_ids")


def input_specs(model, names: list[str]) -> list[InputSpec]:
    """Token inputs [batch, sequence] of int64; ids and token types know their table size."""
    config = model.config
    vocab = {"input_ids": getattr(config, "vocab_size", None),
             "token_type_ids": getattr(config, "type_vocab_size", None)}
    return [InputSpec(n, ("batch", "sequence"), "int64", vocab.get(n)) for n in names]


def _max_positions(config) -> Optional[int]:
    for key in ("max_position_embeddings", "n_positions", "max_seq_len"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def load_checkpoint(folder: Path, settings):
    """The TorchModel of a checkpoint folder, with `tokenizer` set (None without one)."""
    from saturate_cli.model.torch.capture import EagerCapture
    from saturate_cli.model.torch.handle import TorchModel
    from saturate_cli.model.torch.load import _device

    device = _device(settings)
    model = _build(folder, settings.attn).eval().to(device)
    notes: list[str] = []
    tokenizer = load_tokenizer(folder, notes)
    limit = _max_positions(model.config)
    if tokenizer is not None and limit:
        tokenizer.model_max_length = min(tokenizer.model_max_length or limit, limit)
    names = input_names(model, tokenizer)
    handle = TorchModel(str(folder), "huggingface", EagerCapture(model),
                        input_specs(model, names), device, tuple(names))
    handle.tokenizer = tokenizer
    handle.notes.extend(notes)
    implementation = getattr(model.config, "_attn_implementation", None)
    if implementation not in (None, "eager"):
        handle.notes.append(f"attention runs as {implementation}: its softmax is fused and not "
                            "measured; --attn eager builds the model with eager attention and "
                            "measures it")
    return handle
