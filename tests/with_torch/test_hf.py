"""Hugging Face checkpoint folders and --text: tiny BERT, GPT-2 and LLaMA built from configs,
saved with save_pretrained, a WordLevel tokenizer built here; every number checked against
forward hooks of our own in numpy float64, padded positions left out by the test itself."""

from __future__ import annotations

import json
import socket
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from conftest import run_cli  # noqa: E402
from saturate_cli.pipeline import inspect_model  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402

WORDS = "the a cat dog sat on mat ran fast slow red blue big small house tree".split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
VOCAB = len(SPECIALS) + len(WORDS)
# lengths 1 to 12 tokens: every batch of 3 pads some rows by several positions
TEXTS = ["the cat sat on the mat", "dog", "a big red house ran fast on the slow blue tree mat",
         "small tree", "the dog sat", "red blue big small house tree the a cat dog sat on",
         "cat", "the mat ran"]
BATCH = 3

CONFIGS = {
    "bert": lambda: transformers.BertModel(transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64)),
    "gpt2": lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=VOCAB, n_embd=16, n_layer=2, n_head=2, n_positions=64, bos_token_id=2,
        eos_token_id=3)),
    "llama": lambda: transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, intermediate_size=32, max_position_embeddings=64,
        bos_token_id=2, eos_token_id=3, pad_token_id=0)),
}
# the activation modules print(model) shows, in call order, and their kinds
SITES = {
    "bert": [("encoder.layer.0.intermediate.intermediate_act_fn", "gelu"),
             ("encoder.layer.1.intermediate.intermediate_act_fn", "gelu"),
             ("pooler.activation", "tanh")],
    "gpt2": [("transformer.h.0.mlp.act", "gelu_tanh"), ("transformer.h.1.mlp.act", "gelu_tanh")],
    "llama": [("model.layers.0.mlp.act_fn", "silu"), ("model.layers.1.mlp.act_fn", "silu")],
}


def save_tokenizer(folder, kind: str) -> None:
    """A WordLevel tokenizer over WORDS; BERT's gives token type ids, LLaMA's pads on the left."""
    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
        sep_token="[SEP]", padding_side="left" if kind == "llama" else "right",
        model_input_names=["input_ids", "token_type_ids", "attention_mask"] if kind == "bert"
        else ["input_ids", "attention_mask"])
    fast.save_pretrained(str(folder))


def build_checkpoint(root, kind: str):
    torch.manual_seed(0)
    folder = root / kind
    CONFIGS[kind]().save_pretrained(str(folder))
    save_tokenizer(folder, kind)
    return folder


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    (root / "samples.txt").write_text("\n".join(TEXTS) + "\n\n")  # a blank line is skipped
    return root, {kind: build_checkpoint(root, kind) for kind in CONFIGS}


def hooked(folder, kind: str, attn=None) -> dict:
    """Each activation module's inputs at the unpadded positions, float64, by our own hooks
    on a model built here, batches tokenized here as the user's tokenizer does."""
    cls = type(CONFIGS[kind]())
    model = cls.from_pretrained(str(folder), **({"attn_implementation": attn} if attn else {}))
    model.eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    modules = dict(model.named_modules())
    seen: dict = {name: [] for name, _ in SITES[kind]}
    mask = {}
    handles = [modules[name].register_forward_pre_hook(
        lambda m, args, name=name: seen[name].append((args[0].detach().double().numpy(),
                                                      mask["now"])))
        for name in seen]
    with torch.no_grad():
        for i in range(0, len(TEXTS), BATCH):
            enc = tok(TEXTS[i:i + BATCH], padding=True, return_tensors="pt")
            mask["now"] = enc["attention_mask"].numpy().astype(bool)
            model(**enc)
    for h in handles:
        h.remove()
    out = {}
    for name, calls in seen.items():
        valid = [x[m] if x.ndim == 3 else x for x, m in calls]
        every = [x.reshape(-1, x.shape[-1]) for x, _ in calls]
        out[name] = (np.concatenate(valid), np.concatenate(every))
    return out


