"""An Optimum-style ONNX folder (model.onnx beside config.json and tokenizer files).

The graph is an ordinary OnnxModel; the folder's tokenizer rides on the handle for --text. The
graph's inputs are whatever the export declared (input_ids, attention_mask, token_type_ids ...).
"""

from __future__ import annotations

from pathlib import Path

from saturate_cli.model.onnx.handle import OnnxModel


def load_onnx_folder(folder: Path, settings, providers: list[str]) -> OnnxModel:
    """The folder's model.onnx, with `tokenizer` set (None without tokenizer files)."""
    handle = OnnxModel(folder / "model.onnx", settings.memory_budget, settings.threads,
                       providers)
    handle.tokenizer = None
    if settings.text:  # transformers is needed only to tokenize
        from saturate_cli.model.torch.hf import load_tokenizer

        handle.tokenizer = load_tokenizer(folder, handle.notes)
    return handle
