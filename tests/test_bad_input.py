"""Bad input, catalogued: scenario files, sweep files, parameters set on the command line,
options and paths, each given to the real command line (``python -m sim ...`` in a subprocess).

Every row must give

* exit code 2;
* exactly one line on stderr, starting ``error:``, with no traceback;
* in that line, case-insensitively, every fragment the row lists: the field (or option or
  file), the offending value and what is allowed;
* nothing written or overwritten: each row runs in its own working directory holding its input
  files and the results of a finished sweep (``results/tiny``); the whole directory tree (names
  and bytes) hashes the same before and after.

The parameter rules themselves are unit-tested at the Python level in ``tests/test_params.py``;
this file is about what reaches a user through files and the command line. The rows run
concurrently (a few processes at a time) in one module fixture, since each is a fresh
interpreter, and each row is then its own test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sim.experiments import load_spec, run_sweep
from tests.support import PYTHON, subprocess_env, tree_digest

CONCURRENT_PROCESSES = 3
TIMEOUT_SECONDS = 120

TINY_TOP = """\
name = "tiny"
base = "seed"
sampler = "grid"
replicates = 2
steps = 3
record = 1
root_seed = 7
"""
TINY_FIXED = "[fixed]\nn_enterprises = 50\n"
TINY_PARAMETERS = "[parameters]\nhome_fine = { values = [0.0, 50.0] }\n"


def sweep_file(top: str = "", fixed: str = "", parameters: str | None = None) -> str:
    """The tiny sweep with extra top-level lines, extra ``[fixed]`` lines and, if given,
    a replacement ``[parameters]`` table body."""
    params = TINY_PARAMETERS if parameters is None else f"[parameters]\n{parameters}\n"
    return f"{TINY_TOP}{top}\n{TINY_FIXED}{fixed}\n{params}"


def scenario_file(body: str) -> str:
    return f'base = "seed"\n{body}\n'


PROVIDERS_TWO = """
[[providers]]
name = "a"
channel = "direct"
[[providers]]
name = "b"
channel = "domestic"
"""


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Case:
    """One catalogued bad input: the command line, the
    files it needs, and the fragments its error line must contain."""

    id: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None


def _run(*args: str) -> tuple[str, ...]:
    return ("run", "--steps", "2", *args)


def _sweep(*args: str) -> tuple[str, ...]:
    return ("sweep", "bad.toml", "--no-progress", "--workers", "1", *args)


def _make_blocker(directory: Path) -> None:
    (directory / "blocker").write_text("a file where a directory is expected\n")


def _make_fifo(directory: Path) -> None:
    """A FIFO named like an input file: opening it to read would block for ever."""
    os.mkfifo(directory / "pipe.toml")


CASES = [
    # ---- parameters on the command line (run --set K=V) ----
    Case("set-nan", _run("--set", "market_value=nan"), ("market_value", "nan", "finite")),
    Case("set-inf", _run("--set", "home_fine=inf"), ("home_fine", "inf", "finite")),
    Case("set-negative-inf", _run("--set", "outside_utility=-inf"), ("outside_utility", "inf")),
    Case("set-negative", _run("--set", "market_value=-5"), ("market_value", "-5", "[0.0,")),
    Case(
        "set-probability-over-one",
        _run("--set", "home_enforcement=1.5"),
        ("home_enforcement", "1.5", "[0.0, 1.0]"),
    ),
    Case(
        "set-probability-negative",
        _run("--set", "revision_rate=-0.1"),
        ("revision_rate", "-0.1", "[0.0, 1.0]"),
    ),
    Case("set-zero-enterprises", _run("--set", "n_enterprises=0"), ("n_enterprises", "0", "[1,")),
    Case(
        "set-fractional-count",
        _run("--set", "n_enterprises=2.5"),
        ("n_enterprises", "2.5", "whole number"),
    ),
    Case("set-bool-for-number", _run("--set", "market_value=true"), ("market_value", "true")),
    Case("set-string-for-number", _run("--set", 'home_fine="high"'), ("home_fine", "high")),
    Case("set-unknown-rule", _run("--set", "firm_rule=random"), ("firm_rule", "random", "'logit'")),
    Case(
        "set-unknown-key",
        _run("--set", "home_fines=10"),
        ("home_fines", "did you mean", "home_fine"),
    ),
    Case("set-not-key-value", _run("--set", "home_fine"), ("--set", "home_fine", "KEY=VALUE")),
    Case("run-negative-steps", ("run", "--steps", "-1"), ("--steps", "-1", "[0, 100000]")),
    Case("run-too-many-steps", ("run", "--steps", "100001"), ("--steps", "100001", "[0, 100000]")),
    Case("run-steps-not-a-number", ("run", "--steps", "ten"), ("--steps", "ten", "whole number")),
    Case("run-negative-seed", _run("--rng", "-3"), ("--rng", "-3", f"[0, {2**63 - 1}]")),
    Case(
        "run-seed-beyond-int64",
        _run("--rng", str(2**70), "--out", "x.parquet"),
        ("--rng", str(2**70), f"[0, {2**63 - 1}]"),
    ),
    Case(
        "run-seed-as-expression",
        _run("--rng", "2**70", "--out", "x.parquet"),
        ("--rng", "2**70", "whole number"),
    ),
    Case("run-unknown-scenario", _run("--scenario", "sead"), ("sead", "did you mean", "seed")),
    Case(
        "run-scenario-path-leaves-package",
        _run("--scenario", "../../sim/scenarios/seed"),
        ("scenario", "../../sim/scenarios/seed", "unknown scenario", "classic, mandate"),
    ),
    Case(
        "run-scenario-absolute-path",
        _run("--scenario", "/etc/passwd"),
        ("scenario", "/etc/passwd", "unknown scenario"),
    ),
    Case(
        "set-provider-field-out-of-range",
        _run("--set", "partner-cloud.margin=2"),
        ("providers[partner-cloud].margin", "2", "[0.0, 1.0]"),
    ),
    Case(
        "set-network-fractional-degree",
        _run("--set", "network.mean_degree=2.5"),
        ("network.mean_degree", "2.5", "whole number"),
    ),
    Case(
        "set-unknown-provider",
        _run("--set", "partner-clod.margin=0.2"),
        ("partner-clod", "did you mean", "partner-cloud"),
    ),
    Case(
        "set-deeply-nested-value",
        _run("--set", "market_value=" + "[" * 100_000),
        ("market_value", "expected a number"),
    ),
    # ---- scenario files (run --params FILE) ----
    Case(
        "scenario-malformed-toml",
        _run("--params", "bad.toml"),
        ("bad.toml", "malformed toml"),
        {"bad.toml": "market_value = = 3\n"},
    ),
    Case(
        "scenario-unknown-key",
        _run("--params", "bad.toml"),
        ("bad.toml", "market_valu", "did you mean", "market_value"),
        {"bad.toml": scenario_file("market_valu = 3.0")},
    ),
    Case(
        "scenario-nan",
        _run("--params", "bad.toml"),
        ("bad.toml", "home_fine", "nan", "finite"),
        {"bad.toml": scenario_file("home_fine = nan")},
    ),
    Case(
        "scenario-infinity",
        _run("--params", "bad.toml"),
        ("bad.toml", "market_value", "inf", "finite"),
        {"bad.toml": scenario_file("market_value = inf")},
    ),
    Case(
        "scenario-probability-over-one",
        _run("--params", "bad.toml"),
        ("bad.toml", "gov_revision_rate", "2.0", "[0.0, 1.0]"),
        {"bad.toml": scenario_file("gov_revision_rate = 2.0")},
    ),
    Case(
        "scenario-wrong-type",
        _run("--params", "bad.toml"),
        ("bad.toml", "n_enterprises", "many", "number"),
        {"bad.toml": scenario_file('n_enterprises = "many"')},
    ),
    Case(
        "scenario-duplicate-provider-names",
        _run("--params", "bad.toml"),
        ("bad.toml", "providers[a]", "duplicate", "'a'"),
        {"bad.toml": PROVIDERS_TWO + '[[providers]]\nname = "a"\nchannel = "partner"\n'},
    ),
    Case(
        "scenario-duplicate-key",
        _run("--params", "bad.toml"),
        ("bad.toml", "malformed toml"),
        {"bad.toml": "home_fine = 1.0\nhome_fine = 2.0\n"},
    ),
    Case(
        "scenario-unknown-channel",
        _run("--params", "bad.toml"),
        ("bad.toml", "channel", "satellite", "'direct'"),
        {"bad.toml": PROVIDERS_TWO.replace('"direct"', '"satellite"')},
    ),
    Case(
        "scenario-provider-negative-price",
        _run("--params", "bad.toml"),
        ("bad.toml", "price", "-1.0", "[0.0, 10.0]"),
        {"bad.toml": PROVIDERS_TWO + "price = -1.0\n"},
    ),
    Case(
        "scenario-no-domestic-provider",
        _run("--params", "bad.toml"),
        ("bad.toml", "providers", "domestic"),
        {"bad.toml": '[[providers]]\nname = "a"\nchannel = "direct"\n'},
    ),
    Case(
        "scenario-unknown-base",
        _run("--params", "bad.toml"),
        ("bad.toml", "scenario", "nowhere", "valid"),
        {"bad.toml": 'base = "nowhere"\n'},
    ),
    Case(
        "scenario-file-missing",
        _run("--params", "absent.toml"),
        ("absent.toml", "cannot read", "no such file"),
    ),
    Case(
        "scenario-file-is-a-directory",
        _run("--params", "adir"),
        ("adir", "cannot read", "not a regular file"),
        {"adir/keep": ""},
    ),
    Case(
        "scenario-file-not-utf8",
        _run("--params", "bad.toml"),
        ("bad.toml", "utf-8"),
        {"bad.toml": b"home_fine = 1.0 # \xff\xfe\n"},
    ),
    Case(
        "scenario-deeply-nested-array",
        _run("--params", "bad.toml"),
        ("bad.toml", "malformed toml", "nested too deeply"),
        {"bad.toml": "x = " + "[" * 100_000 + "]" * 100_000 + "\n"},
    ),
    Case(
        "scenario-providers-not-a-list",
        _run("--params", "bad.toml"),
        ("bad.toml", "providers=5", "list of tables"),
        {"bad.toml": scenario_file("providers = 5")},
    ),
    Case(
        "scenario-empty-provider-name",
        _run("--params", "bad.toml"),
        ("bad.toml", "name=''", "1 to 64 letters"),
        {"bad.toml": scenario_file('[[providers]]\nname = ""\nchannel = "direct"')},
    ),
    Case(
        "scenario-provider-name-with-slash",
        _run("--params", "bad.toml"),
        ("bad.toml", "name='a/b'", "1 to 64 letters"),
        {"bad.toml": scenario_file('[[providers]]\nname = "a/b"\nchannel = "direct"')},
    ),
    Case(
        "scenario-base-path-leaves-package",
        _run("--params", "bad.toml"),
        ("bad.toml", "base", "../scenarios/seed", "unknown scenario"),
        {"bad.toml": 'base = "../scenarios/seed"\n'},
    ),
    Case(
        "scenario-base-absolute-toml",
        _run("--params", "bad.toml"),
        ("bad.toml", "base", "/tmp/any.toml", "unknown scenario"),
        {"bad.toml": 'base = "/tmp/any.toml"\n'},
    ),
    Case(
        "scenario-unknown-network-key",
        _run("--params", "bad.toml"),
        ("bad.toml", "network", "mean_degre", "did you mean", "mean_degree"),
        {"bad.toml": scenario_file("[network]\nmean_degre = 4")},
    ),
    Case(
        "scenario-event-value-out-of-range",
        _run("--params", "bad.toml"),
        ("bad.toml", "events[2].set.home_fine", "-1.0", "[0.0, 1000000.0]"),
        {
            "bad.toml": scenario_file(
                "[[events]]\nmonth = 1\nset = { home_fine = 3.0 }\n"
                "[[events]]\nmonth = 2\nset = { market_value = 50.0 }\n"
                "[[events]]\nmonth = 3\nset = { home_fine = -1.0 }"
            )
        },
    ),
    Case(
        "scenario-file-is-dev-zero",
        _run("--params", "/dev/zero"),
        ("/dev/zero", "cannot read", "not a regular file"),
    ),
    Case(
        "scenario-file-is-a-fifo",
        _run("--params", "pipe.toml"),
        ("pipe.toml", "cannot read", "not a regular file"),
        setup=_make_fifo,
    ),
    Case(
        "scenario-file-oversized",
        _run("--params", "bad.toml"),
        ("bad.toml", "cannot read", "bytes", "at most"),
        {"bad.toml": "# " + "x" * (1 << 20) + "\n"},
    ),
    # ---- sweep files ----
    Case(
        "sweep-deeply-nested-array",
        _sweep(),
        ("bad.toml", "malformed toml", "nested too deeply"),
        {"bad.toml": sweep_file(top="x = " + "[" * 100_000 + "]" * 100_000)},
    ),
    Case(
        "sweep-name-300-characters",
        _sweep(),
        ("bad.toml", "name='nnnn", "1 to 64 letters"),
        {"bad.toml": sweep_file().replace('name = "tiny"', f'name = "{"n" * 300}"')},
    ),
    Case(
        "sweep-levels-a-billion",
        _sweep(),
        ("bad.toml", "parameters.market_value.levels=1000000000", "[2, 1000000]"),
        {
            "bad.toml": sweep_file(
                parameters="market_value = { range = [1, 9], levels = 1000000000 }"
            )
        },
    ),
    Case(
        "sweep-replicates-a-trillion",
        _sweep(),
        ("bad.toml", "replicates=1000000000000", "[1, 10000000]"),
        {"bad.toml": sweep_file().replace("replicates = 2", "replicates = 1000000000000")},
    ),
    Case(
        "sweep-points-two-to-the-forty",
        _sweep(),
        ("bad.toml", "points=1099511627776", "[1, 1000000]"),
        {
            "bad.toml": sweep_file(
                top="points = 1099511627776", parameters="market_value = { range = [1, 9] }"
            ).replace('sampler = "grid"', 'sampler = "lhs"')
        },
    ),
    Case(
        "sweep-points-over-the-limit",
        _sweep(),
        ("bad.toml", "points=200000", "limit of 100000 points", "--allow-large"),
        {
            "bad.toml": sweep_file(
                top="points = 200000", parameters="market_value = { range = [1, 9] }"
            ).replace('sampler = "grid"', 'sampler = "lhs"')
        },
    ),
    Case(
        "sweep-grid-over-the-limit",
        _sweep(),
        ("bad.toml", "parameters=160000 grid points (400 x 400)", "--allow-large"),
        {
            "bad.toml": sweep_file(
                parameters="market_value = { range = [1, 9], levels = 400 }\n"
                "home_fine = { range = [0, 9], levels = 400 }"
            )
        },
    ),
    Case(
        "sweep-runs-over-the-limit",
        _sweep(),
        ("bad.toml", "replicates=600000", "1200000 runs", "limit of 1000000 runs"),
        {"bad.toml": sweep_file().replace("replicates = 2", "replicates = 600000")},
    ),
    Case(
        "sweep-base-path-leaves-package",
        _sweep(),
        ("bad.toml", "base", "../sim/scenarios/seed", "unknown scenario"),
        {"bad.toml": sweep_file().replace('base = "seed"', 'base = "../sim/scenarios/seed"')},
    ),
    Case(
        "sweep-scenario-value-is-a-path",
        _sweep(),
        ("bad.toml", "parameters.scenario.values[1]", "/tmp/x.toml", "unknown scenario"),
        {"bad.toml": sweep_file(parameters='scenario = { values = ["seed", "/tmp/x.toml"] }')},
    ),
    Case(
        "sweep-unknown-segment",
        _sweep(),
        ("bad.toml", "robots", "unknown provider or segment", "direct-lab"),
        {"bad.toml": sweep_file(parameters='"robots.revision_rate" = [0.1, 0.2]')},
    ),
    Case(
        "sweep-sensitivity-without-saltelli",
        _sweep(),
        ("bad.toml", "sampler='lhs'", "sensitivity", "saltelli"),
        {
            "bad.toml": sweep_file(
                top='kind = "sensitivity"\npoints = 8',
                parameters="market_value = { range = [1, 9] }\nhome_fine = { range = [0, 9] }",
            ).replace('sampler = "grid"', 'sampler = "lhs"')
        },
    ),
    Case(
        "sweep-phase-diagram-without-providers",
        _sweep(),
        ("bad.toml", "providers=false", "phase_diagram", "expected true"),
        {"bad.toml": sweep_file(top='kind = "phase_diagram"')},
    ),
    Case(
        "sweep-baseline-with-parameters",
        _sweep(),
        ("bad.toml", "parameters", "kind 'baseline'", "no varied parameters"),
        {"bad.toml": sweep_file(top='kind = "baseline"')},
    ),
    Case(
        "sweep-file-is-dev-zero",
        ("sweep", "/dev/zero", "--no-progress"),
        ("/dev/zero", "cannot read sweep file", "not a regular file"),
    ),
    Case(
        "sweep-file-is-a-fifo",
        ("sweep", "pipe.toml", "--no-progress"),
        ("pipe.toml", "cannot read sweep file", "not a regular file"),
        setup=_make_fifo,
    ),
    Case(
        "sweep-malformed-toml",
        _sweep(),
        ("bad.toml", "malformed toml"),
        {"bad.toml": "replicates = [\n"},
    ),
    Case(
        "sweep-unknown-top-key",
        _sweep(),
        ("bad.toml", "replicate", "did you mean", "replicates"),
        {"bad.toml": sweep_file(top="replicate = 3").replace("replicates = 2\n", "")},
    ),
    Case(
        "sweep-empty-design",
        _sweep(),
        ("bad.toml", "parameters", "lhs", "at least one"),
        {
            "bad.toml": sweep_file(top="points = 4", parameters="").replace(
                'sampler = "grid"', 'sampler = "lhs"'
            )
        },
    ),
    Case(
        "sweep-zero-points",
        _sweep(),
        ("bad.toml", "points=0", "[1, 1000000]"),
        {
            "bad.toml": sweep_file(
                top="points = 0", parameters="market_value = { range = [10, 100] }"
            ).replace('sampler = "grid"', 'sampler = "lhs"')
        },
    ),
    Case(
        "sweep-empty-values",
        _sweep(),
        ("bad.toml", "home_fine", "[]", "non-empty"),
        {"bad.toml": sweep_file(parameters="home_fine = { values = [] }")},
    ),
    Case(
        "sweep-reversed-bounds",
        _sweep(),
        ("bad.toml", "market_value", "[200, 100]", "low must be below high"),
        {"bad.toml": sweep_file(parameters="market_value = { range = [200, 100], levels = 3 }")},
    ),
    Case(
        "sweep-nan-bound",
        _sweep(),
        ("bad.toml", "market_value", "nan", "finite"),
        {"bad.toml": sweep_file(parameters="market_value = { range = [nan, 100], levels = 3 }")},
    ),
    Case(
        "sweep-infinite-bound",
        _sweep(),
        ("bad.toml", "market_value", "inf", "finite"),
        {"bad.toml": sweep_file(parameters="market_value = { range = [1, inf], levels = 3 }")},
    ),
    Case(
        "sweep-value-out-of-range",
        _sweep(),
        ("bad.toml", "home_enforcement", "1.5", "[0.0, 1.0]"),
        {"bad.toml": sweep_file(parameters="home_enforcement = { values = [0.5, 1.5] }")},
    ),
    Case(
        "sweep-negative-bound",
        _sweep(),
        ("bad.toml", "switching_cost", "-1", "[0.0, 10.0]"),
        {"bad.toml": sweep_file(parameters="switching_cost = { range = [-1, 1], levels = 3 }")},
    ),
    Case(
        "sweep-fixed-nan",
        _sweep(),
        ("bad.toml", "fixed", "market_value", "nan", "finite"),
        {"bad.toml": sweep_file(fixed="market_value = nan")},
    ),
    Case(
        "sweep-zero-replicates",
        _sweep(),
        ("bad.toml", "replicates=0", "[1, 10000000]"),
        {"bad.toml": sweep_file().replace("replicates = 2", "replicates = 0")},
    ),
    Case(
        "sweep-fractional-steps",
        _sweep(),
        ("bad.toml", "steps", "2.5", "whole number"),
        {"bad.toml": sweep_file().replace("steps = 3", "steps = 2.5")},
    ),
    Case(
        "sweep-negative-seed",
        _sweep(),
        ("bad.toml", "root_seed=-1", f"[0, {2**63 - 1}]"),
        {"bad.toml": sweep_file().replace("root_seed = 7", "root_seed = -1")},
    ),
    Case(
        "sweep-unknown-sampler",
        _sweep(),
        ("bad.toml", "sampler", "random", "grid"),
        {"bad.toml": sweep_file().replace('sampler = "grid"', 'sampler = "random"')},
    ),
    Case(
        "sweep-bad-record",
        _sweep(),
        ("bad.toml", "record", "sometimes", "final"),
        {"bad.toml": sweep_file().replace("record = 1", 'record = "sometimes"')},
    ),
    Case(
        "sweep-sobol-points-not-power-of-two",
        _sweep(),
        ("bad.toml", "points", "12", "power of 2"),
        {
            "bad.toml": sweep_file(
                top="points = 12", parameters="market_value = { range = [10, 100] }"
            ).replace('sampler = "grid"', 'sampler = "sobol"')
        },
    ),
    Case(
        "sweep-unknown-parameter",
        _sweep(),
        ("bad.toml", "home_fien", "did you mean", "home_fine"),
        {"bad.toml": sweep_file(parameters="home_fien = { values = [1.0] }")},
    ),
    Case(
        "sweep-unknown-provider",
        _sweep(),
        ("bad.toml", "nobody", "direct-lab"),
        {"bad.toml": sweep_file(parameters='"nobody.quality" = { values = [0.5] }')},
    ),
    Case(
        "sweep-duplicate-name-fixed-and-varied",
        _sweep(),
        ("bad.toml", "home_fine", "also set in [fixed]"),
        {"bad.toml": sweep_file(fixed="home_fine = 1.0")},
    ),
    Case(
        "sweep-duplicate-parameter-key",
        _sweep(),
        ("bad.toml", "malformed toml"),
        {"bad.toml": sweep_file(parameters="home_fine = [1.0]\nhome_fine = [2.0]")},
    ),
    Case(
        "sweep-log-scale-from-zero",
        _sweep(),
        ("bad.toml", "market_value", "log", "low > 0"),
        {
            "bad.toml": sweep_file(
                parameters='market_value = { range = [0, 100], levels = 3, scale = "log" }'
            )
        },
    ),
    Case(
        "sweep-quick-without-quick-table",
        _sweep("--quick"),
        ("bad.toml", "quick", "no [quick] table"),
        {"bad.toml": sweep_file()},
    ),
    Case(
        "sweep-file-missing",
        ("sweep", "absent.toml", "--no-progress"),
        ("absent.toml", "cannot read", "no such file"),
    ),
    Case(
        "sweep-file-not-utf8",
        _sweep(),
        ("bad.toml", "utf-8"),
        {"bad.toml": sweep_file().encode() + b"# \xff\n"},
    ),
    # ---- output paths ----
    Case(
        "sweep-name-escapes-results-parent",
        _sweep(),
        ("bad.toml", "name", "'..'"),
        {"bad.toml": sweep_file().replace('name = "tiny"', 'name = ".."')},
    ),
    Case(
        "sweep-name-is-current-directory",
        _sweep(),
        ("bad.toml", "name", "'.'"),
        {"bad.toml": sweep_file().replace('name = "tiny"', 'name = "."')},
    ),
    Case(
        "sweep-name-with-path-separator",
        _sweep(),
        ("bad.toml", "name", "../outside", "letters, digits, '-' or '_'"),
        {"bad.toml": sweep_file().replace('name = "tiny"', 'name = "../outside"')},
    ),
    Case(
        "sweep-name-absolute",
        _sweep(),
        ("bad.toml", "name", "/tmp/elsewhere", "letters, digits, '-' or '_'"),
        {"bad.toml": sweep_file().replace('name = "tiny"', 'name = "/tmp/elsewhere"')},
    ),
    Case(
        "sweep-name-with-nul",
        _sweep(),
        ("bad.toml", "name"),
        {"bad.toml": sweep_file().replace('name = "tiny"', 'name = "ti\\u0000ny"')},
    ),
    Case(
        "sweep-out-under-a-file",
        _sweep("--out", "blocker/sweep"),
        ("--out", "blocker/sweep", "not a writable directory"),
        {"bad.toml": sweep_file()},
        _make_blocker,
    ),
    Case(
        "sweep-out-in-proc",
        _sweep("--out", "/proc/techcomp-results"),
        ("--out", "/proc/techcomp-results", "not a writable directory"),
        {"bad.toml": sweep_file()},
    ),
    Case(
        "sweep-different-definition-on-existing-results",
        _sweep("--out", "results/tiny"),
        ("--out", "results/tiny", "different sweep definition", "--force"),
        {"bad.toml": sweep_file().replace("steps = 3", "steps = 4")},
    ),
    Case(
        "run-out-under-a-file",
        _run("--out", "blocker/one.parquet"),
        ("--out", "blocker", "not a writable directory"),
        setup=_make_blocker,
    ),
    Case(
        "run-out-is-a-directory",
        _run("--out", "results"),
        ("--out", "results", "directory"),
    ),
    Case(
        "figures-not-a-results-directory",
        ("figures", "adir"),
        ("adir", "manifest.json", "not a results directory"),
        {"adir/keep": ""},
    ),
    # ---- the suite (every sweep file of a directory) ----
    Case(
        "suite-duplicate-sweep-names",
        ("suite", "--experiments", "exp", "--out", "results", "--workers", "1", "--no-progress"),
        ("exp", "dup", "duplicate"),
        {
            "exp/a.toml": sweep_file().replace('name = "tiny"', 'name = "dup"'),
            "exp/b.toml": sweep_file()
            .replace('name = "tiny"', 'name = "dup"')
            .replace("steps = 3", "steps = 4"),
        },
    ),
    Case(
        "suite-one-bad-file-among-good",
        ("suite", "--experiments", "exp", "--out", "results", "--workers", "1", "--no-progress"),
        ("b.toml", "replicates=0", "[1, 10000000]"),
        {
            "exp/a.toml": sweep_file().replace('name = "tiny"', 'name = "good"'),
            "exp/b.toml": sweep_file().replace("replicates = 2", "replicates = 0"),
        },
    ),
    Case(
        "suite-no-sweep-files",
        ("suite", "--experiments", "exp", "--out", "new-results", "--no-progress"),
        ("--experiments", "exp", "no sweep files"),
        {"exp/readme.txt": "nothing here\n"},
    ),
    # ---- options and backends ----
    Case("workers-zero", ("sweep", "bad.toml", "--workers", "0"), ("--workers", "0", ">= 1")),
    Case(
        "workers-not-a-number",
        ("sweep", "bad.toml", "--workers", "two"),
        ("--workers", "two", ">= 1"),
    ),
    Case("backend-unknown", _sweep("--backend", "mpi"), ("--backend", "mpi", "'local'")),
    Case(
        "scheduler-without-dask",
        _sweep("--scheduler", "tcp://127.0.0.1:8786"),
        ("--scheduler", "--backend dask"),
        {"bad.toml": sweep_file()},
    ),
    Case(
        "scheduler-unreachable",
        _sweep("--backend", "dask", "--scheduler", f"tcp://127.0.0.1:{_closed_port()}"),
        ("--scheduler", "tcp://127.0.0.1:", "cannot connect"),
        {"bad.toml": sweep_file().replace('name = "tiny"', 'name = "fresh"')},
    ),
    Case("unknown-command", ("simulate",), ("simulate", "invalid choice", "sweep")),
]


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    before: str
    after: str


# Runs each row as ``python -m sim ARGS`` does (``runpy`` executes ``sim/__main__.py`` as
# ``__main__``), in a child forked from one interpreter that has imported the package once: a
# fresh interpreter per row costs ~2 s of imports, which 70 rows cannot afford in the test
# budget. Each child has its own working directory, stdout/stderr files and exit status; an
# exception escaping ``sim/__main__.py`` prints a traceback and exits 1, as the interpreter
# does. test_fresh_interpreter_gives_the_same_outcome checks the equivalence on sample rows.
FORK_DRIVER = r"""
import json, os, runpy, sys, traceback
import sim.cli, sim.experiments.runners, sim.experiments.store, sim.experiments.sweep
rows = json.load(sys.stdin)
codes, running, limit = {}, {}, int(sys.argv[1])

