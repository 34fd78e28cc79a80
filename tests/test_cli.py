"""Command line: every bad input is one line on stderr and exit code 2; failures while running
exit 1 and leave the sweep marked incomplete; the happy paths write what they say."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import TechCompetitionModel, list_scenarios, load_scenario
from sim.cli import main
from sim.engine import MODEL_COLUMNS
from sim.experiments import load

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
base = "seed"
replicates = 2
steps = 4
record = "final"
root_seed = 5
[fixed]
n_enterprises = 100
[parameters]
market_value = { values = [50.0, 150.0] }
"""


def sweep_file(tmp_path: Path, text: str = GOOD, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code: int, err: str, fragment: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_scenarios_lists_every_scenario(capsys):
    code, out, _ = run_cli(capsys, "scenarios")
    assert code == 0
    lines = out.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert names == sorted(list_scenarios())
    assert {"classic", "seed", "mandate", "open", "protectionist", "open-weights"} <= set(names)
    assert {"chip-controls", "price-war", "timeline-2024"} <= set(names)
    for line, (name, description) in zip(lines, list_scenarios().items(), strict=True):
        assert line.startswith(name) and line.endswith(description)


def test_run_writes_the_model_run_for_the_seed(capsys, tmp_path):
    out = tmp_path / "one.parquet"
    code, _, _ = run_cli(
        capsys,
        "run",
        "--scenario",
        "seed",
        "--steps",
        "6",
        "--rng",
        "3",
        "--set",
        "n_enterprises=150",
        "--out",
        str(out),
    )
    assert code == 0
    frame = pd.read_parquet(out)
    params = load_scenario("seed").replace(n_enterprises=150)
    expected = TechCompetitionModel(params=params, rng=3).run(6)
    assert frame["seed"].eq(3).all()
    for column in ("step", *MODEL_COLUMNS):  # NaN (no network, no open models) equals NaN
        np.testing.assert_array_equal(frame[column].to_numpy(), expected[column].to_numpy())


def test_sweep_then_figures(capsys, tmp_path):
    out = tmp_path / "res"
    code, _, err = run_cli(
        capsys, "sweep", str(sweep_file(tmp_path)), "--out", str(out), "--workers", "1"
    )
    assert code == 0, err
    assert "4 runs (4 new)" in err
    assert load(out).shape[0] == 4
    code, stdout, _ = run_cli(capsys, "figures", str(out))
    assert code == 0
    written = [Path(line) for line in stdout.split()]
    assert {p.suffix for p in written} == {".png", ".svg"}
    assert all(p.exists() and p.parent == out / "figures" for p in written)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("replicates = [1,\n", "malformed TOML"),
        (GOOD.replace("market_value = {", "market_valeu = {"), "did you mean 'market_value'?"),
        (GOOD.replace("[50.0, 150.0]", "[-1.0]"), "parameters.market_value.values[0]=-1.0"),
        (
            GOOD.replace("{ values = [50.0, 150.0] }", "{ range = [100, 10], levels = 2 }"),
            "reversed bounds",
        ),
        (GOOD.replace("replicates = 2", "replicates = 0"), "replicates=0"),
    ],
    ids=["malformed", "unknown-parameter", "out-of-range", "reversed-bounds", "zero-replicates"],
)
def test_bad_sweep_file_exits_2_with_one_line(capsys, tmp_path, text, fragment):
    out = tmp_path / "res"
    code, _, err = run_cli(capsys, "sweep", str(sweep_file(tmp_path, text)), "--out", str(out))
    assert_user_error(code, err, fragment)
    assert not out.exists()  # nothing half-written


