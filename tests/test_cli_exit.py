"""The process's edges: cli.run() (the entry point that skips the interpreter's teardown) exits
with the codes and output of a plain exit, still runs exit handlers and waits for threads; a
run whose stderr is no terminal never imports rich for its progress bar. Fresh interpreters."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from conftest import SAMPLES

MODEL = SAMPLES / "mlp_sigmoid_badinit.onnx"  # four error findings: exit 1
RUN = "import sys\nsys.argv = ['saturate', *sys.argv[1:]]\nfrom saturate_cli.cli import run\n"


def _python(code: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300, check=False, env=env)


def test_run_exits_with_the_command_codes_and_its_whole_output():
    done = _python(RUN + "run()", "inspect", str(MODEL), "-f", "json", "-q", "-n", "8")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)  # complete: flushed before the exit
    assert report["summary"]["exit_code"] == 1
    assert report["model"]["sha256"] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
    missing = _python(RUN + "run()", "inspect", "no-such-model.onnx", "-q")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip().splitlines() == [
        "saturate: error: no-such-model.onnx: no such file"]
    version = _python(RUN + "run()", "--version")
    assert (version.returncode, version.stdout) == (0, "saturate 0.1.0\n")


def test_run_still_runs_exit_handlers_and_cleans_temporary_folders(tmp_path):
    marks = tmp_path / "marks.txt"
    code = (RUN + "import atexit, tempfile\n"
            f"path = {str(marks)!r}\n"
            "def mark(text):\n    with open(path, 'a') as fh:\n        fh.write(text + '\\n')\n"
            "atexit.register(mark, 'atexit')\n"
            "left = tempfile.TemporaryDirectory()\nmark(left.name)\n"
            "run()\n")
    done = _python(code, "--version")
    assert done.returncode == 0, done.stderr
    folder, handler = marks.read_text().splitlines()
    assert handler == "atexit" and not os.path.exists(folder)


def test_run_waits_for_threads_still_running(tmp_path):
    marks = tmp_path / "marks.txt"
    code = (RUN + "import atexit, threading, time\n"
            f"path = {str(marks)!r}\n"
            "def mark(text):\n    with open(path, 'a') as fh:\n        fh.write(text + '\\n')\n"
            "atexit.register(mark, 'atexit')\n"
            "def late():\n    time.sleep(0.3)\n    mark('thread')\n"
            "threading.Thread(target=late).start()\n"
            "run()\n")
    done = _python(code, "--version")
    assert done.returncode == 0, done.stderr
    assert marks.read_text().splitlines() == ["thread", "atexit"]


def test_no_terminal_no_rich():
    probe = ("import io, contextlib, sys\nsys.argv = ['saturate', *sys.argv[1:]]\n"
             "from saturate_cli.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    try:\n        main()\n    except SystemExit as exc:\n        code = exc.code\n"
             "print(code, 'rich' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TTY_COMPATIBLE", "FORCE_COLOR")}
    plain = _python(probe, "inspect", str(MODEL), "-f", "json", "-n", "8", env=env)
    assert plain.stdout.split() == ["1", "False"], plain.stderr
    forced = _python(probe, "inspect", str(MODEL), "-f", "json", "-n", "8",
                     env=dict(env, FORCE_COLOR="1"))
    assert forced.stdout.split() == ["1", "True"], forced.stderr  # rich decides then
