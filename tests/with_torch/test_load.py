"""Every form a PyTorch model is kept in, and every refusal, through the CLI (exit codes)."""

from __future__ import annotations

import json
import pickle

import pytest

torch = pytest.importorskip("torch")

from conftest import SAMPLES, run_cli  # noqa: E402

FACTORY = f"{SAMPLES}/models.py:build_cnn_relu_deadbias"
QUICK = ("-q", "-f", "json", "-n", "4", "-b", "4", "--exit-zero")


class _WritesFile:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _sites(result) -> list[str]:
    assert result.exit_code == 0, result.stderr
    return [s["name"] for s in json.loads(result.stdout)["sites"]]


@pytest.mark.parametrize("target", [
    FACTORY, str(SAMPLES / "cnn_relu_deadbias.ts"), str(SAMPLES / "cnn_relu_deadbias.pt2")])
def test_each_saved_form_loads(target):
    assert _sites(run_cli("inspect", target, *QUICK)) == ["relu1", ":relu#0"]


def test_factory_with_weights_plain_nested_and_safetensors(tmp_path):
    from safetensors.torch import save_file

    state = torch.load(SAMPLES / "cnn_relu_deadbias.state_dict.pt", weights_only=True)
    torch.save({"epoch": 3, "state_dict": state}, tmp_path / "nested.ckpt")
    save_file(state, str(tmp_path / "w.safetensors"))
    for weights in (SAMPLES / "cnn_relu_deadbias.state_dict.pt", tmp_path / "nested.ckpt",
                    tmp_path / "w.safetensors"):
        out = run_cli("inspect", f"{SAMPLES}/models.py:build_cnn_relu_deadbias", "--arg",
                      "seed=5", "--weights", str(weights), *QUICK)
        report = json.loads(out.stdout)
        dead = report["sites"][0]["saturation"]["dead_unit_indices"]
        assert dead[:6] == [0, 1, 2, 3, 4, 5], weights  # the checkpoint's dead bias, not seed 5


def test_state_dict_key_mismatch_lists_keys():
    out = run_cli("inspect", FACTORY, "--weights", str(SAMPLES / "mlp_mixed.state_dict.pt"),
                  *QUICK)
    assert out.exit_code == 2
    assert "missing key(s): conv1.bias" in out.stderr and "unexpected key(s): fc1.bias" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_state_dict_alone_asks_for_a_factory():
    out = run_cli("inspect", str(SAMPLES / "cnn_relu_deadbias.state_dict.pt"), *QUICK)
    assert out.exit_code == 2 and "--weights" in out.stderr and "factory" in out.stderr


def test_pickled_module_refused_without_flag_and_no_code_runs(tmp_path):
    marker = tmp_path / "PWNED"
    torch.save({"model": _WritesFile(marker)}, tmp_path / "evil.pt")
    (tmp_path / "evil.pth").write_bytes(pickle.dumps(_WritesFile(marker), protocol=2))
    for name in ("evil.pt", "evil.pth"):
        out = run_cli("inspect", str(tmp_path / name), *QUICK)
        assert out.exit_code == 2 and "--trust-pickle" in out.stderr, out.stderr
        assert not marker.exists()


def test_pickled_module_loads_with_trust_flag(tmp_path):
    import sys

    sys.path.insert(0, str(SAMPLES))
    try:
        from models import build_cnn_relu_deadbias

        torch.save(build_cnn_relu_deadbias(), tmp_path / "whole.pt")
        assert run_cli("inspect", str(tmp_path / "whole.pt"), *QUICK).exit_code == 2
        out = run_cli("inspect", str(tmp_path / "whole.pt"), "--trust-pickle", *QUICK)
        assert _sites(out) == ["relu1", ":relu#0"]
    finally:
        sys.path.remove(str(SAMPLES))


@pytest.mark.parametrize("content,says", [(b"", "empty"), (b"not a model at all\n", "tried"),
                                          (bytes(range(256)) * 8, "tried")])
def test_unknown_file_names_what_was_tried(tmp_path, content, says):
    """The content decides the format: a file that is none says what was tried (or that it is
    empty), whatever its name."""
    path = tmp_path / "thing.pt"
    path.write_bytes(content)
    out = run_cli("inspect", str(path), *QUICK)
    assert out.exit_code == 2 and says in out.stderr


def test_factory_errors_are_one_line(tmp_path):
    for target in ("no_such_module_xyz:build", f"{SAMPLES}/models.py:no_such_fn"):
        out = run_cli("inspect", target, *QUICK)
        assert out.exit_code == 2 and len(out.stderr.strip().splitlines()) == 1


def test_input_shape_needed_when_it_cannot_be_inferred(tmp_path):
    (tmp_path / "odd.py").write_text(
        "import torch\nclass M(torch.nn.Module):\n"
        "    def forward(self, x):\n        return torch.sigmoid(x)\n"
        "def build():\n    return M()\n")
    out = run_cli("inspect", f"{tmp_path}/odd.py:build", *QUICK)
    assert out.exit_code == 2 and "--input-shape x=" in out.stderr
    out = run_cli("inspect", f"{tmp_path}/odd.py:build", "--input-shape", "x=1x7", *QUICK)
    assert _sites(out) == [":sigmoid#0"]
