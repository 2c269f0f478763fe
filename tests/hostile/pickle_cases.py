"""PyTorch files that are not what they claim, and pickles that would run code."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np

from hostile.make_corpus import FAIL, RAN, SAMPLES, Case, Evil


def _case(name: str, path: Path, why: str, *extra: str, **kw) -> Case:
    return Case(name, (str(path), *extra), FAIL, path.name, why, needs="torch", **kw)


def torch_cases(d: Path) -> list[Case]:
    rng = np.random.default_rng(11)
    (d / "random.pt").write_bytes(rng.bytes(4096))
    (d / "empty.pt").write_bytes(b"")
    (d / "onnx_inside.pt").write_bytes((SAMPLES / "mlp_sigmoid_badinit.onnx").read_bytes())
    (d / "text.pth").write_text("definitely not a checkpoint\n")
    with zipfile.ZipFile(d / "junk_zip.pt", "w") as z:
        z.writestr("archive/data.pkl", rng.bytes(300))
        z.writestr("archive/version", "3\n")
    with zipfile.ZipFile(d / "readme_zip.pt", "w") as z:
        z.writestr("README.txt", "a zip, but not a PyTorch archive")
    pt2 = (SAMPLES / "mlp_sigmoid_badinit.pt2").read_bytes()
    (d / "truncated.pt2").write_bytes(pt2[: len(pt2) // 2])
    ts = (SAMPLES / "mlp_sigmoid_badinit.ts").read_bytes()
    (d / "truncated.ts").write_bytes(ts[: len(ts) // 3])
    cases = [
        _case("pt_random", d / "random.pt", "random bytes named .pt"),
        _case("pt_empty", d / "empty.pt", "empty .pt"),
        Case("pt_onnx_inside", (str(d / "onnx_inside.pt"),), RAN, "",
             "an ONNX model named .pt: the content decides, it loads as ONNX"),
        _case("pt_text", d / "text.pth", "a text file named .pth"),
        _case("pt_junk_zip", d / "junk_zip.pt", "a zip with a junk data.pkl"),
        _case("pt_readme_zip", d / "readme_zip.pt", "a zip that is not a PyTorch archive"),
        _case("pt2_truncated", d / "truncated.pt2", "an exported program cut in half"),
        _case("ts_truncated", d / "truncated.ts", "a TorchScript archive cut at a third"),
        Case("pt_factory_missing", ("no_such_module_xyz:build",), FAIL, "no_such_module_xyz",
             "module:factory naming a module that does not exist", needs="torch"),
        Case("pt_factory_not_module", ("os:getcwd",), FAIL, "os:getcwd",
             "module:factory whose factory returns no nn.Module", needs="torch"),
        _case("pt_state_dict_alone", SAMPLES / "cnn_relu_deadbias.state_dict.pt",
              "a state dict without the factory that builds the network", mentions="factory"),
    ]
    return cases + _pickle_cases(d)


def _pickle_cases(d: Path) -> list[Case]:
    """Pickles that write a marker file when loaded: refused without --trust-pickle."""
    marker = d / "PWNED_pickle"
    payload = Evil(marker)
    raw = d / "evil_legacy.pth"
    raw.write_bytes(pickle.dumps(payload, protocol=2))
    (d / "evil.pkl").write_bytes(pickle.dumps(payload))
    cases = [
        _case("pickle_legacy", raw, "a plain pickle named .pth that runs code when loaded",
              marker=str(marker), mentions="--trust-pickle"),
        Case("pickle_pkl", (str(d / "evil.pkl"),), FAIL, "evil.pkl",
             "a plain pickle with an unknown extension (never unpickled)", marker=str(marker)),
    ]
    try:
        import torch
    except ImportError:
        return cases
    torch.save(payload, d / "evil_zip.pt")
    torch.save({"w": torch.zeros(2**20)}, d / "big_state.pt")  # 4 MiB
    torch.save({"weight": torch.zeros(2), "extra": payload}, d / "evil_state.pt")
    return cases + [
        _case("pickle_torch_save", d / "evil_zip.pt",
              "torch.save of an object whose __reduce__ writes a file",
              marker=str(marker), mentions="--trust-pickle"),
        _case("pickle_in_state_dict", d / "evil_state.pt",
              "a state dict smuggling a code-running object",
              marker=str(marker), mentions="--trust-pickle"),
        _case("pt_over_budget", d / "big_state.pt", "a 4 MiB checkpoint, --memory-budget 1MB",
              "--memory-budget", "1MB", mentions="memory budget"),
    ]
