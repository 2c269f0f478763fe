"""The process's edges: cli.run() (the entry point of the script and of `python -m saturate_cli`,
which skips the interpreter's teardown) exits with the codes and output of a plain exit (C's
buffered output too), still runs exit handlers and waits for threads; a run whose stderr is no
terminal never imports rich for its progress bar. Fresh interpreters."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
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


@pytest.mark.parametrize("code", [None, 0, 3, 255, 256, -1, 2**40, True, "'bye'"])
def test_run_exits_as_the_interpreter_does_with_any_code(code):
    swap = f"import saturate_cli.cli as cli\ncli.main = lambda: sys.exit({code})\n"
    fast = _python(RUN + swap + "run()\n")
    plain = _python(f"import sys\nsys.exit({code})\n")
    assert (fast.returncode, fast.stdout, fast.stderr) == (plain.returncode, "", plain.stderr)


def test_run_into_a_closed_pipe_exits_as_main_does():
    def closed(call: str) -> tuple:
        read, write = os.pipe()
        os.close(read)  # nobody reads: the report's write fails
        code = RUN.replace("import run", "import main, run") + call
        proc = subprocess.Popen([sys.executable, "-c", code, "--version"], stdout=write,
                                stderr=subprocess.PIPE, text=True)
        os.close(write)
        stderr = proc.communicate(timeout=300)[1]
        return proc.returncode, stderr

    assert closed("run()") == closed("main()")


def _marking(marks) -> str:
    """Child code defining mark(text), which appends a line to `marks`, and registering
    mark('atexit') as an exit handler."""
    return (f"import atexit\npath = {str(marks)!r}\n"
            "def mark(text):\n    with open(path, 'a') as fh:\n        fh.write(text + '\\n')\n"
            "atexit.register(mark, 'atexit')\n")


def test_run_still_runs_exit_handlers_and_cleans_temporary_folders(tmp_path):
    marks = tmp_path / "marks.txt"
    code = (RUN + "import tempfile\n" + _marking(marks) +
            "left = tempfile.TemporaryDirectory()\nmark(left.name)\n"
            "run()\n")
    done = _python(code, "--version")
    assert done.returncode == 0, done.stderr
    folder, handler = marks.read_text().splitlines()
    assert handler == "atexit" and not os.path.exists(folder)


def test_run_waits_for_threads_still_running(tmp_path):
    marks = tmp_path / "marks.txt"
    code = (RUN + "import threading, time\n" + _marking(marks) +
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


@pytest.mark.skipif(os.name != "posix", reason="C's stdio opened through ctypes.CDLL(None)")
def test_run_flushes_what_c_code_buffered():
    # C's stdout into a pipe is fully buffered unless PYTHONUNBUFFERED; os._exit would drop it
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    code = RUN + "import ctypes\nctypes.CDLL(None).puts(b'from C')\nrun()\n"
    done = _python(code, "--version", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["saturate 0.1.0", "from C"]


def test_the_script_and_python_m_start_run():
    # python -v reports the interpreter's teardown ("# cleanup[...]"): run() skips it
    script = shutil.which("saturate", path=os.path.dirname(sys.executable))
    assert script is not None, "the package is not installed in this environment"
    for argv in ([sys.executable, "-v", "-m", "saturate_cli"], [sys.executable, "-v", script]):
        done = subprocess.run(argv + ["--version"], capture_output=True, text=True, timeout=300,
                              check=False)
        assert (done.returncode, done.stdout) == (0, "saturate 0.1.0\n"), argv
        assert "# cleanup" not in done.stderr, argv
    main = "import sys\nsys.argv = ['s', '--version']\nfrom saturate_cli.cli import main\nmain()\n"
    plain = subprocess.run([sys.executable, "-v", "-c", main], capture_output=True, text=True,
                           timeout=300, check=False)
    assert plain.stdout == "saturate 0.1.0\n" and "# cleanup" in plain.stderr  # the probe