def inspect(folder, text, **settings):
    return inspect_model(str(folder), Settings(text=str(text), batch_size=BATCH, **settings))


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_sites_and_statistics_against_hooks_padding_left_out(checkpoints, kind):
    root, folders = checkpoints
    report = inspect(folders[kind], root / "samples.txt")
    assert report.model["format"] == "huggingface"
    assert [(s.name, s.kind) for s in report.sites] == SITES[kind]
    truth = hooked(folders[kind], kind)
    for site in report.sites:
        valid, every = truth[site.name]
        if valid.shape != every.shape:  # padding changed the numbers this test checks
            assert abs(every.mean() - valid.mean()) > 1e-3 * valid.std()
        s = site.stats
        assert s["count"] == valid.size and (s["min"], s["max"]) == (valid.min(), valid.max())
        assert s["mean"] == pytest.approx(valid.mean(), rel=1e-5, abs=1e-6 * valid.std())
        assert s["std"] == pytest.approx(valid.std(), rel=1e-5)
    lengths = [len(t.split()) for t in TEXTS]
    padded = sum(max(lengths[i:i + BATCH]) * len(lengths[i:i + BATCH]) - sum(lengths[i:i + BATCH])
                 for i in range(0, len(TEXTS), BATCH))
    notes = report.calibration["notes"]
    assert any(f"{padded} of {sum(lengths) + padded} token positions are padding" in n
               for n in notes), notes
    assert report.calibration["samples"] == len(TEXTS)


def test_bert_gets_token_type_ids_and_the_pooler_is_not_token_wise(checkpoints):
    root, folders = checkpoints
    report = inspect(folders["bert"], root / "samples.txt")
    assert set(report.calibration["shapes"]) == {"input_ids", "token_type_ids",
                                                 "attention_mask"}
    pooler = report.site("pooler.activation")
    assert pooler.stats["count"] == len(TEXTS) * 16  # one row per sample, nothing left out


def test_fused_attention_is_not_covered_and_eager_measures_it(checkpoints):
    root, folders = checkpoints
    fused = inspect(folders["llama"], root / "samples.txt", samples=3)
    assert {u["reason"] for u in fused.not_covered} == {
        "the softmax is fused inside the attention kernel"}
    assert any("--attn eager" in n for n in fused.notes)
    eager = inspect(folders["llama"], root / "samples.txt", attn="eager")
    assert not eager.not_covered
    rows = [s for s in eager.sites if s.kind == "softmax"]
    assert [s.name for s in rows] == ["model.layers.0.self_attn:softmax#0",
                                      "model.layers.1.self_attn:softmax#0"]
    # every query row of every head is a row, padded queries too (their keys are masked)
    lengths = [max(len(t.split()) for t in TEXTS[i:i + BATCH]) * len(TEXTS[i:i + BATCH])
               for i in range(0, len(TEXTS), BATCH)]
    assert rows[0].saturation["rows"] == 2 * sum(lengths)
    truth = hooked(folders["llama"], "llama", attn="eager")
    act = eager.site("model.layers.0.mlp.act_fn")
    assert act.stats["count"] == truth["model.layers.0.mlp.act_fn"][0].size


def test_no_network_socket_is_opened(checkpoints, monkeypatch):
    root, folders = checkpoints

    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    report = inspect(folders["gpt2"], root / "samples.txt", samples=3)
    assert len(report.sites) == 2


def test_pytorch_model_bin_loads_as_the_safetensors_checkpoint(checkpoints, tmp_path):
    root, folders = checkpoints
    folder = build_checkpoint(tmp_path, "llama")
    state = transformers.LlamaForCausalLM.from_pretrained(str(folder)).state_dict()
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    report = inspect(folder, root / "samples.txt")
    want = inspect(folders["llama"], root / "samples.txt")
    assert [(s.name, s.stats) for s in report.sites] == [(s.name, s.stats) for s in want.sites]


def test_jsonl_text_field_and_max_length(checkpoints, tmp_path):
    root, folders = checkpoints
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps({"id": i, "body": t}) + "\n" for i, t in enumerate(TEXTS)))
    report = inspect(folders["llama"], path, text_field="body", max_length=4)
    truncated = [min(len(t.split()), 4) for t in TEXTS]
    assert report.site("model.layers.0.mlp.act_fn").stats["count"] == sum(truncated) * 32
    assert any("truncated to 4 tokens" in n for n in report.calibration["notes"])


