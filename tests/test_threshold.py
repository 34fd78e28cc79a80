"""Threshold search (sampler ``bisect``): bisection on a deterministic outcome against its known
threshold, the logistic crossing against a known curve, brackets from hand-made probes, and
real searches: reproducible from the root seed, resumable, extendable, equal on 1 and 2
workers, and driven from the command line like any sweep."""

from __future__ import annotations

import io
import json
import math
import subprocess

import numpy as np
import pytest

from sim.experiments.spec import spec_from_mapping
from sim.experiments.threshold import (
    Probe,
    logistic_crossing,
    read_threshold,
    round_seed,
    run_threshold,
    summarize,
    wilson,
)
from tests.support import PYTHON, ROOT, subprocess_env, tree_digest

Z95 = 1.959963984540054


def spec(**overrides):
    data = {
        "sampler": "bisect",
        "replicates": 10,
        "steps": 1,
        "record": "final",
        "providers": True,
        "root_seed": 5,
        "rounds": 7,
        "fixed": {"n_enterprises": 50},
        "outcome": [{"column": "partner-cloud/quality", "above": 0.37}],
        "parameters": {"partner-cloud.quality": {"range": [0.0, 1.0]}},
    }
    data.update(overrides)
    return spec_from_mapping(data, name="search")


def test_wilson_interval_closed_forms():
    z2 = Z95**2
    assert wilson(0, 10)[0] == 0.0
    assert wilson(0, 10)[1] == pytest.approx(z2 / (10 + z2))
    assert wilson(10, 10)[0] == pytest.approx(10 / (10 + z2))
    low, high = wilson(50, 100)
    assert (low + high) / 2 == pytest.approx(0.5)
    assert high - low == pytest.approx(2 * Z95 * math.sqrt(0.25 / 100 + z2 / 4e4) / (1 + z2 / 100))


def test_bisection_brackets_a_deterministic_threshold(tmp_path):
    # a foreign provider's quality is constant, so the outcome is 1 above 0.37 and 0 below
    result = run_threshold(spec(), tmp_path / "s", workers=1, progress=False)
    assert result.crossing and result.increasing
    assert [p.value for p in result.probes[:2]] == [0.0, 1.0]
    assert all(p.share in (0.0, 1.0) for p in result.probes)
    low, high = result.bracket
    assert low < 0.37 < high
    assert high - low == pytest.approx(2.0**-7)
    # ten of ten seeds is a confident probe, so the 95 % bracket is the bisection bracket
    assert result.confident_bracket == result.bracket
    assert result.estimate is None  # separable: the logistic slope is infinite
    assert len(result.probes) == 2 + 7
    stored = read_threshold(tmp_path / "s")
    assert stored["status"] == "complete" and stored["bracket"] == [low, high]
    assert stored["sweep_sha256"] == spec().fingerprint()
    rounds = sorted(p.name for p in (tmp_path / "s" / "rounds").iterdir())
    assert rounds == [f"r{r:02d}" for r in range(8)]
    assert (tmp_path / "s" / "threshold.csv").read_text().count("\n") == 1 + 9


def test_no_crossing_stops_after_the_ends_and_says_so(tmp_path):
    result = run_threshold(
        spec(parameters={"partner-cloud.quality": {"range": [0.5, 1.0]}}),
        tmp_path / "s",
        workers=1,
        progress=False,
    )
    assert not result.crossing and result.bracket is None
    assert len(result.probes) == 2
    assert "no crossing in [0.5, 1]" in result.summary()


def test_logistic_crossing_recovers_a_known_curve():
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 0.6, 13)
    p = 1 / (1 + np.exp(-(t - 0.3) / 0.05))
    runs = np.full(len(t), 400.0)
    successes = rng.binomial(400, p).astype(float)
    estimate, se = logistic_crossing(t, successes, runs, 0.5)
    assert 0 < se < 0.01
    assert abs(estimate - 0.3) < 4 * se
    # another level: logit(0.8) = ln 4, so t = 0.3 + 0.05 ln 4
    estimate, se = logistic_crossing(t, successes, runs, 0.8)
    assert abs(estimate - (0.3 + 0.05 * math.log(4))) < 4 * se
    assert logistic_crossing(t, np.where(p > 0.5, 400.0, 0.0), runs, 0.5) is None
    flat = np.full(len(t), 200.0)  # no slope: not identifiable
    assert logistic_crossing(t, flat, runs, 0.5) is None


