"""Calibration (ABC-SMC with pyabc): the file schema, a tiny calibration end to end, its
outputs, determinism across workers and backends, resuming, refusing to mix definitions or
code versions, recovery of known parameters from synthetic data, the observation models of
the shipped file and the calibrated scenario."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.batch import run_batch
from sim.calibration import core
from sim.calibration.core import (
    CalibrationSpec,
    load_calibration,
    run_calibration,
    spec_from_mapping,
    weighted_quantiles,
)
from sim.errors import InputError
from sim.experiments.store import StoreError, sha256_file
from sim.params import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "experiments" / "calibration.toml"
SHIPPED_2024 = ROOT / "experiments" / "calibration-2024.toml"


def tiny(**changes: Any) -> dict[str, Any]:
    """A calibration that runs in about a second: two parameters, 200 enterprises."""
    data: dict[str, Any] = {
        "name": "tiny",
        "base": "timeline-2024",
        "steps": 13,
        "root_seed": 7,
        "fixed": {"n_enterprises": 200},
        "priors": {
            "learning_rate": {"low": 0.0, "high": 0.6},
            "frontier_growth": {"low": 0.001, "high": 0.03, "scale": "log"},
        },
        "targets": {
            "gap_feb2025": {
                "quantity": "capability_gap",
                "month": 13,
                "observed": 0.05,
                "tolerance": 0.01,
            },
            "ratio": {
                "quantity": "capability_gap",
                "month": 11,
                "relative_to": 0,
                "observed": 0.5,
                "tolerance": 1.0,
                "scale": "log",
                "fit": False,
            },
        },
        "schedule": {"population": 16, "generations": 2, "predictive_runs": 1},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def spec_of(**changes: Any) -> CalibrationSpec:
    return spec_from_mapping(tiny(**changes), name="tiny")


def calibrate(spec: CalibrationSpec, out: Path, **kwargs: Any) -> core.CalibrationResult:
    return run_calibration(spec, out, workers=kwargs.pop("workers", 1), progress=False, **kwargs)


# ---- the file schema ------------------------------------------------------------------------


def error_of(data: dict[str, Any], quick: bool = False) -> str:
    with pytest.raises(InputError) as info:
        spec_from_mapping(data, name="tiny", quick=quick)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"priors": {"diffusion_rate": {"low": 0.3, "high": 0.1}}},
            "priors.diffusion_rate.high=0.1: expected a value above low (0.3)",
        ),
        (
            {"priors": {"diffusion_rate": {"low": 0.0, "high": 2.0}}},
            "priors.diffusion_rate.high=2.0: ",
        ),
        (
            {"priors": {"difusion_rate": {"low": 0.0, "high": 0.5}}},
            "did you mean 'diffusion_rate'?",
        ),
        (
            {"priors": {"diffusion_rate": {"low": 0.0, "hihg": 0.5}}},
            "priors.diffusion_rate: unknown key 'hihg'; did you mean 'high'?",
        ),
        (
            {"priors": {"diffusion_rate": {"low": 0.0, "high": 0.5, "scale": "log"}}},
            "priors.diffusion_rate.low=0.0: scale 'log' needs low > 0",
        ),
        (
            {"priors": {"frontier_release_interval": {"low": 0, "high": 6}}},
            "priors.frontier_release_interval: only a continuous number can have a prior",
        ),
        (
            {"priors": {"events.5.price_subsidy": {"low": 0.1, "high": 0.5}}},
            "events.5.price_subsidy: no single event at month 5 sets",
        ),
        (
            {"fixed": {"n_enterprises": 0}},
            "fixed.n_enterprises=0: ",
        ),
        (
            {"targets": {"gap_feb2025": {"quantity": "capability_gapp"}}},
            "did you mean 'capability_gap'?",
        ),
        (
            {"targets": {"gap_feb2025": {"month": 20}}},
            "targets.gap_feb2025.month=20: after the last month simulated (steps = 13)",
        ),
        (
            {"targets": {"gap_feb2025": {"tolerance": 0}}},
            "targets.gap_feb2025.tolerance=0.0: expected a value in",
        ),
        (
            {"targets": {"gap_feb2025": {"observed": -1.0, "scale": "log"}}},
            "targets.gap_feb2025.observed=-1.0: scale 'log' needs a positive value",
        ),
        ({"schedule": {"population": 1}}, "schedule.population=1: expected a value in [2, "),
        ({"schedule": {"quantile": 0}}, "schedule.quantile=0.0: expected a value in"),
        ({"distance": "cosine"}, "distance='cosine': expected one of"),
        ({"base": "timeline-2042"}, "unknown scenario 'timeline-2042'"),
        ({"stesp": 13}, "unknown key 'stesp'; did you mean 'steps'?"),
    ],
)
def test_schema_errors_are_one_line_naming_the_field(changes: dict[str, Any], expected: str):
    data = tiny()
    for key, value in changes.items():
        if key in ("priors", "targets") and isinstance(value, dict):
            table = dict(data[key])
            for name, entry in value.items():
                table[name] = {**table.get(name, {}), **entry}
            data[key] = table
        elif key == "priors":
            data[key] = value
        elif isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    assert expected in error_of(data)


def test_schema_quick_errors_name_the_quick_table():
    data = tiny(quick={"schedule": {"population": 1}})
    assert "quick.schedule.population=1" in error_of(data, quick=True)
    assert "no [quick] table" in error_of(tiny(), quick=True)


def test_schema_needs_priors_and_a_fitted_target():
    assert "priors: expected at least one" in error_of({**tiny(), "priors": {}})
    targets = {
        "t": {
            "quantity": "capability_gap",
            "month": 1,
            "observed": 0.1,
            "tolerance": 0.1,
            "fit": False,
        }
    }
    assert "at least one target with fit = true" in error_of({**tiny(), "targets": targets})


def test_shipped_files_load_with_their_quick_variants():
    for path in (SHIPPED, SHIPPED_2024):
        full = load_calibration(path)
        quick = load_calibration(path, quick=True)
        assert quick.name == f"{full.name}-quick"
        assert quick.schedule.population < full.schedule.population
        assert full.parameter_names == quick.parameter_names
        assert full.fingerprint() != quick.fingerprint()


def test_the_fast_parameter_path_equals_full_validation():
    spec = load_calibration(SHIPPED)
    rng = np.random.default_rng(3)
    for _ in range(5):
        values = {n: float(rng.uniform(p.low, p.high)) for n, p in spec.priors.items()}
        assert spec.params_for(values) == spec.params_for(values, validate=True)
    with pytest.raises(InputError, match="outside its prior"):
        spec.params_for({**values, "learning_rate": 5.0})


def test_event_values_change_only_that_event():
    spec = load_calibration(SHIPPED)
    values = {n: p.low for n, p in spec.priors.items()}
    params = spec.params_for({**values, "events.4.price_subsidy": 0.9})
    may = next(e for e in params.events if e.month == 4)
    assert may.set["price_subsidy"] == 0.9
    base = load_scenario("timeline-2024")
    others = [e for e in params.events if e.month != 4]
    assert others == [e for e in base.events if e.month != 4]


# ---- the observation models and targets of the shipped file -------------------------------


def test_benchmark_observation_model_matches_the_brief():
    """The benchmark target is the geometric mean of the four end-2023 -> end-2024 gap ratios
    (scales per benchmark cancel), its log tolerance their standard deviation."""
    gaps = {"MMLU": (17.5, 0.3), "MMMU": (13.5, 8.1), "MATH": (24.3, 1.6), "HumanEval": (31.6, 3.7)}
    logs = np.log([end / start for start, end in gaps.values()])
    spec = load_calibration(SHIPPED)
    target = dict(spec.targets)["benchmark_ratio_2024"]
    assert target.observed == pytest.approx(math.exp(logs.mean()), abs=5e-4)
    assert target.tolerance == pytest.approx(logs.std(ddof=1), abs=5e-3)
    assert (target.quantity, target.month, target.relative_to) == ("capability_gap", 11, 0)
    # any per-benchmark scale a_b cancels in the ratio the model is compared with: the target
    # computed from runs whose gaps are all scaled by a_b is unchanged (to rounding), while a
    # level target scales with them
    steps = spec.steps + 1
    paths = np.array([np.linspace(0.09, 0.02, steps), np.geomspace(0.12, 0.01, steps)])
    frame = pd.DataFrame({"run": np.repeat([0, 1], steps), "step": np.tile(range(steps), 2)})
    for quantity in {t.quantity for t in spec.targets.values()}:
        frame[quantity] = paths.ravel()
    base = core.target_values(spec, frame)
    np.testing.assert_array_equal(base["benchmark_ratio_2024"], paths[:, 11] / paths[:, 0])
    for scale in (0.5, 3.0, 300.0):
        got = core.target_values(spec, frame.assign(capability_gap=scale * frame.capability_gap))
        np.testing.assert_allclose(
            got["benchmark_ratio_2024"], base["benchmark_ratio_2024"], rtol=1e-15
        )
        np.testing.assert_array_equal(got["gap_feb2025"], scale * paths[:, 13])


def test_ratio_targets_are_computed_from_the_runs():
    spec = spec_of()
    values = {"learning_rate": 0.3, "frontier_growth": 0.005}
    frame = core.simulate(spec, values, [1, 2])
    got = core.target_values(spec, frame)
    direct = run_batch(spec.params_for(values), [1, 2], 13).model
    gap = direct["capability_gap"].to_numpy().reshape(2, 14)
    np.testing.assert_allclose(got["gap_feb2025"], gap[:, 13])
    np.testing.assert_allclose(got["ratio"], gap[:, 11] / gap[:, 0])


def test_month_zero_anchors_are_met_by_construction():
    """The shipped [fixed] block puts the month-0 Arena gaps exactly on their targets."""
    spec = load_calibration(SHIPPED)
    values = {n: 0.5 * (p.low + p.high) for n, p in spec.priors.items()}
    frame = core.simulate(spec, values, [0])
    targets = dict(spec.targets)
    for name in ("gap_jan2024", "open_gap_jan2024"):
        t = targets[name]
        assert frame[t.quantity].iloc[0] == pytest.approx(t.observed, abs=1e-12)


def test_weighted_quantiles_are_ordered_and_match_numpy_unweighted():
    rng = np.random.default_rng(0)
    x = rng.normal(size=4001)
    q = weighted_quantiles(x, np.ones_like(x), [0.05, 0.5, 0.95])
    # equal weights: the Hazen definition, (k - 1/2) / n at the k-th smallest value
    np.testing.assert_allclose(q, np.quantile(x, [0.05, 0.5, 0.95], method="hazen"), atol=1e-12)
    w = rng.uniform(size=x.size)
    q = weighted_quantiles(x, w, np.linspace(0, 1, 11))
    assert np.all(np.diff(q) >= 0) and x.min() <= q[0] and q[-1] <= x.max()
    # scaling the weights changes nothing; a zero weight removes a value
    np.testing.assert_allclose(
        weighted_quantiles(x, 7.0 * w, [0.3]), weighted_quantiles(x, w, [0.3])
    )
    w0 = w.copy()
    w0[np.argmax(x)] = 0.0
    assert weighted_quantiles(x, w0, [1.0])[0] < x.max()


# ---- end to end -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "run"
    calibrate(spec_of(), out)
    return out


def test_tiny_calibration_writes_its_outputs(tiny_run: Path):
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["kind"] == "calibration"
    assert len(manifest["generations"]) == 2
    assert manifest["environment"]["pyabc"] == "0.13.0"
    assert manifest["code_sha256"] == core.code_fingerprint()
    for name, digest in manifest["outputs"].items():
        assert sha256_file(tiny_run / name) == digest
    for name in ("posterior.png", "predictive.png"):
        assert (tiny_run / "figures" / name).stat().st_size > 1000
    posterior = pd.read_parquet(tiny_run / "posterior.parquet")
    assert list(posterior.columns) == ["learning_rate", "frontier_growth", "weight"]
    assert len(posterior) == 16
    assert posterior["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (posterior["weight"] > 0).all()
    assert posterior["learning_rate"].between(0.0, 0.6).all()
    assert posterior["frontier_growth"].between(0.001, 0.03).all()


def test_tiny_predictive_has_every_target_with_ordered_quantiles(tiny_run: Path):
    predictive = pd.read_parquet(tiny_run / "predictive.parquet")
    for column in ("target", "month", "observed", "q05", "q50", "q95"):
        assert column in predictive.columns
    assert list(predictive["target"]) == ["gap_feb2025", "ratio"]
    assert (predictive["q05"] <= predictive["q50"]).all()
    assert (predictive["q50"] <= predictive["q95"]).all()
    assert list(predictive["fit"]) == [True, False]
    paths = pd.read_parquet(tiny_run / "predictive_paths.parquet")
    assert set(paths["month"]) == set(range(14))
    assert (paths["q05"] <= paths["q95"]).all()


def test_tiny_scenario_file_reproduces_the_representative_particle(tiny_run: Path):
    from sim.params import Params

    spec = spec_of()
    posterior = pd.read_parquet(tiny_run / "posterior.parquet")
    chosen = core.representative(spec, posterior)
    params = Params.from_toml(tiny_run / "scenario.toml")
    values = {n: float(f"{float(chosen[n]):.6g}") for n in spec.parameter_names}
    expected = spec.params_for(values)
    a = run_batch(params, [5], 13).model
    b = run_batch(expected, [5], 13).model
    pd.testing.assert_frame_equal(a, b)


def test_same_seed_same_posterior_whatever_the_workers(tiny_run: Path, tmp_path: Path):
    reference = pd.read_parquet(tiny_run / "posterior.parquet")
    calibrate(spec_of(), tmp_path / "again")
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "again" / "posterior.parquet"), reference
    )
    calibrate(spec_of(), tmp_path / "pool", workers=2)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "pool" / "posterior.parquet"), reference
    )
    for name in ("predictive.parquet", "predictive_paths.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "pool" / name), pd.read_parquet(tiny_run / name)
        )
    other = spec_of(root_seed=8)
    calibrate(other, tmp_path / "seed8")
    assert not pd.read_parquet(tmp_path / "seed8" / "posterior.parquet").equals(reference)


def test_the_batch_size_changes_nothing_but_the_work(tiny_run: Path, tmp_path: Path):
    """Rounds of 5 candidates instead of a population's 16: the same particles."""
    spec = spec_of(schedule={"population": 16, "generations": 2, "batch": 5})
    calibrate(spec, tmp_path / "b5")
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "b5" / "posterior.parquet"),
        pd.read_parquet(tiny_run / "posterior.parquet"),
    )