def child(row):
    for fd, name in ((1, row["stdout"]), (2, row["stderr"])):
        os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    os.chdir(row["cwd"])
    sys.argv = [os.path.join(os.path.dirname(sim.__file__), "__main__.py"), *row["argv"]]
    code = 0
    try:
        runpy.run_module("sim", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        if isinstance(stop.code, int) or stop.code is None:
            code = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

def reap():
    pid, status = os.wait()
    codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)

for row in rows:
    while len(running) >= limit:
        reap()
    pid = os.fork()
    if pid == 0:
        child(row)
    running[pid] = row["id"]
while running:
    reap()
print(json.dumps(codes))
"""


def _prepare(case: Case, directory: Path, finished: Path) -> str:
    """Create the row's working directory; return its digest."""
    directory.mkdir()
    shutil.copytree(finished, directory / "results" / "tiny")
    for name, content in case.files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if case.setup is not None:
        case.setup(directory)
    return tree_digest(directory)


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete result directory of the tiny sweep, copied into every row's directory."""
    base = tmp_path_factory.mktemp("tiny")
    (base / "tiny.toml").write_text(sweep_file(), encoding="utf-8")
    run_sweep(load_spec(base / "tiny.toml"), base / "results" / "tiny", workers=1, progress=False)
    return base / "results" / "tiny"


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    finished_sweep: Path,
) -> dict[str, Outcome]:
    """Every selected row's outcome, the rows run a few at a time."""
    selected = set()
    for item in request.session.items:
        params = getattr(item, "callspec", None) and item.callspec.params
        if params and isinstance(params.get("case"), Case):
            selected.add(params["case"].id)
        elif params and params.get("case_id") in FRESH_SAMPLE:
            selected.add(params["case_id"])
    cases = [c for c in CASES if c.id in selected]
    root = tmp_path_factory.mktemp("rows")
    io = tmp_path_factory.mktemp("rows-io")
    before = {c.id: _prepare(c, root / c.id, finished_sweep) for c in cases}
    rows = [
        {
            "id": c.id,
            "argv": list(c.argv),
            "cwd": str(root / c.id),
            "stdout": str(io / f"{c.id}.out"),
            "stderr": str(io / f"{c.id}.err"),
        }
        for c in cases
    ]
    driver = subprocess.run(
        [PYTHON, "-c", FORK_DRIVER, str(CONCURRENT_PROCESSES)],
        input=json.dumps(rows),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=True,
    )
    codes = json.loads(driver.stdout.strip().splitlines()[-1])
    return {
        c.id: Outcome(
            codes[c.id],
            (io / f"{c.id}.out").read_text(encoding="utf-8"),
            (io / f"{c.id}.err").read_text(encoding="utf-8"),
            before[c.id],
            tree_digest(root / c.id),
        )
        for c in cases
    }


