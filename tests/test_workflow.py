"""The research workflow from the command line and the store: ``run --providers`` writes the
per-provider and per-segment frames beside ``--out``; sweeps store ``<segment>/<column>`` with
``segments = true``; ``figures DIR`` takes exactly the directory ``sweep --out DIR`` wrote, and
captions count points x replicates."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd

from sim.batch import run_batch
from sim.cli import run_paths
from sim.engine import MODEL_COLUMNS, PROVIDER_COLUMNS, SEGMENT_COLUMNS
from sim.experiments import load, run_sweep
from sim.experiments.figures import runs_caption
from sim.experiments.spec import spec_from_mapping
from sim.params import load_scenario
from tests.support import PYTHON, ROOT, subprocess_env, tree_digest


def cli(*args, cwd=ROOT):
    return subprocess.run(
        [PYTHON, "-m", "sim", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=subprocess_env(),
        timeout=300,
    )


def test_run_paths_convention(tmp_path):
    out = tmp_path / "run.parquet"
    assert run_paths(out, providers=False) == {"model": out}
    assert run_paths(out, providers=True) == {
        "model": out,
        "providers": tmp_path / "run.providers.parquet",
        "segments": tmp_path / "run.segments.parquet",
    }
    assert (
        run_paths(tmp_path / "run", providers=True)["segments"] == tmp_path / "run.segments.parquet"
    )


def test_run_providers_writes_three_frames_equal_to_run_batch(tmp_path):
    out = tmp_path / "sub" / "run.parquet"
    done = cli(
        "run",
        "--steps",
        "6",
        "--rng",
        "3",
        "--set",
        "n_enterprises=300",
        "--out",
        str(out),
        "--providers",
    )
    assert done.returncode == 0, done.stderr
    params = load_scenario("seed").replace(n_enterprises=300)
    batch = run_batch(params, [3], 6)
    model = pd.read_parquet(out)
    providers = pd.read_parquet(tmp_path / "sub" / "run.providers.parquet")
    segments = pd.read_parquet(tmp_path / "sub" / "run.segments.parquet")
    assert list(model.columns) == ["seed", "step", *MODEL_COLUMNS]
    assert list(providers.columns) == [
        "seed",
        "step",
        "provider",
        "name",
        "channel",
        *PROVIDER_COLUMNS,
    ]
    assert list(segments.columns) == ["seed", "step", "segment", "name", *SEGMENT_COLUMNS]
    assert len(providers) == 7 * len(params.providers) and len(segments) == 7 * len(params.segments)
    pd.testing.assert_frame_equal(
        providers.drop(columns="seed"), batch.providers.drop(columns="run"), check_dtype=False
    )
    pd.testing.assert_frame_equal(
        segments.drop(columns="seed"), batch.segments.drop(columns="run"), check_dtype=False
    )
    assert (providers["seed"] == 3).all() and (segments["seed"] == 3).all()
    assert done.stderr.count(" rows -> ") == 3


def test_run_providers_refuses_before_writing_anything(tmp_path):
    (tmp_path / "run.segments.parquet").mkdir()
    before = tree_digest(tmp_path)
    done = cli("run", "--steps", "2", "--out", str(tmp_path / "run.parquet"), "--providers")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "run.segments.parquet: is a directory" in done.stderr
    assert tree_digest(tmp_path) == before  # not even the model frame
    done = cli("run", "--steps", "2", "--providers")
    assert done.returncode == 2 and "--providers: writes files beside --out" in done.stderr
    # without --providers nothing beside --out is touched
    done = cli("run", "--steps", "2", "--out", str(tmp_path / "run.parquet"))
    assert done.returncode == 0 and (tmp_path / "run.parquet").is_file()
    assert not (tmp_path / "run.providers.parquet").exists()


def small(**overrides):
    data = {
        "replicates": 3,
        "replicates_per_unit": 2,
        "steps": 6,
        "record": 3,
        "root_seed": 11,
        "fixed": {"n_enterprises": 120},
        "parameters": {"market_value": [50, 100]},
    }
    data.update(overrides)
    return spec_from_mapping(data, name="w")


def test_segments_columns_equal_run_batch_value_for_value(tmp_path):
    spec = small(segments=True)
    run_sweep(spec, tmp_path / "w", workers=1, progress=False)
    frame = load(tmp_path / "w")
    params = load_scenario("seed")
    names = [s.name for s in params.segments]
    expected = [f"{n}/{c}" for n in names for c in SEGMENT_COLUMNS]
    assert [c for c in frame.columns if "/" in c] == expected
    for _, runs in frame.groupby(["point_id", "replicate"]):
        value = runs["market_value"].iloc[0]
        seed = int(runs["seed"].iloc[0])
        batch = run_batch(spec.params_for({"market_value": value}), [seed], 6, record_every=3)
        for name in names:
            part = batch.segments[batch.segments["name"] == name]
            for column in SEGMENT_COLUMNS:
                np.testing.assert_array_equal(
                    runs[f"{name}/{column}"].to_numpy(), part[column].to_numpy()
                )
    plain = small()
    run_sweep(plain, tmp_path / "plain", workers=1, progress=False)
    assert not [c for c in load(tmp_path / "plain").columns if "/" in c]


def test_segments_of_a_scenario_without_segments_are_named_all(tmp_path):
    spec = small(segments=True, base="classic")
    run_sweep(spec, tmp_path / "c", workers=1, progress=False)
    frame = load(tmp_path / "c")
    assert [c for c in frame.columns if "/" in c] == [f"all/{c}" for c in SEGMENT_COLUMNS]
    total = frame["all/foreign_share"].to_numpy()
    np.testing.assert_allclose(total, frame["foreign_share"].to_numpy())


def test_caption_counts_points_times_replicates(tmp_path):
    frame = pd.DataFrame(
        {
            "point_id": np.repeat(np.arange(12), 10),
            "replicate": np.tile(np.arange(10), 12),
            "seed": np.arange(120),
            "step": 0,
        }
    )
    assert runs_caption(frame) == "12 points x 10 replicates = 120 runs (one seed each)"
    assert runs_caption(frame[frame["point_id"] == 0]) == "10 seeds"
    uneven = frame[(frame["point_id"] > 0) | (frame["replicate"] < 4)]
    assert (
        runs_caption(uneven, per="cell") == "12 cells x 4-10 replicates = 114 runs (one seed each)"
    )


def test_figures_takes_the_directory_sweep_out_wrote(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(
        'replicates = 2\nsteps = 3\nrecord = "final"\nfixed = { n_enterprises = 60 }\n'
        "[parameters]\nmarket_value = [50, 100]\n[quick]\nreplicates = 1\n",
        encoding="utf-8",
    )
    out = tmp_path / "anywhere" / "DIR"
    args = ["sweep", str(path), "--out", str(out), "--workers", "1", "--no-progress"]
    done = cli(*args, "--quick")  # the quick variant's name does not change the directory
    assert done.returncode == 0, done.stderr
    drawn = cli("figures", str(out))
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.split() == [
        str(out / "figures" / f"outputs_at_horizon.{e}") for e in ("png", "svg")
    ]
    # without --out: results/<name> under the working directory, and figures takes that
    done = cli(*args[:2], "--workers", "1", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert cli("figures", "results/g", cwd=tmp_path).returncode == 0
    # a parent of results directories is named as such
    parent = cli("figures", str(tmp_path / "results"))
    assert parent.returncode == 2
    assert "it holds results directories (g): pass one" in parent.stderr