def test_dask_backend_gives_the_same_posterior(tiny_run: Path, tmp_path: Path):
    calibrate(spec_of(), tmp_path / "dask", backend="dask", workers=2)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "dask" / "posterior.parquet"),
        pd.read_parquet(tiny_run / "posterior.parquet"),
    )


def test_resume_after_a_stop_gives_the_uninterrupted_result(tiny_run: Path, tmp_path: Path):
    out = tmp_path / "resumed"
    spec = spec_of()
    first = calibrate(spec, out, stop_after=1)
    manifest = json.loads((out / "manifest.json").read_text())
    assert first.generations == 1 and manifest["status"] == "running"
    assert not (out / "posterior.parquet").exists()
    second = calibrate(spec, out)
    assert second.resumed_from == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert [i["resumed_after_generation"] for i in manifest["invocations"]] == [-1, 0]
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "posterior.parquet"),
        pd.read_parquet(tiny_run / "posterior.parquet"),
    )
    # a complete calibration is not run again
    third = calibrate(spec, out)
    assert third.elapsed == 0.0
    assert len(json.loads((out / "manifest.json").read_text())["invocations"]) == 2


def test_a_run_killed_before_its_first_generation_starts_cleanly(tmp_path: Path):
    out = tmp_path / "killed"
    spec = spec_of()
    calibrate(spec, out, stop_after=0)
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    result = calibrate(spec, out)
    assert result.generations == 2


