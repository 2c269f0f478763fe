"""An Optimum-style ONNX folder (model.onnx beside config.json and tokenizer files).

The graph is an ordinary OnnxModel; the folder's tokenizer rides on the handle for --text. The
graph's inputs are whatever the export declared (input_ids, attention_mask, token_type_ids ...).

Sites get the names the PyTorch capture gives the same checkpoint. The dynamo exporter's scopes
already do (onnx/names.py); a TorchScript-exporter graph names nodes by module path
(`/model/layers.0/mlp/act_fn/Sigmoid`), and its site is renamed by the module it ran in: the
module itself (`model.layers.0.mlp.act_fn`) when that module holds this one site and no weighted
op (an activation module), else `<module>:<kind>#<k>` as a functional call
(`model.layers.0.self_attn:softmax#0`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

from saturate_cli.model.onnx.handle import OnnxModel
from saturate_cli.model.onnx.names import module_path

WEIGHTED_OPS = ("MatMul", "Gemm", "Conv", "ConvTranspose", "MatMulInteger", "QLinearMatMul")
POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len")


def load_onnx_folder(folder: Path, settings, providers: list[str]) -> OnnxModel:
    """The folder's model.onnx, with `tokenizer` set (None without tokenizer files)."""
    handle = OnnxModel(folder / "model.onnx", settings.memory_budget, settings.threads,
                       providers)
    renamed = module_names(handle)
    handle.sites = [replace(s, name=renamed.get(s.name, s.name)) for s in handle.sites]
    handle.tokenizer = None
    if settings.text:  # transformers is needed only to tokenize
        from saturate_cli.model.torch.hf import load_tokenizer

        handle.tokenizer = load_tokenizer(folder, handle.notes)
        limit = _max_positions(folder)
        if handle.tokenizer is not None and limit:
            handle.tokenizer.model_max_length = min(handle.tokenizer.model_max_length or limit,
                                                    limit)
    return handle


def module_names(handle: OnnxModel) -> dict[str, str]:
    """Site name -> module-path name, for sites named by a TorchScript exporter's node path."""
    nodes = handle.model.graph.node
    by_name = {n.name: n for n in nodes if n.name}
    weighted = {module_path(n) for n in nodes if n.op_type in WEIGHTED_OPS}
    owners = {s.name: module_path(by_name[s.name]) for s in handle.sites
              if s.name.startswith("/") and s.name in by_name}
    owners = {k: v for k, v in owners.items() if v}
    sites_in = Counter(owners.values())
    calls: Counter = Counter()
    out = {}
    for site in handle.sites:
        owner = owners.get(site.name)
        if owner is None:
            continue
        if sites_in[owner] == 1 and owner not in weighted:
            out[site.name] = owner
        else:
            out[site.name] = f"{owner}:{site.kind}#{calls[(owner, site.kind)]}"
            calls[(owner, site.kind)] += 1
    return out


def _max_positions(folder: Path):
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = [config.get(k) for k in POSITION_KEYS if isinstance(config.get(k), int)]
    return found[0] if found else None
