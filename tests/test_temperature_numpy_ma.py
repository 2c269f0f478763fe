"""The softmax diagnosis computes np.union1d's and np.quantile's values without them (they import
numpy.ma, ~15 ms a run): the same values, bit for bit, and a softmax run imports no numpy.ma."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import SAMPLES

from saturate_cli.diagnose.temperature import linear_quantile, sorted_union


@pytest.mark.parametrize("bins", [1, 4, 20])
@pytest.mark.parametrize("tau", [1e-6, 0.03, 0.05, 0.25, 0.5])
def test_sorted_union_is_union1d(bins, tau):  # 0.25 with 4 bins and 0.5: on an edge already
    a, b = np.linspace(0.0, 1.0, bins + 1), [1.0 - tau]
    got, want = sorted_union(a, b), np.union1d(a, b)
    assert got.dtype == want.dtype and got.tolist() == want.tolist()


def test_sorted_union_of_repeats_and_any_order():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.integers(-5, 5, rng.integers(1, 12)).astype(np.float64) / 4
        b = rng.integers(-5, 5, rng.integers(1, 4)).astype(np.float64) / 4
        assert sorted_union(a, b).tolist() == np.union1d(a, b).tolist()


def test_linear_quantile_is_numpy_quantile():
    rng = np.random.default_rng(1)
    for n in [1, 2, 3, 7, 20, 21, 100, 101]:
        for _ in range(20):
            values = np.exp(rng.normal(0, 3, n))
            values[rng.integers(0, n, n // 3)] = values[0]  # ties
            for q in [0.0, 0.3, 0.5, 0.95, 0.999, 1.0]:
                assert linear_quantile(values, q) == float(np.quantile(values, q)), (n, q)


def test_a_softmax_run_imports_no_numpy_ma():
    # softmax_hot: a collapsed softmax, so the temperature search runs too
    probe = ("import contextlib, io, json, sys\n"
             "sys.argv = ['saturate', 'inspect', sys.argv[1], '-f', 'json', '-q']\n"
             "from saturate_cli.cli import main\nout = io.StringIO()\n"
             "with contextlib.redirect_stdout(out):\n"
             "    try:\n        main()\n    except SystemExit:\n        pass\n"
             "site = json.loads(out.getvalue())['sites'][0]\n"
             "print('row_max_histogram' in site['saturation'], 'numpy.ma' in sys.modules)\n"
             "print(' '.join(f['code'] for f in site['findings']))\n")
    done = subprocess.run([sys.executable, "-c", probe, str(SAMPLES / "softmax_hot.onnx")],
                          capture_output=True, text=True, timeout=300, check=False)
    lines = done.stdout.splitlines()
    assert lines[:1] == ["True False"], done.stderr
    assert "SAT201" in lines[1].split()
