"""--device cuda: where no GPU (or no GPU runtime) is present, every form of model and every
engine says so in one line with exit 2; where a GPU is present, the GPU run reports what the
CPU run reports."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from conftest import run_cli

FORMS = ("mlp_sigmoid_badinit.pt2", "mlp_sigmoid_badinit.ts",
         "models.py:build_mlp_sigmoid_badinit")


def _target(samples, form: str) -> str:
    return str(samples / form)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
@pytest.mark.parametrize("form", FORMS)
def test_cuda_without_a_gpu_is_one_line(samples, form):
    got = run_cli("inspect", _target(samples, form), "--device", "cuda", "-n", "8")
    assert got.exit_code == 2
    line = got.stderr.strip()
    assert "\n" not in line and "--device cuda" in line and "CUDA is not available" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_one_line_through_shards_and_workers(samples):
    target = _target(samples, FORMS[0])
    got = run_cli("inspect", target, "--device", "cuda:1", "-n", "8", "--shard", "0/2")
    assert got.exit_code == 2 and "CUDA is not available" in got.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
@pytest.mark.parametrize("form", FORMS)
def test_cuda_reports_what_cpu_reports(samples, form):
    args = ["inspect", _target(samples, form), "-n", "64", "-f", "json"]
    cpu, gpu = (json.loads(run_cli(*args, "--device", d).stdout) for d in ("cpu", "cuda"))
    for c, g in zip(cpu["sites"], gpu["sites"]):
        assert g["stats"]["count"] == c["stats"]["count"]
        assert g["stats"]["mean"] == pytest.approx(c["stats"]["mean"], rel=1e-4, abs=1e-5)
        assert g["stats"]["std"] == pytest.approx(c["stats"]["std"], rel=1e-4)
        assert g["saturation"]["fraction"] == pytest.approx(c["saturation"]["fraction"],
                                                            abs=1e-3)