def test_unwritable_output_directory_exits_2(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, _, err = run_cli(
        capsys, "sweep", str(sweep_file(tmp_path)), "--out", str(blocker / "res")
    )
    assert_user_error(code, err, "not a writable directory")
    code, _, err = run_cli(capsys, "suite", "--quick", "--out", str(blocker / "res"))
    assert_user_error(code, err, "not a writable directory")


def test_unreachable_scheduler_exits_2_before_writing(capsys, tmp_path):
    out = tmp_path / "res"
    address = f"tcp://127.0.0.1:{free_port()}"
    code, _, err = run_cli(
        capsys,
        "sweep",
        str(sweep_file(tmp_path)),
        "--out",
        str(out),
        "--backend",
        "dask",
        "--scheduler",
        address,
        "--connect-timeout",
        "1",
    )
    assert_user_error(code, err, address)
    assert not (out / "manifest.json").exists()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["sweep", "missing.toml"], "cannot read sweep file"),
        (["sweep", "{file}", "--workers", "0"], "--workers"),
        (["sweep", "{file}", "--scheduler", "tcp://127.0.0.1:1"], "only used with --backend dask"),
        (["run", "--scenario", "sed"], "did you mean 'seed'?"),
        (["run", "--scenario", "../scenarios/seed"], "unknown scenario '../scenarios/seed'"),
        (["run", "--set", "market_value=-3"], "market_value=-3.0"),
        (["run", "--set", "partner-cloud.margin=3"], "providers[partner-cloud].margin=3.0"),
        (["run", "--set", "partner-clod.margin=3"], "did you mean 'partner-cloud'"),
        (["run", "--set", "network.mean_degree=2.5"], "network.mean_degree=2.5"),
        (["run", "--set", "home_fine=1\nmarket_value=2"], "one line"),
        (
            ["run", "--rng", str(2**63)],
            "--rng: expected a whole number in [0, 9223372036854775807]",
        ),
        (["run", "--rng", "2**70", "--out", "x.parquet"], "--rng"),
        (["run", "--steps", "100001"], "--steps: expected a whole number in [0, 100000]"),
        (["run", "--params", "/dev/zero"], "not a regular file"),
        (["schema", "--sweeps"], "unrecognized arguments"),
        (["figures", "{dir}"], "not a results directory"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_other_bad_input_exits_2(capsys, tmp_path, argv, fragment):
    file = sweep_file(tmp_path)
    argv = [a.format(file=file, dir=tmp_path) for a in argv]
    code, _, err = run_cli(capsys, *argv)
    assert_user_error(code, err, fragment)


def test_failure_while_running_exits_1_and_leaves_sweep_incomplete(capsys, tmp_path, monkeypatch):
    from sim.experiments import runners

    calls = {"n": 0}
    real = runners.run_unit

    def flaky(unit):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")
        return real(unit)

    monkeypatch.setattr(runners, "run_unit", flaky)
    out = tmp_path / "res"
    code, _, err = run_cli(
        capsys,
        "sweep",
        str(sweep_file(tmp_path)),
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
    )
    assert code == 1
    assert err.strip().splitlines()[-1] == ("error: sweep 's' failed: RuntimeError: disk on fire")
    assert "Traceback" not in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    monkeypatch.setattr(runners, "run_unit", real)
    code, _, err = run_cli(
        capsys,
        "sweep",
        str(sweep_file(tmp_path)),
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
    )
    assert code == 0
    assert "4 runs (2 new)" in err


def test_suite_runs_every_experiment_with_figures_and_docs_copies(capsys, tmp_path):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    small = "[fixed]\nn_enterprises = 100\n"
    (experiments / "baseline.toml").write_text(
        'kind = "baseline"\nreplicates = 3\nsteps = 4\n[quick]\nreplicates = 2\n' + small
    )
    (experiments / "phase_diagram.toml").write_text(
        'kind = "phase_diagram"\nreplicates = 2\nsteps = 4\nrecord = "final"\nproviders = true\n'
        "[quick]\nreplicates = 1\n"
        + small.replace("[fixed]\n", '[fixed]\nhome_rule = "fixed"\nhome_policy = "restrict"\n')
        + "[parameters]\nmarket_value = { values = [10.0, 1000.0] }\n"
        "home_fine = { values = [0.0, 1000.0] }\n"
    )
    (experiments / "counterfactuals.toml").write_text(
        'kind = "counterfactuals"\nreplicates = 2\nsteps = 4\n[quick]\nsteps = 3\n'
        + small
        + '[parameters]\nscenario = { values = ["seed", "mandate"] }\n'
    )
    (experiments / "sensitivity.toml").write_text(
        'kind = "sensitivity"\nsampler = "saltelli"\npoints = 8\nsteps = 4\nrecord = "final"\n'
        "[quick]\nsteps = 3\n"
        + small
        + "[parameters]\nmarket_value = { range = [10, 500] }\n"
        + "learning_rate = { range = [0.01, 0.3] }\n"
    )
    out, docs = tmp_path / "results", tmp_path / "docs-figures"
    code, _, err = run_cli(
        capsys,
        "suite",
        "--quick",
        "--out",
        str(out),
        "--experiments",
        str(experiments),
        "--docs-figures",
        str(docs),
        "--workers",
        "1",
        "--no-progress",
    )
    assert code == 0, err
    for name, figure in [
        ("baseline", "baseline_timeseries"),
        ("phase_diagram", "phase_diagram"),
        ("counterfactuals", "counterfactuals"),
        ("sensitivity", "sensitivity"),
    ]:
        for ext in ("png", "svg"):
            assert (out / f"{name}-quick" / "figures" / f"{figure}.{ext}").stat().st_size > 0
    assert sorted(p.name for p in docs.iterdir()) == sorted(
        f"{s}.{e}"
        for s in ("baseline_timeseries", "phase_diagram", "counterfactuals")
        for e in ("png", "svg")
    )
    regimes = pd.read_csv(out / "phase_diagram-quick" / "regimes.csv")
    assert len(regimes) == 4 and set(regimes["expected_penalty"]) == {0.0, 500.0}
    sobol = pd.read_csv(out / "sensitivity-quick" / "sobol_indices.csv")
    assert set(sobol["output"]) == {"capability_gap", "frac_foreign_allowing"}
    assert {"S1_conf", "ST_conf"} <= set(sobol.columns)


def test_module_entry_point_reports_user_errors_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bad = sweep_file(tmp_path, GOOD.replace("replicates = 2", "replicates = 0"))
    done = subprocess.run(
        [sys.executable, "-m", "sim", "sweep", str(bad), "--out", str(tmp_path / "r")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "replicates=0" in done.stderr


def test_run_set_accepts_every_dotted_name(capsys, tmp_path):
    """``--set`` takes a provider's, a segment's and the network's fields by name, like
    ``Params.replace``; the run is the model's run with those parameters."""
    out = tmp_path / "one.parquet"
    scenario = tmp_path / "segmented.toml"
    scenario.write_text(
        'base = "classic"\n[[segments]]\nname = "developers"\nshare = 0.4\n'
        '[[segments]]\nname = "firms"\nshare = 0.6\n',
        encoding="utf-8",
    )
    settings = {
        "partner-cloud.mandate_coverage": "1",
        "developers.revision_rate": "0.3",
        "network.kind": '"small_world"',
        "network.mean_degree": "4",
        "n_enterprises": "120",
        "home_policy": "restrict",
    }
    argv = ["run", "--params", str(scenario), "--steps", "3", "--rng", str(2**63 - 1)]
    for key, value in settings.items():
        argv += ["--set", f"{key}={value}"]
    code, _, err = run_cli(capsys, *argv, "--out", str(out))
    assert code == 0, err
    params = load_scenario("classic").replace(
        segments=[{"name": "developers", "share": 0.4}, {"name": "firms", "share": 0.6}]
    )
    params = params.replace(
        **{
            "partner-cloud.mandate_coverage": 1,
            "developers.revision_rate": 0.3,
            "network.kind": "small_world",
            "network.mean_degree": 4,
            "n_enterprises": 120,
            "home_policy": "restrict",
        }
    )
    assert params.provider("partner-cloud").mandate_coverage == 1.0
    frame = pd.read_parquet(out)
    expected = TechCompetitionModel(params=params, rng=2**63 - 1).run(3)
    assert frame["seed"].eq(2**63 - 1).all()
    for column in ("step", *MODEL_COLUMNS):  # NaN (no network, no open models) equals NaN
        np.testing.assert_array_equal(frame[column].to_numpy(), expected[column].to_numpy()), column


@pytest.mark.parametrize("which", ["scenario", "sweep"])
def test_schema_command_prints_the_json_schema(capsys, which):
    from sim.experiments.spec import sweep_file_schema
    from sim.params import scenario_file_schema

    argv = ["schema", "--sweep"] if which == "sweep" else ["schema"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0 and err == ""
    printed = json.loads(out)
    expected = sweep_file_schema() if which == "sweep" else scenario_file_schema()
    assert printed == json.loads(json.dumps(expected))
    assert printed["title"] == f"techcomp-sim {which} file"


SCENARIO_FILES = sorted((ROOT / "sim" / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_shipped_scenarios_validate_against_the_printed_schema(capsys, path):
    import jsonschema

    code, out, _ = run_cli(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    # and the schema is not vacuous: a typo and an out-of-range value fail it
    for bad in ({**data, "home_fin": 1.0}, {**data, "home_enforcement": 1.5}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)


def test_scenario_schema_structure(capsys):
    code, out, _ = run_cli(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    props = schema["properties"]
    assert {"base", "description", "providers", "segments", "network", "events"} <= set(props)
    assert props["base"]["enum"] == sorted(list_scenarios())
    assert props["market_value"]["minimum"] == 0.0 and props["market_value"]["unit"] == "$M/step"
    assert schema["$defs"]["Provider"]["required"] == ["name"]
    assert "remove" in schema["$defs"]["Provider"]["properties"]
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("command", ["sweep", "suite"])
def test_allow_large_lifts_the_design_limits(capsys, tmp_path, monkeypatch, command):
    """A design above the limits is refused naming the limit and the flag; with --allow-large
    the validated spec reaches the runner (replaced here: 10,001 runs are not the point)."""
    import sim.experiments.suite
    import sim.experiments.sweep

    text = (
        'steps = 1\nrecord = "final"\n[fixed]\nn_enterprises = 2\n[parameters]\n'
        "market_value = { range = [1, 2], levels = 10001 }\n"
    )
    experiments = tmp_path / "exp"
    experiments.mkdir()
    path = sweep_file(experiments, text, name="wide.toml")
    out = tmp_path / "res"
    received = []

    def fake_sweep(spec, directory, **kwargs):
        received.append(spec)
        return type("Result", (), {"summary": lambda self: "done"})()

    def fake_suite(specs, directory, **kwargs):
        received.extend(specs)
        return []

    monkeypatch.setattr(sim.experiments.sweep, "run_experiment", fake_sweep)
    monkeypatch.setattr(sim.experiments.suite, "run_suite", fake_suite)
    if command == "sweep":
        argv = ["sweep", str(path), "--out", str(out)]
    else:
        argv = ["suite", "--experiments", str(experiments), "--out", str(out)]
    code, _, err = run_cli(capsys, *argv)
    assert_user_error(code, err, "market_value.levels=10001: more than the limit of 10000 levels")
    assert "--allow-large" in err and received == []
    code, _, err = run_cli(capsys, *argv, "--allow-large")
    assert code == 0, err
    assert [(s.name, s.n_points) for s in received] == [("wide", 10001)]