@pytest.mark.parametrize("body, message", [
    ('{"text": "the cat"}\n{"body": "x"}\n', "line 2 has no text field 'text'"),
    ('{"text": "the cat"}\n{oops\n', None),
    ("\n\n", "no samples"),
])
def test_bad_text_is_one_line_and_exit_two(checkpoints, tmp_path, body, message):
    root, folders = checkpoints
    path = tmp_path / ("samples.jsonl" if message != "no samples" else "samples.txt")
    path.write_text(body)
    result = run_cli("inspect", str(folders["llama"]), "--text", str(path), "-q")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert (message or "line 2 is not JSON") in result.stderr


def test_text_without_a_tokenizer_and_unknown_attn_exit_two(checkpoints, tmp_path):
    root, folders = checkpoints
    folder = tmp_path / "bare"
    CONFIGS["gpt2"]().save_pretrained(str(folder))
    result = run_cli("inspect", str(folder), "--text", str(root / "samples.txt"), "-q")
    assert result.exit_code == 2 and "tokenizer" in result.stderr
    result = run_cli("inspect", str(folders["gpt2"]), "--attn", "flash", "-q")
    assert result.exit_code == 2 and "--attn flash" in result.stderr


def test_without_transformers_the_error_names_the_extra(checkpoints, monkeypatch):
    root, folders = checkpoints
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers fails
    result = run_cli("inspect", str(folders["bert"]), "-q")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "pip install 'saturate-cli[hf]'" in result.stderr


def test_synthetic_ids_without_text_stay_inside_the_vocabulary(checkpoints):
    _, folders = checkpoints
    report = inspect_model(str(folders["bert"]), Settings(samples=4, batch_size=2))
    assert report.calibration["source"].startswith("synthetic")
    assert [s.name for s in report.sites] == [n for n, _ in SITES["bert"]]


def test_producers_gpt2_conv1d_and_the_swiglu_gate(checkpoints):
    root, folders = checkpoints
    gpt2 = inspect(folders["gpt2"], root / "samples.txt", samples=3)
    p = gpt2.site("transformer.h.0.mlp.act").producer
    weight = transformers.GPT2LMHeadModel.from_pretrained(str(folders["gpt2"])) \
        .transformer.h[0].mlp.c_fc.weight.detach().double().numpy()  # Conv1D: [in, out]
    assert weight.shape == (16, 64)
    assert (p["name"], p["op"], p["fan_in"], p["fan_out"], p["channels"], p["bias"]) == (
        "transformer.h.0.mlp.c_fc", "Conv1D", 16, 64, 64, "transformer.h.0.mlp.c_fc.bias")
    assert p["weight_std"] == pytest.approx(weight.std(), rel=1e-9)
    llama = inspect(folders["llama"], root / "samples.txt", samples=3)
    gate = llama.site("model.layers.1.mlp.act_fn").producer  # act(gate_proj(x)) * up_proj(x)
    assert (gate["name"], gate["fan_in"], gate["fan_out"]) == ("model.layers.1.mlp.gate_proj",
                                                               16, 32)


def test_an_rms_norm_between_layer_and_activation_takes_the_advice():
    import saturate_cli as sat

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 12), torch.nn.RMSNorm(12), torch.nn.Tanh())
    with torch.no_grad():
        net[1].weight.fill_(6.0)  # inputs far into tanh's tails: a rescale finding
    report = sat.inspect(net.eval(), calibration=np.random.default_rng(0).normal(
        size=(32, 8)).astype(np.float32))
    site = report.sites[0]
    assert (site.producer["name"], site.producer["norm"], site.producer["norm_op"]) == (
        "0", "1", "RMSNorm")
    tips = [t for f in site.findings for t in f.suggestions if "rescale" in t["kind"]]
    assert tips and all("RMSNorm 1 precedes the site" in t["rationale"] for t in tips)


def test_python_api_takes_text_and_the_report_meets_the_schema(checkpoints):
    jsonschema = pytest.importorskip("jsonschema")
    import saturate_cli as sat
    from conftest import ROOT

    root, folders = checkpoints
    report = sat.inspect(str(folders["bert"]), text=str(root / "samples.txt"), batch_size=BATCH)
    schema = json.loads((ROOT / "saturate_cli" / "schemas" / "report-v1.schema.json").read_text())
    jsonschema.validate(report.to_dict(), schema)
    assert report.calibration["source"] == f"text:{root / 'samples.txt'}"