def test_brackets_from_hand_made_probes():
    s = spec(parameters={"partner-cloud.quality": {"range": [0.0, 1.0]}})
    probes = [
        Probe(0, 0.0, 20, 0),
        Probe(0, 1.0, 20, 20),
        Probe(1, 0.5, 20, 11),  # at or above 1/2 but not confident
        Probe(2, 0.25, 20, 2),  # confidently below
        Probe(3, 0.375, 20, 9),  # below, not confident
    ]
    result = summarize(s, probes)
    assert result.crossing and result.increasing
    assert result.bracket == (0.375, 0.5)
    assert result.confident_bracket == (0.25, 1.0)
    assert result.confident_ends == (True, True)
    decreasing = summarize(s, [Probe(0, 0.0, 20, 20), Probe(0, 1.0, 20, 0)])
    assert decreasing.crossing and decreasing.increasing is False
    contradictory = summarize(
        s,
        [Probe(0, 0.0, 30, 0), Probe(0, 1.0, 30, 30), Probe(1, 0.5, 30, 0), Probe(2, 0.25, 30, 30)],
    )
    assert contradictory.confident_bracket is None


def stochastic(**overrides):
    data = {
        "replicates": 8,
        "steps": 12,
        "rounds": 2,
        "fixed": {"n_enterprises": 150},
        "outcome": [{"column": "partner-cloud/strategy", "equals": "allow"}],
        "parameters": {"partner-cloud.rival_dependence": {"range": [0.0, 3.0]}},
    }
    data.update(overrides)
    return spec(**data)


def test_search_is_reproducible_resumable_and_extendable(tmp_path):
    first = run_threshold(stochastic(), tmp_path / "a", workers=1, progress=False)
    chunks = sorted((tmp_path / "a" / "rounds").glob("r*/chunks/*.parquet"))
    digest = [tree_digest(c.parent) for c in chunks]
    again = run_threshold(stochastic(), tmp_path / "a", workers=1, progress=False)
    assert again == first
    assert [tree_digest(c.parent) for c in chunks] == digest  # no chunk recomputed
    parallel = run_threshold(stochastic(), tmp_path / "b", workers=2, progress=False)
    assert parallel.probes == first.probes
    # more rounds in the same directory (no --force): the first rounds are not run again
    short = run_threshold(spec(rounds=2), tmp_path / "e", workers=1, progress=False)
    chunks = sorted((tmp_path / "e" / "rounds").glob("r*/chunks/*.parquet"))
    digest = [tree_digest(c.parent) for c in chunks]
    stamps = [c.stat().st_mtime_ns for c in chunks]
    longer = run_threshold(spec(rounds=3), tmp_path / "e", workers=1, progress=False)
    assert short.crossing and len(longer.probes) == len(short.probes) + 1
    assert longer.probes[: len(short.probes)] == short.probes
    assert [tree_digest(c.parent) for c in chunks] == digest
    assert [c.stat().st_mtime_ns for c in chunks] == stamps
    assert read_threshold(tmp_path / "e")["definition"]["rounds"] == 3
    fresh = run_threshold(spec(rounds=3), tmp_path / "c", workers=1, progress=False)
    assert fresh == longer  # as a search run with 3 rounds from the start
    other = run_threshold(stochastic(root_seed=6), tmp_path / "d", workers=1, progress=False)
    assert [p.value for p in other.probes[:2]] == [0.0, 3.0]
    assert round_seed(stochastic(), 1) != round_seed(stochastic(root_seed=6), 1)