def test_refuses_another_definition_or_code_version(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "mixed"
    calibrate(spec_of(), out, stop_after=1)
    with pytest.raises(StoreError, match="different calibration definition"):
        calibrate(spec_of(root_seed=99), out)
    monkeypatch.setattr(core, "code_fingerprint", lambda: "another version")
    with pytest.raises(StoreError, match="another version of the code"):
        calibrate(spec_of(), out)
    monkeypatch.undo()
    calibrate(spec_of(root_seed=99), out, force=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["root_seed"] == 99 and len(manifest["invocations"]) == 1
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "abc.db").write_bytes(b"")
    with pytest.raises(StoreError, match=r"without a manifest\.json"):
        calibrate(spec_of(), tmp_path / "foreign")


@pytest.mark.slow
def test_recovers_known_parameters_from_synthetic_data(tmp_path: Path):
    """Data simulated at known values of two parameters with separate effects, the catch-up
    bought by subsidy (``rival_subsidy``, the capability gap) and the lag of home-origin open
    weights (``open_weight_lag``, the open-weight gap), observed every other month with
    tolerance 0.001 (about the run-to-run noise at 200 enterprises): the truth lies inside the
    posterior's 2-98% interval and each interval is narrower than half its prior's range (in
    the space the prior is uniform in). Parameters that trade off against one another (the
    learning rate against the frontier's growth) are not identified by data this short:
    docs/calibration.md."""
    truth = {"rival_subsidy": 0.04, "open_weight_lag": 8.0}
    priors = {
        "rival_subsidy": {"low": 0.0, "high": 0.1},
        "open_weight_lag": {"low": 2.0, "high": 36.0, "scale": "log"},
    }
    base = spec_from_mapping({**tiny(), "priors": priors}, name="recovery")
    observed = run_batch(base.params_for(truth), [12345], 13).model
    targets = {
        f"{quantity}_m{m}": {
            "quantity": quantity,
            "month": m,
            "observed": float(observed[quantity].iloc[m]),
            "tolerance": 0.001,
        }
        for quantity in ("capability_gap", "open_capability_gap")
        for m in (1, 3, 5, 7, 9, 11, 13)
    }
    spec = spec_from_mapping(
        {
            **tiny(schedule={"population": 40, "generations": 6, "quantile": 0.3}),
            "priors": priors,
            "targets": targets,
        },
        name="recovery",
    )
    calibrate(spec, tmp_path / "recovery", workers=2)
    posterior = pd.read_parquet(tmp_path / "recovery" / "posterior.parquet")
    w = posterior["weight"].to_numpy()
    for name, value in truth.items():
        prior = spec.priors[name]
        low, high = weighted_quantiles(posterior[name].to_numpy(), w, [0.02, 0.98])
        assert low <= value <= high, (name, low, high)
        ends = [prior.to_internal(v) for v in (low, high, prior.low, prior.high)]
        assert ends[1] - ends[0] < 0.5 * (ends[3] - ends[2]), (name, low, high)


# ---- the command line and the shipped scenario ---------------------------------------------


def test_cli_refuses_a_bad_file_in_one_line(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('base = "timeline-2024"\n[priors.diffusion_rate]\nlow = 0.5\nhigh = 0.1\n')
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "calibrate", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "priors.diffusion_rate.high=0.1" in lines[0]
    assert not (tmp_path / "o").exists()


def test_cli_runs_a_tiny_calibration(tmp_path: Path):
    from sim.cli import main

    path = tmp_path / "tiny.toml"
    data = tiny()
    lines = [
        'name = "tiny"',
        f'base = "{data["base"]}"',
        "steps = 13",
        "root_seed = 7",
        "[fixed]",
        "n_enterprises = 200",
        "[priors.learning_rate]",
        "low = 0.0",
        "high = 0.6",
        "[targets.gap]",
        'quantity = "capability_gap"',
        "month = 13",
        "observed = 0.05",
        "tolerance = 0.01",
        "[schedule]",
        "population = 8",
        "generations = 1",
    ]
    path.write_text("\n".join(lines) + "\n")
    tomllib.loads(path.read_text())
    assert (
        main(
            [
                "calibrate",
                str(path),
                "--out",
                str(tmp_path / "o"),
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert (tmp_path / "o" / "posterior.parquet").exists()


def test_cli_reaches_a_scheduler_through_the_bounded_connect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A peer that accepts TCP and never answers: one line naming the scheduler, exit 2,
    within the connect timeout (the sweeps' connect, issue 11)."""
    import threading
    import time

    from sim.cli import main
    from tests.test_store_integrity import fake_peer

    path = tmp_path / "tiny.toml"
    data = tiny()
    path.write_text(
        f'name = "tiny"\nbase = "{data["base"]}"\nsteps = 13\n[fixed]\nn_enterprises = 200\n'
        "[priors.learning_rate]\nlow = 0.0\nhigh = 0.6\n"
        '[targets.gap]\nquantity = "capability_gap"\nmonth = 13\nobserved = 0.05\n'
        "tolerance = 0.01\n[schedule]\npopulation = 8\ngenerations = 1\n"
    )
    with fake_peer("silent") as port:
        address = f"tcp://127.0.0.1:{port}"
        args = ["calibrate", str(path), "--out", str(tmp_path / "o"), "--backend", "dask"]
        args += ["--scheduler", address, "--connect-timeout", "2", "--no-progress"]
        result: list[int] = []
        runner = threading.Thread(target=lambda: result.append(main(args)), daemon=True)
        started = time.monotonic()
        runner.start()
        runner.join(30)
        elapsed = time.monotonic() - started
    assert result, f"still connecting after {elapsed:.0f} s with --connect-timeout 2"
    lines = capsys.readouterr().err.strip().splitlines()
    assert result[0] == 2, lines
    assert len(lines) == 1 and f"--scheduler {address}: no answer within" in lines[0], lines
    assert elapsed < 2 + 2.5, f"took {elapsed:.1f} s with --connect-timeout 2"


def test_calibrated_scenario_runs_and_meets_the_month_zero_anchors():
    params = load_scenario("calibrated")
    assert params.start_month == "2024-01"
    frame = run_batch(params, [1], 13).model
    assert frame["capability_gap"].iloc[0] == pytest.approx(0.0926, abs=1e-9)
    assert frame["open_capability_gap"].iloc[0] == pytest.approx(0.080, abs=1e-9)
    assert frame["capability_gap"].iloc[13] < 0.0926


def test_calibrated_scenario_runs_from_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "run", "--scenario", "calibrated", "--steps", "13"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "capability_gap" in proc.stdout


def test_a_locked_directory_is_refused(tmp_path: Path):
    import fcntl
    import os

    out = tmp_path / "locked"
    out.mkdir()
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(StoreError, match="in use by another calibration"):
            calibrate(spec_of(), out)
    finally:
        os.close(fd)
    assert not (out / "manifest.json").exists()


def test_calibration_files_are_told_from_sweep_files():
    from sim.calibration.core import is_calibration_file

    assert is_calibration_file(SHIPPED) and is_calibration_file(SHIPPED_2024)
    sweeps = [p for p in (ROOT / "experiments").glob("*.toml") if not p.stem.startswith("calib")]
    assert sweeps and not any(is_calibration_file(p) for p in sweeps)


def test_a_failure_while_running_is_one_line_exit_1(tmp_path: Path, monkeypatch, capsys):
    from sim.cli import main

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("model exploded")

    path = tmp_path / "tiny.toml"
    path.write_text(
        'name = "tiny"\nsteps = 13\n[fixed]\nn_enterprises = 200\n'
        "[priors.learning_rate]\nlow = 0.0\nhigh = 0.6\n"
        '[targets.gap]\nquantity = "capability_gap"\nmonth = 13\nobserved = 0.05\n'
        "tolerance = 0.01\n[schedule]\npopulation = 4\ngenerations = 1\n"
    )
    monkeypatch.setattr(core, "simulate", broken)
    code = main(
        ["calibrate", str(path), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "model exploded" in err[0] and "re-run the command" in err[0]
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["status"] == "running"
