"""Dask as the engine (LocalCluster on loopback): the shards' merged report is the single
run's, byte for byte, also when a worker dies mid-run and Dask reruns its shard; without
Dask, --workers is one line naming the extra."""

from __future__ import annotations

import functools
import importlib.util
import os
import sys

import pytest
from conftest import run_cli

needs_dask = pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                                reason="dask.distributed not installed (saturate-cli[dask])")
CASES = [("mlp_sigmoid_badinit.onnx", "data/mlp_calib.npz"),
         ("transformer_block.onnx", "data/transformer_calib.npz"),
         ("cnn_silu_hardswish.onnx", None)]


def _settings(samples, calib):
    from saturate_cli.settings import Settings

    return Settings(calibration=(str(samples / calib),) if calib else (), samples=None if calib
                    else 24, batch_size=4)


def _single(samples, model, calib) -> str:
    from saturate_cli.pipeline import inspect_model
    from saturate_cli.render import renderer

    return renderer("json")([inspect_model(str(samples / model), _settings(samples, calib))])


def test_without_dask_the_error_names_the_extra(samples, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    got = run_cli("inspect", str(samples / CASES[0][0]), "--workers", "2")
    assert got.exit_code == 2
    assert got.stderr.count("\n") == 1 and "saturate-cli[dask]" in got.stderr


@needs_dask
def test_two_workers_equal_one_run_on_the_sample_models(samples):
    from distributed import Client, LocalCluster

    from saturate_cli.render import renderer
    from saturate_cli.shard.dask_engine import run_on

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        for model, calib in CASES:
            report = run_on(client, str(samples / model), _settings(samples, calib))
            assert renderer("json")([report]) == _single(samples, model, calib)


@needs_dask
def test_cli_workers_2_equals_one_run(samples, tmp_path):
    model, calib = CASES[0]
    args = ["inspect", str(samples / model), "-c", str(samples / calib), "-b", "4", "-f", "json"]
    one = run_cli(*args)
    out = tmp_path / "dask.json"
    got = run_cli(*args, "--workers", "2", "-o", str(out))
    assert got.exit_code == one.exit_code == 1, got.stderr
    assert out.read_text() == one.stdout


def crash_once(marker: str, target, settings, index, count, batch_given):
    """Shard 0's first attempt kills its worker process (a node lost mid-run)."""
    from saturate_cli.shard.dask_engine import shard_task

    if index == 0 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return shard_task(target, settings, index, count, batch_given)


@needs_dask
def test_a_worker_lost_mid_run_is_rerun_and_the_result_is_exact(samples, tmp_path):
    import cloudpickle
    from distributed import Client, LocalCluster

    from saturate_cli.render import renderer
    from saturate_cli.shard.dask_engine import run_on

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import us
    model, calib = CASES[0]
    marker = tmp_path / "crashed"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        report = run_on(client, str(samples / model), _settings(samples, calib), 2,
                        task=functools.partial(crash_once, str(marker)))
    assert marker.exists()  # the worker did die
    assert renderer("json")([report]) == _single(samples, model, calib)


@needs_dask
def test_cli_scheduler_address_equals_one_run(samples, tmp_path):
    from distributed import LocalCluster

    model, calib = CASES[1]
    args = ["inspect", str(samples / model), "-c", str(samples / calib), "-b", "4", "-f", "json"]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        got = run_cli(*args, "--scheduler", cluster.scheduler_address)
    one = run_cli(*args)
    assert got.exit_code == one.exit_code and got.stdout == one.stdout, got.stderr
