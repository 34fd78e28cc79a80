"""Safety: what the package may do with a user's machine and files.

* the visualization listens on loopback unless the user says otherwise, with Solara's
  telemetry switched off (Makefile and app);
* no code in ``sim/`` deserializes or evaluates user-supplied input unsafely (pickle, marshal,
  ``eval``/``exec``, unsafe YAML, ``numpy.load(allow_pickle=True)``) or hands a string to a
  shell — checked statically with :mod:`ast`;
* output paths cannot leave the chosen results directory (``../`` and absolute paths);
* no network connection other than loopback at run time: a model run, a batch and a sweep run
  under an audit hook (:func:`sys.addaudithook`, installed in every process of the run through
  a ``sitecustomize`` module) that refuses and records any other ``socket.connect`` or name
  lookup.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.support import PYTHON, ROOT, subprocess_env, tree_digest

SIM = ROOT / "sim"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _makefile_target(name: str) -> str:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{name}:.*\n((?:\t.*\n?)+)", text, flags=re.MULTILINE)
    assert match, f"Makefile has no {name!r} target"
    return match.group(1)


def test_makefile_viz_target_binds_loopback() -> None:
    recipe = _makefile_target("viz")
    hosts = re.findall(r"--host[ =](\S+)", recipe)
    assert hosts == ["127.0.0.1"], f"viz target hosts: {hosts}"
    assert "0.0.0.0" not in recipe


def test_makefile_switches_solara_telemetry_off() -> None:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^export SOLARA_TELEMETRY_MIXPANEL_ENABLE\s*:?=\s*False\s*$", text, re.M)


def _viz_sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in SIM.glob("viz/*.py")}


def test_viz_code_never_binds_all_interfaces() -> None:
    """No host literal other than loopback in the visualization code (``0.0.0.0``, ``::``
    or an empty host would expose the app to the network)."""
    sources = _viz_sources()
    assert sources, "sim/viz has no Python sources"
    for name, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and node.value in ("0.0.0.0", "::"):
                raise AssertionError(f"{name}:{node.lineno}: binds all interfaces")
            if isinstance(node, ast.keyword) and node.arg == "host":
                value = node.value
                assert isinstance(value, ast.Constant) and value.value in LOOPBACK, (
                    f"{name}:{node.lineno}: host={ast.unparse(value)}"
                )


def test_viz_app_switches_solara_telemetry_off_before_importing_solara() -> None:
    app = SIM / "viz" / "app.py"
    assert app.is_file(), "sim/viz/app.py (the Makefile's viz target) does not exist"
    tree = ast.parse(app.read_text(encoding="utf-8"))
    telemetry_line = None
    first_solara_import = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value == "SOLARA_TELEMETRY_MIXPANEL_ENABLE":
            telemetry_line = node.lineno if telemetry_line is None else telemetry_line
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        if any(n.split(".")[0] in ("solara", "mesa") for n in names):
            if first_solara_import is None or node.lineno < first_solara_import:
                first_solara_import = node.lineno
    assert telemetry_line is not None, "app.py does not set SOLARA_TELEMETRY_MIXPANEL_ENABLE"
    assert first_solara_import is None or telemetry_line < first_solara_import, (
        "telemetry must be switched off before solara (or mesa.visualization) is imported"
    )
    line = app.read_text(encoding="utf-8").splitlines()[telemetry_line - 1]
    assert re.search(r"[\"']False[\"']", line), f"telemetry not set to 'False': {line.strip()}"


# ---------------------------------------------------------------------------------------------
# static scan for unsafe deserialization, evaluation and shells

UNSAFE_CALLS = {
    "pickle.load",
    "pickle.loads",
    "pickle.Unpickler",
    "cPickle.load",
    "cPickle.loads",
    "cloudpickle.load",
    "cloudpickle.loads",
    "dill.load",
    "dill.loads",
    "marshal.load",
    "marshal.loads",
    "shelve.open",
    "pandas.read_pickle",
    "pd.read_pickle",
    "yaml.unsafe_load",
    "yaml.full_load",
    "os.system",
    "os.popen",
    "eval",
    "exec",
    "compile",
    "__import__",
}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def unsafe_calls(source: str) -> list[str]:
    """Every call in ``source`` that could run code from data: the names above, ``yaml.load``
    without a safe loader, ``numpy.load(allow_pickle=True)`` and ``subprocess`` with
    ``shell=True``. Returns ``"line: call"`` strings."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name in UNSAFE_CALLS:
            found.append(f"{node.lineno}: {name}")
        elif name == "yaml.load":
            loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is None or "Safe" not in _dotted(loader):
                found.append(f"{node.lineno}: yaml.load without SafeLoader")
        elif name in ("np.load", "numpy.load"):
            allow = _keyword(node, "allow_pickle")
            if isinstance(allow, ast.Constant) and allow.value is True:
                found.append(f"{node.lineno}: {name}(allow_pickle=True)")
        elif name.startswith("subprocess.") or name in ("Popen", "run", "check_output"):
            shell = _keyword(node, "shell")
            if not (shell is None or (isinstance(shell, ast.Constant) and shell.value is False)):
                found.append(f"{node.lineno}: {name}(shell=...)")
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle\npickle.load(open('x', 'rb'))",
        "import pickle\npickle.loads(b'')",
        "eval('1 + 1')",
        "exec('x = 1')",
        "import yaml\nyaml.load(open('x'))",
        "import yaml\nyaml.load(open('x'), Loader=yaml.Loader)",
        "import numpy as np\nnp.load('x.npy', allow_pickle=True)",
        "import subprocess\nsubprocess.run('ls', shell=True)",
        "import os\nos.system('ls')",
        "import pandas as pd\npd.read_pickle('x')",
    ],
)
def test_scanner_flags_each_unsafe_pattern(snippet: str) -> None:
    """The scanner itself: each pattern it must catch is caught (so a clean scan means
    something)."""
    assert unsafe_calls(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "import yaml\nyaml.load(open('x'), Loader=yaml.SafeLoader)",
        "import yaml\nyaml.safe_load(open('x'))",
        "import subprocess\nsubprocess.run(['ls'], check=True)",
        "import numpy as np\nnp.load('x.npy')",
        "import tomllib\ntomllib.loads('a = 1')",
    ],
)
def test_scanner_accepts_safe_patterns(snippet: str) -> None:
    assert not unsafe_calls(snippet)


