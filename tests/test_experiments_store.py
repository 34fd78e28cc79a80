"""Result store: manifest contents and checksums, resume, refusal of another definition,
detection of damaged chunks, and a sweep killed with SIGKILL then resumed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiments import load, plan, run_sweep, verify
from sim.experiments.spec import load_spec
from sim.experiments.store import StoreError

ROOT = Path(__file__).resolve().parents[1]

SWEEP_TOML = """
description = "store test"
base = "seed"
sampler = "grid"
replicates = 4
replicates_per_unit = 2
steps = {steps}
record = "final"
root_seed = 99
[fixed]
n_enterprises = {enterprises}
[parameters]
market_value = {{ values = [30.0, 60.0, 120.0, 240.0, 480.0, 960.0] }}
"""


def write_sweep(path: Path, steps: int = 10, enterprises: int = 200) -> Path:
    path.write_text(SWEEP_TOML.format(steps=steps, enterprises=enterprises), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    base = tmp_path_factory.mktemp("store")
    spec = load_spec(write_sweep(base / "sweep.toml"))
    out = base / "out"
    result = run_sweep(spec, out, workers=1, progress=False)
    return spec, out, result


def test_manifest_records_definition_versions_seed_and_chunk_checksums(finished):
    spec, out, result = finished
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["definition"] == spec.definition()
    assert manifest["root_seed"] == 99
    assert manifest["n_runs"] == result.n_runs == 24
    env = manifest["environment"]
    assert env["package_version"] == sim.__version__
    assert env["numpy"] == np.__version__
    assert env["mesa"] == mesa.__version__
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert "git_commit" in env
    assert manifest["created"] and manifest["finished"]
    chunks = manifest["chunks"]
    assert len(chunks) == manifest["n_units"] == 12
    files = sorted(p.name for p in (out / "chunks").iterdir())
    assert files == sorted(chunks)  # no temporary files left behind
    for name, entry in chunks.items():
        data = (out / "chunks" / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
        assert entry["rows"] == 2
    assert manifest["rows"] == sum(c["rows"] for c in chunks.values()) == 24
    assert verify(out) == []


def test_rerun_skips_finished_runs(finished):
    spec, out, _ = finished
    before = load(out)
    again = run_sweep(spec, out, workers=1, progress=False)
    assert again.computed_runs == 0
    pd.testing.assert_frame_equal(load(out), before, check_exact=True)


def test_different_definition_is_refused_unless_forced(finished, tmp_path):
    spec, out, _ = finished
    text = (out.parent / "sweep.toml").read_text().replace("root_seed = 99", "root_seed = 100")
    (tmp_path / "sweep.toml").write_text(text)
    other = load_spec(tmp_path / "sweep.toml")
    with pytest.raises(StoreError, match="different sweep definition"):
        run_sweep(other, out, workers=1, progress=False)
    assert load(out)["seed"].nunique() == 24  # untouched
    copy = tmp_path / "copy"
    run_sweep(spec, copy, workers=1, progress=False)
    forced = run_sweep(other, copy, workers=1, progress=False, force=True)
    assert forced.computed_runs == 24
    assert load(copy)["seed"].isin(load(out)["seed"]).sum() == 0  # all runs new


def test_damaged_chunk_is_detected_warned_and_recomputed(finished, tmp_path):
    spec, out, _ = finished
    copy = tmp_path / "damaged"
    run_sweep(spec, copy, workers=1, progress=False)
    victim = sorted((copy / "chunks").iterdir())[3]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    assert verify(copy) == [victim.name]
    with pytest.warns(UserWarning, match="checksum does not match"):
        result = run_sweep(spec, copy, workers=1, progress=False)
    assert result.computed_runs == 2
    assert verify(copy) == []
    pd.testing.assert_frame_equal(load(copy), load(out), check_exact=True)


def test_sweep_killed_with_sigkill_resumes_to_the_uninterrupted_result(tmp_path):
    sweep = write_sweep(tmp_path / "slow.toml", steps=150, enterprises=2000)
    spec = load_spec(sweep)
    _, units = plan(spec)
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            "sweep",
            str(sweep),
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    chunk_dir = out / "chunks"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if chunk_dir.is_dir() and len(list(chunk_dir.glob("*.parquet"))) >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err
    partial = len(list(chunk_dir.glob("*.parquet")))
    assert 3 <= partial < len(units), "the kill must land halfway"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running"  # a killed sweep never looks complete

    resumed = run_sweep(spec, out, workers=1, progress=False)
    assert resumed.computed_runs == resumed.n_runs - 2 * partial
    frame = load(out, check=True)
    keys = frame[["point_id", "replicate"]]
    assert not keys.duplicated().any()
    expected = {(p, r) for p in range(6) for r in range(4)}
    assert set(map(tuple, keys.to_numpy().tolist())) == expected

    uninterrupted = tmp_path / "clean"
    run_sweep(spec, uninterrupted, workers=2, progress=False)
    pd.testing.assert_frame_equal(frame, load(uninterrupted), check_exact=True)
