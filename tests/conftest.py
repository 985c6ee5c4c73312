from pathlib import Path

import pytest

from scope_opt.problem.instance import load_instance

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def two_layer():
    return load_instance(DATA / "two_layer.toml")


# Reproducible by default (CI): the same examples every run.  HYPOTHESIS_PROFILE=explore
# draws new random examples, with more of them, to hunt for disagreements.
import os  # noqa: E402

from hypothesis import settings as _hyp  # noqa: E402

_hyp.register_profile("default", derandomize=True)
_hyp.register_profile("explore", derandomize=False, max_examples=200)
_hyp.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def interrupt_when(args, marker: str, env: dict | None = None, timeout: float = 300.0, after: list | None = None):
    """Run the CLI, send SIGINT once its progress on stderr shows `marker` (a readiness
    signal, never a fixed sleep), and return (exit code, all of stderr); `after` gets the
    seconds from the SIGINT to the exit."""
    import signal
    import subprocess
    import sys
    import threading
    import time
    proc = subprocess.Popen([sys.executable, "-m", "scope_opt.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if marker in line:
                proc.send_signal(signal.SIGINT)
                break
        sent = time.monotonic()
        _, rest = proc.communicate(timeout=timeout)
        if after is not None:
            after.append(time.monotonic() - sent)
    finally:
        watchdog.cancel()
    return proc.returncode, "".join(seen) + rest


def one_line_error(res, *words):
    """Bad input: exit 2, no traceback, one line on stderr holding every word."""
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
