"""Sweep files: validation (one-line errors naming the key), designs and seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.experiments.samplers import design, run_seeds
from sim.experiments.spec import load_spec, spec_from_definition, spec_from_mapping

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def sweep(**overrides):
    data = {
        "base": "seed",
        "sampler": "grid",
        "replicates": 2,
        "steps": 5,
        "root_seed": 7,
        "fixed": {"n_enterprises": 200},
        "parameters": {"market_value": {"values": [50, 100]}},
    }
    data.update(overrides)
    return spec_from_mapping(data, name="t")


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.toml")), ids=lambda p: p.stem)
@pytest.mark.parametrize("quick", [False, True])
def test_shipped_experiments_validate_and_have_a_quick_variant(path, quick):
    spec = load_spec(path, quick=quick)
    assert spec.name == path.stem + ("-quick" if quick else "")
    assert spec.quick is quick
    points = design(spec)
    assert len(points) >= 1


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"replicate": 3}, "unknown key 'replicate'; did you mean 'replicates'?"),
        ({"replicates": 0}, "replicates=0: expected a whole number >= 1"),
        ({"steps": -1}, "steps=-1"),
        ({"sampler": "random"}, "sampler='random'"),
        ({"base": "mandat"}, "did you mean 'mandate'?"),
        ({"record": "last"}, "record='last'"),
        ({"parameters": {"market_valu": {"values": [1]}}}, "did you mean 'market_value'?"),
        ({"parameters": {"market_value": {"range": [100, 10], "levels": 3}}}, "reversed bounds"),
        ({"parameters": {"market_value": {"values": [-5]}}}, "market_value=-5.0"),
        ({"parameters": {"home_enforcement": {"range": [0.5, 2.0], "levels": 2}}}, "[0.0, 1.0]"),
        ({"parameters": {"market_value": {"range": [1, 10]}}}, "needs levels"),
        ({"parameters": {"market_value": {"value": [1]}}}, "did you mean 'values'?"),
        ({"parameters": {"direct-lab.home_exposur": {"values": [1]}}}, "'home_exposure'"),
        ({"parameters": {"direct-lb.home_exposure": {"values": [1]}}}, "'direct-lab'"),
        ({"fixed": {"n_enterprises": 0}}, "n_enterprises=0"),
        ({"quick": {"stepz": 3}}, "quick.unknown key 'stepz'"),
        ({"sampler": "lhs", "points": 4}, "needs a range"),
        (
            {"sampler": "sobol", "points": 6, "parameters": {"market_value": {"range": [1, 9]}}},
            "power of 2",
        ),
        ({"parameters": {"scenario": {"values": ["seed", "nope"]}}}, "unknown scenario 'nope'"),
    ],
)
def test_bad_sweep_is_one_line_error_naming_the_key(overrides, fragment):
    with pytest.raises(ValueError) as info:
        sweep(**overrides)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_malformed_toml_is_reported_with_the_path(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("replicates = [1,\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.toml: malformed TOML"):
        load_spec(path)


def test_grid_is_the_product_in_file_order_with_log_levels():
    spec = sweep(
        parameters={
            "market_value": {"range": [10, 1000], "levels": 3, "scale": "log"},
            "home_fine": {"values": [0, 5]},
        }
    )
    points = design(spec)
    assert [(p["market_value"], p["home_fine"]) for p in points] == [
        (pytest.approx(10.0), 0.0),
        (pytest.approx(10.0), 5.0),
        (pytest.approx(100.0), 0.0),
        (pytest.approx(100.0), 5.0),
        (pytest.approx(1000.0), 0.0),
        (pytest.approx(1000.0), 5.0),
    ]


def test_latin_hypercube_puts_one_point_in_every_stratum_and_rounds_whole_numbers():
    n = 16
    spec = sweep(
        sampler="lhs",
        points=n,
        parameters={"market_value": {"range": [0, 160]}, "n_enterprises": {"range": [100, 500]}},
        fixed={},
    )
    points = design(spec)
    strata = sorted(int(p["market_value"] // 10) for p in points)
    assert strata == list(range(n))
    assert all(isinstance(p["n_enterprises"], int) for p in points)
    assert all(100 <= p["n_enterprises"] <= 500 for p in points)


def test_saltelli_design_size_and_bounds():
    spec = sweep(
        sampler="saltelli",
        points=8,
        parameters={
            "market_value": {"range": [20, 40]},
            "home_fine": {"range": [0, 10]},
            "direct-lab.home_exposure": {"range": [1, 2]},
        },
    )
    points = design(spec)
    assert len(points) == 8 * (3 + 2)
    values = np.array(
        [[p["market_value"], p["home_fine"], p["direct-lab.home_exposure"]] for p in points]
    )
    assert (values.min(0) >= [20, 0, 1]).all() and (values.max(0) <= [40, 10, 2]).all()
    # the point's provider override reaches that provider only
    params = spec.params_for(points[0])
    lab = next(p for p in params.providers if p.name == "direct-lab")
    assert lab.home_exposure == points[0]["direct-lab.home_exposure"]


def test_designs_and_seeds_depend_only_on_the_definition():
    a = sweep(sampler="sobol", points=8, parameters={"market_value": {"range": [1, 9]}})
    b = sweep(sampler="sobol", points=8, parameters={"market_value": {"range": [1, 9]}})
    c = sweep(
        sampler="sobol", points=8, root_seed=8, parameters={"market_value": {"range": [1, 9]}}
    )
    assert design(a) == design(b) != design(c)
    seeds = run_seeds(a, 8)
    assert seeds.shape == (8, 2)
    assert np.array_equal(seeds, run_seeds(b, 8))
    assert len(np.unique(seeds)) == seeds.size  # every run its own stream
    assert not np.array_equal(seeds, run_seeds(c, 8))
    # SeedSequence(root).spawn(2)[1].spawn(n): run k's seed comes from child k
    child = np.random.SeedSequence(7).spawn(2)[1].spawn(16)[3]
    assert seeds[1, 1] == int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))


def test_definition_round_trips_through_the_manifest_form():
    spec = load_spec(EXPERIMENTS / "phase_diagram.toml", quick=True)
    again = spec_from_definition(spec.definition())
    assert again.definition() == spec.definition()
    assert again.fingerprint() == spec.fingerprint()
    assert spec.fingerprint() != load_spec(EXPERIMENTS / "phase_diagram.toml").fingerprint()


def test_sobol_analysis_recovers_the_indices_of_a_known_linear_function():
    """Y = 2 x1 + x2 with x uniform on the unit square: Var = 4/12 + 1/12, so S1 = ST = 0.8 and
    0.2. The analysis must read outputs in point-id order for this to hold (shuffled rows get
    the wrong outputs and indices far from these). Tolerance: absolute 1e-3. Y is additive and
    linear, so the Saltelli/Jansen estimators carry no interaction noise and reduce to sample
    moments of the Sobol' design, whose quasi-Monte Carlo error at N = 1024 is of order 1/N
    (about 1e-3) at most; the errors measured with this design are below 1e-4. The design and
    data are fixed, so the check is deterministic; the bootstrap half-widths (0.02 to 0.08) are
    far looser and are not used."""
    import pandas as pd

    from sim.experiments.figures import sobol_indices

    spec = sweep(
        sampler="saltelli",
        points=1024,
        parameters={"home_enforcement": {"range": [0, 1]}, "revision_rate": {"range": [0, 1]}},
    )
    points = design(spec)
    x1 = np.array([p["home_enforcement"] for p in points])
    x2 = np.array([p["revision_rate"] for p in points])
    y = 2 * x1 + x2
    frame = pd.DataFrame(
        {
            "point_id": np.arange(len(points)),
            "seed": np.arange(len(points)),
            "step": 5,
            "capability_gap": y,
            "frac_foreign_allowing": x2,  # depends on x2 only: S1 = (0, 1)
        }
    ).sample(frac=1.0, random_state=0)  # row order must not matter
    table = sobol_indices(frame, spec).set_index(["output", "parameter"])
    expected = {
        ("capability_gap", "home_enforcement"): 0.8,
        ("capability_gap", "revision_rate"): 0.2,
        ("frac_foreign_allowing", "home_enforcement"): 0.0,
        ("frac_foreign_allowing", "revision_rate"): 1.0,
    }
    for key, value in expected.items():
        row = table.loc[key]
        assert abs(row["S1"] - value) <= 1e-3, (key, row["S1"])
        assert abs(row["ST"] - value) <= 1e-3, (key, row["ST"])