def test_catalogue_is_large_and_ids_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 100


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_cleanly(case: Case, outcomes: dict[str, Outcome]) -> None:
    out = outcomes[case.id]
    lines = out.stderr.strip().splitlines()
    report: dict[str, Any] = {"exit": out.returncode, "stderr": out.stderr[-2000:]}
    assert "Traceback" not in out.stderr, report
    assert out.returncode == 2, report
    assert len(lines) == 1 and lines[0].startswith("error: "), report
    missing = [frag for frag in case.expect if frag.lower() not in lines[0].lower()]
    assert not missing, f"message lacks {missing}: {lines[0]}"
    assert out.before == out.after, f"files written or changed: {lines[0]}"


FRESH_SAMPLE = (
    "set-nan",
    "scenario-wrong-type",
    "sweep-reversed-bounds",
    "sweep-name-with-path-separator",
    "workers-zero",
)


@pytest.mark.parametrize("case_id", FRESH_SAMPLE)
def test_fresh_interpreter_gives_the_same_outcome(
    case_id: str, tmp_path: Path, finished_sweep: Path, outcomes: dict[str, Outcome]
) -> None:
    """A real ``python -m sim`` process gives the forked row's exit code and message."""
    case = next(c for c in CASES if c.id == case_id)
    before = _prepare(case, tmp_path / "row", finished_sweep)
    proc = subprocess.run(
        [PYTHON, "-m", "sim", *case.argv],
        cwd=tmp_path / "row",
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    forked = outcomes[case_id]
    assert (proc.returncode, proc.stderr) == (forked.returncode, forked.stderr)
    assert proc.returncode == 2
    assert tree_digest(tmp_path / "row") == before
