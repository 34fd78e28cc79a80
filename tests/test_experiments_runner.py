"""Runners: the same sweep and root seed give identical results serially, on a local process
pool and on a Dask cluster of worker processes; each run is the model's run for its seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from distributed import LocalCluster

from sim import TechCompetitionModel
from sim.engine import MODEL_COLUMNS
from sim.experiments import load, plan, run_sweep
from sim.experiments.runners import provider_column, run_unit
from sim.experiments.spec import spec_from_mapping

SWEEP = {
    "base": "seed",
    "sampler": "grid",
    "replicates": 3,
    "replicates_per_unit": 2,
    "steps": 12,
    "record": 4,
    "providers": True,
    "root_seed": 2024,
    "fixed": {"n_enterprises": 300},
    "parameters": {
        "market_value": {"values": [40.0, 400.0]},
        "direct-lab.home_exposure": {"values": [0.0, 25.0]},
    },
}


@pytest.fixture(scope="module")
def spec():
    return spec_from_mapping(SWEEP, name="equality")


@pytest.fixture(scope="module")
def serial(spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "s"
    run_sweep(spec, out, workers=1, progress=False)
    return load(out)


def test_frame_is_keyed_and_complete(spec, serial):
    assert not serial.duplicated(["point_id", "replicate", "step"]).any()
    assert serial.groupby(["point_id", "replicate"]).ngroups == 4 * 3
    assert sorted(serial["step"].unique()) == [0, 4, 8, 12]
    assert serial.groupby(["point_id", "replicate"])["seed"].nunique().eq(1).all()
    assert serial["seed"].nunique() == 12


def test_serial_equals_process_pool(spec, serial, tmp_path):
    pool_dir = tmp_path / "pool"
    run_sweep(spec, pool_dir, workers=2, progress=False)
    pd.testing.assert_frame_equal(load(pool_dir), serial, check_exact=True)


def test_serial_equals_dask(spec, serial, tmp_path):
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        assert all(w.startswith("tcp://127.0.0.1:") for w in cluster.scheduler_info["workers"])
        dask_dir = tmp_path / "dask"
        run_sweep(
            spec, dask_dir, backend="dask", scheduler=cluster.scheduler_address, progress=False
        )
    pd.testing.assert_frame_equal(load(dask_dir), serial, check_exact=True)


def test_each_run_is_the_model_run_for_its_seed(spec, serial):
    points, _ = plan(spec)
    for point_id, replicate in [(0, 0), (3, 2)]:
        rows = serial[(serial.point_id == point_id) & (serial.replicate == replicate)]
        seed = int(rows["seed"].iloc[0])
        model = TechCompetitionModel(params=spec.params_for(points[point_id]), rng=seed)
        expected = model.run(12).set_index("step").loc[[0, 4, 8, 12]]
        got = rows.set_index("step")
        for column in MODEL_COLUMNS:  # NaN (no open models) equals NaN
            np.testing.assert_array_equal(got[column].to_numpy(), expected[column].to_numpy())
        providers = model.provider_frame()
        final = providers[providers["step"] == 12].set_index("name")
        assert (
            got.loc[12, provider_column("direct-lab", "strategy")]
            == final.loc["direct-lab", "strategy"]
        )


def test_slicing_replicates_into_units_does_not_change_runs(spec):
    one_unit = spec_from_mapping({**SWEEP, "replicates_per_unit": 3}, name="equality")
    _, sliced = plan(spec)
    _, whole = plan(one_unit)
    assert len(sliced) == 8 and len(whole) == 4
    a = pd.concat([run_unit(u) for u in sliced if u.point_id == 1], ignore_index=True)
    b = run_unit(next(u for u in whole if u.point_id == 1))
    sort = ["replicate", "step"]
    pd.testing.assert_frame_equal(
        a.sort_values(sort, ignore_index=True),
        b.sort_values(sort, ignore_index=True),
        check_exact=True,
    )


def test_progress_off_a_terminal_is_plain_periodic_lines():
    import io

    from sim.experiments.progress import Progress

    stream = io.StringIO()  # not a TTY
    bar = Progress("demo", total=10, done=4, stream=stream, interval=3600.0)
    bar.update(3)  # inside the interval: no line
    bar.update(3)  # the last runs: always a line
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("demo: 4/10 runs (40%)") and lines[0].endswith("eta ?")
    assert lines[1].startswith("demo: 10/10 runs (100%)") and "eta 00:00" in lines[1]