def test_a_different_search_in_the_same_directory_needs_force(tmp_path):
    from sim.experiments.store import StoreError

    run_threshold(stochastic(rounds=1), tmp_path / "a", workers=1, progress=False)
    with pytest.raises(StoreError, match="holds a different threshold search"):
        run_threshold(stochastic(rounds=1, level=0.6), tmp_path / "a", workers=1, progress=False)
    run_threshold(
        stochastic(rounds=1, level=0.6), tmp_path / "a", workers=1, progress=False, force=True
    )
    assert read_threshold(tmp_path / "a")["level"] == 0.6


def test_command_line_runs_a_search_and_draws_its_figure(tmp_path):
    path = tmp_path / "search.toml"
    path.write_text(
        'sampler = "bisect"\nproviders = true\nreplicates = 4\nsteps = 1\nrounds = 3\n'
        'record = "final"\nfixed = { n_enterprises = 40 }\n'
        'outcome = [{ column = "partner-cloud/quality", above = 0.37 }]\n'
        '[parameters]\n"partner-cloud.quality" = { range = [0.0, 1.0] }\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"

    def cli(*args):
        return subprocess.run(
            [PYTHON, "-m", "sim", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=subprocess_env(),
            timeout=300,
        )

    done = cli("sweep", str(path), "--out", str(out), "--workers", "1", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "bisection bracket [0.25, 0.375]" in done.stderr
    drawn = cli("figures", str(out))
    assert drawn.returncode == 0, drawn.stderr
    assert (out / "figures" / "threshold.png").stat().st_size > 0
    assert json.loads((out / "threshold.json").read_text())["status"] == "complete"
    # a plain sweep's directory is not a search's
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "manifest.json").write_text("{}")
    refused = cli("sweep", str(path), "--out", str(plain), "--workers", "1", "--no-progress")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "holds a sweep's results" in refused.stderr


def test_shipped_threshold_search_validates():
    from sim.experiments.spec import load_spec

    for quick in (False, True):
        search = load_spec(
            ROOT / "experiments" / "robustness" / "sf1_frontier_growth.toml", quick=quick
        )
        assert search.sampler == "bisect" and len(search.outcome) == 2


def test_suite_runs_a_threshold_search_beside_a_sweep_and_figures_check_its_rounds(tmp_path):
    from sim.experiments.figures import make_figures
    from sim.experiments.store import StoreError
    from sim.experiments.suite import experiment_specs, run_suite

    experiments = tmp_path / "exp"
    experiments.mkdir()
    (experiments / "a_plain.toml").write_text(
        'replicates = 2\nsteps = 1\nrecord = "final"\nfixed = { n_enterprises = 20 }\n'
        "[parameters]\nmarket_value = [1.0, 2.0]\n",
        encoding="utf-8",
    )
    (experiments / "b_search.toml").write_text(
        'sampler = "bisect"\nproviders = true\nreplicates = 2\nsteps = 1\nrounds = 2\n'
        'record = "final"\nfixed = { n_enterprises = 20 }\n'
        'outcome = [{ column = "partner-cloud/quality", above = 0.37 }]\n'
        '[parameters]\n"partner-cloud.quality" = { range = [0.0, 1.0] }\n',
        encoding="utf-8",
    )
    specs = experiment_specs(experiments, quick=False)
    assert [s.name for s in specs] == ["a_plain", "b_search"]
    out = tmp_path / "out"
    written = run_suite(specs, out, workers=1, progress=False, log=io.StringIO())
    assert out / "b_search" / "figures" / "threshold.png" in written
    assert (out / "a_plain" / "manifest.json").exists()
    record = read_threshold(out / "b_search")
    assert record["status"] == "complete" and record["bracket"] == [0.25, 0.5]
    # figures reads the rounds' chunks checked, as it does a sweep's
    chunk = sorted((out / "b_search" / "rounds" / "r01" / "chunks").glob("*.parquet"))[0]
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=chunk.name):
        make_figures(out / "b_search")
    assert make_figures(out / "b_search", check=False)