def test_no_unsafe_deserialization_eval_or_shell_in_sim() -> None:
    files = sorted(SIM.rglob("*.py"))
    assert len(files) > 5
    problems = {
        str(path.relative_to(ROOT)): found
        for path in files
        if (found := unsafe_calls(path.read_text(encoding="utf-8")))
    }
    assert not problems, f"unsafe calls: {problems}"


# ---------------------------------------------------------------------------------------------
# no network at run time

AUDIT_HOOK = textwrap.dedent(
    """
    import ipaddress, os, socket, sys

    _LOG = os.environ["NO_NETWORK_LOG"]

    def _loopback(host):
        if isinstance(host, bytes):
            host = host.decode()
        if host in ("localhost", "", None):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def _refuse(what):
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {what}\\n")
        raise PermissionError(f"network access refused in tests: {what}")

    def _hook(event, args):
        if event == "socket.connect":
            sock, address = args
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
                _refuse(f"connect {address!r}")
        elif event == "socket.getaddrinfo":
            if not _loopback(args[0]):
                _refuse(f"getaddrinfo {args[0]!r}")
        elif event == "socket.gethostbyname":
            if not _loopback(args[0]):
                _refuse(f"gethostbyname {args[0]!r}")

    sys.addaudithook(_hook)
    """
)


def run_without_network(
    args: list[str], tmp_path: Path, timeout: float = 120
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``python args`` (and every Python process it starts) with non-loopback connections
    and name lookups refused; returns the process and the refused attempts."""
    hook_dir = tmp_path / "audit"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(AUDIT_HOOK, encoding="utf-8")
    log = tmp_path / "network.log"
    log.touch()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook_dir), str(ROOT)]),
        "NO_NETWORK_LOG": str(log),
        "MPLBACKEND": "Agg",
    }
    proc = subprocess.run(
        [PYTHON, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc, log.read_text(encoding="utf-8").splitlines()


def test_audit_hook_refuses_a_non_loopback_connection(tmp_path: Path) -> None:
    """The guard itself: a connection to a routable address is refused and recorded."""
    script = "import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
    script += "except PermissionError:\n    print('refused')\n"
    proc, refused = run_without_network(["-c", script], tmp_path)
    assert "refused" in proc.stdout
    assert refused and "192.0.2.1" in refused[0]


def test_model_and_batch_make_no_network_calls(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        from sim import TechCompetitionModel
        from sim.batch import run_batch
        from sim.params import load_scenario
        params = load_scenario("seed").replace(n_enterprises=200)
        TechCompetitionModel(params=params, rng=1).run(5)
        result = run_batch(params, [1, 2, 3], 5)
        assert len(result.model) and len(result.providers) and len(result.segments)
        print("ok")
        """
    )
    proc, refused = run_without_network(["-c", script], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout
    assert refused == []


TINY_SWEEP = """\
name = "{name}"
base = "seed"
sampler = "grid"
replicates = 2
steps = 3
root_seed = 11
[fixed]
n_enterprises = 60
[parameters]
market_value = {{ values = [50.0, 500.0] }}
"""


@pytest.mark.parametrize(
    "backend",
    [pytest.param(["--workers", "2"], id="local"), pytest.param(["--backend", "dask"], id="dask")],
)
def test_sweep_makes_no_network_calls(backend: list[str], tmp_path: Path) -> None:
    """A sweep on a local process pool, and on a Dask LocalCluster (which talks to its
    workers over loopback only), reaches no other address and looks up no other name."""
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP.format(name="tiny"), encoding="utf-8")
    argv = ["-m", "sim", "sweep", "tiny.toml", "--out", "results/tiny", "--no-progress"]
    proc, refused = run_without_network([*argv, *backend], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert refused == []
    assert (tmp_path / "results" / "tiny" / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("name", "command"),
    [
        pytest.param("..", ["sweep", "exp/evil.toml"], id="sweep-name-dotdot"),
        pytest.param("../escaped", ["sweep", "exp/evil.toml"], id="sweep-name-parent-path"),
        pytest.param("/tmp/escaped", ["sweep", "exp/evil.toml"], id="sweep-name-absolute"),
        pytest.param(
            "..", ["suite", "--experiments", "exp", "--out", "results"], id="suite-dotdot"
        ),
    ],
)
def test_sweep_names_cannot_leave_the_results_directory(
    name: str, command: list[str], tmp_path: Path
) -> None:
    """A sweep file's ``name`` decides the directory under the results directory
    (``results/<name>``; the suite's ``--out``); names that would climb out of it or replace
    it are refused (exit 2) and nothing is written outside it."""
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "evil.toml").write_text(TINY_SWEEP.format(name=name), encoding="utf-8")
    (tmp_path / "keep.txt").write_text("must stay as it is\n", encoding="utf-8")
    before = tree_digest(tmp_path, skip="results")
    env = subprocess_env()
    proc = subprocess.run(
        [PYTHON, "-m", "sim", *command, "--no-progress", "--workers", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tree_digest(tmp_path, skip="results") == before, "written outside the results directory"
    assert not Path("/tmp/escaped").exists()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
