"""Serve the page on the loopback interface, and find a browser to look at it.

Used by the browser tests and the visualization benchmark: :func:`running_server` starts
``solara run sim/viz/app.py --host 127.0.0.1 --port <port> --production`` as a child process
in its own process group, waits until it answers, and stops the whole group on exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

APP = Path(__file__).with_name("app.py")
LOOPBACK = "127.0.0.1"
CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium driven by Playwright: no sandbox (root in CI), no GPU, and nothing that
# phones home (component updates, sync, background networking, QUIC).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def chromium_executable() -> str | None:
    """Path of Debian's Chromium if it is installed and executable, else None."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return str(CHROMIUM)
    return None


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def solara_command(port: int) -> list[str]:
    """The ``solara run`` command line for the page on ``127.0.0.1:port``."""
    beside_python = Path(sys.executable).with_name("solara")
    if beside_python.exists():
        launcher = [str(beside_python)]
    elif shutil.which("solara"):
        launcher = [str(shutil.which("solara"))]
    else:
        raise ValueError("solara: not installed (pip install -e '.[viz]')")
    return [*launcher, "run", str(APP), "--host", LOOPBACK, "--port", str(port), "--production"]


@contextmanager
def running_server(log_path: Path, timeout_s: float = 90.0) -> Iterator[str]:
    """Run the page on a free loopback port; yield its URL; stop the server afterwards.

    Output goes to ``log_path``. Raises ``RuntimeError`` when the server exits or does not
    answer within ``timeout_s`` seconds.
    """
    port = free_loopback_port()
    url = f"http://{LOOPBACK}:{port}/"
    root = APP.parents[2]
    # this checkout's `sim` first: an editable install may point at another checkout
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    env = {
        **os.environ,
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": path,
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            solara_command(port),
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            _wait_until_answering(proc, url, timeout_s, log_path)
            yield url
        finally:
            _stop(proc)


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when the parent dies, so a killed test
    run or benchmark (whose ``finally`` never runs) leaves no server behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_until_answering(
    proc: subprocess.Popen[bytes], url: str, timeout_s: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"solara run exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"solara run did not answer on {url} in {timeout_s:.0f} s")
        time.sleep(0.3)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server's process group, killing it if it lingers."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
