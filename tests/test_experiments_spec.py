"""Sweep files: validation (one-line errors naming the key by its path in the file), kind and
design checked together, design limits, designs and seeds, and the sweep file's JSON Schema."""

from __future__ import annotations

import hashlib
import json
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from sim.calibration.core import is_calibration_file
from sim.errors import InputError
from sim.experiments import samplers
from sim.experiments.samplers import design, run_seeds
from sim.experiments.spec import (
    MAX_LEVELS,
    MAX_POINTS,
    MAX_RUNS,
    POINTS_CEILING,
    RUNS_CEILING,
    SweepSpec,
    load_spec,
    spec_from_definition,
    spec_from_mapping,
    sweep_file_schema,
)
from sim.params import list_scenarios
from sim.schema import describe

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
# calibration files (python -m sim calibrate, tests/test_calibration.py) live beside them
SWEEP_FILES = [p for p in sorted(EXPERIMENTS.glob("*.toml")) if not is_calibration_file(p)]


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


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.stem)
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
        ({"replicates": 0}, "replicates=0: expected a value in [1, "),
        ({"replicates": 2.5}, "replicates=2.5: expected a whole number"),
        ({"replicates": True}, "replicates=True: expected a number, got bool"),
        ({"steps": -1}, "steps=-1: expected a value in [1, 100000]"),
        ({"steps": 100_001}, "steps=100001: expected a value in [1, 100000]"),
        ({"sampler": "random"}, "sampler='random': expected one of 'grid', 'lhs'"),
        ({"kind": "phase"}, "kind='phase': expected one of 'generic', 'baseline'"),
        ({"base": "mandat"}, "base: unknown scenario 'mandat'; did you mean 'mandate'?"),
        ({"base": "../../sim/scenarios/seed"}, "base: unknown scenario '../../sim/scenarios/seed'"),
        ({"record": "last"}, "record='last': expected 'final' or a whole number"),
        ({"record": 0}, "record=0: expected 'final' or a whole number"),
        ({"root_seed": -1}, "root_seed=-1: expected a value in [0, 9223372036854775807]"),
        ({"root_seed": 2**64}, "root_seed=18446744073709551616: expected a value in [0, "),
        ({"providers": 1}, "providers=1: expected true or false"),
        ({"description": 3}, "description=3: expected a string"),
        ({"name": "a/b"}, "name='a/b': expected a name of 1 to 64 letters"),
        ({"name": ".."}, "name='..': expected a name of 1 to 64 letters"),
        ({"name": "x" * 65}, "name='xxxxxxxx"),
        ({"parameters": {"market_valu": {"values": [1]}}}, "did you mean 'market_value'?"),
        (
            {"parameters": {"market_value": {"range": [100, 10], "levels": 3}}},
            "parameters.market_value.range=[100, 10]: low must be below high (reversed bounds?)",
        ),
        (
            {"parameters": {"market_value": {"values": [-5]}}},
            "parameters.market_value.values[0]=-5.0: expected a value in [0.0, 1000000.0]",
        ),
        (
            {"parameters": {"home_enforcement": {"range": [0.5, 2.0], "levels": 2}}},
            "parameters.home_enforcement.range[1]=2.0: expected a value in [0.0, 1.0]",
        ),
        ({"parameters": {"market_value": {"range": [1, 10]}}}, "needs levels"),
        ({"parameters": {"market_value": {"range": [1], "levels": 2}}}, "range=[1]: expected"),
        ({"parameters": {"market_value": {"range": [0, 9], "levels": 2, "scale": "log"}}}, "> 0"),
        ({"parameters": {"market_value": {"values": []}}}, "values=[]: expected a non-empty"),
        ({"parameters": {"market_value": {"value": [1]}}}, "did you mean 'values'?"),
        ({"parameters": {"market_value": 5}}, "parameters.market_value=5: expected { values"),
        ({"parameters": {"direct-lab.home_exposur": {"values": [1]}}}, "'home_exposure'"),
        ({"parameters": {"direct-lb.home_exposure": {"values": [1]}}}, "'direct-lab'"),
        ({"parameters": {"network.mean_degre": {"values": [4]}}}, "'mean_degree'"),
        (
            {"parameters": {"n_enterprises": {"range": [100, 200], "levels": 4}}, "fixed": {}},
            "parameters.n_enterprises.levels=4: n_enterprises is a whole number",
        ),
        (
            {"parameters": {"firm_rule": {"range": [1, 2], "levels": 2}}},
            "parameters.firm_rule.range[0]=1.0: expected one of",
        ),
        ({"fixed": {"n_enterprises": 0}}, "fixed.n_enterprises=0: expected a value in [1, "),
        ({"fixed": {"home_fin": 1}}, "fixed.home_fin: unknown key 'home_fin'; did you mean"),
        ({"fixed": {"scenario": "seed"}}, "fixed.scenario: set the scenario with 'base'"),
        ({"fixed": 5}, "fixed=5: expected a table"),
        ({"quick": {"stepz": 3}}, "quick: unknown key 'stepz'; did you mean 'steps'?"),
        ({"quick": 3}, "quick=3: expected a table"),
        ({"sampler": "lhs", "points": 4}, "needs a range"),
        ({"sampler": "lhs", "parameters": {"market_value": {"range": [1, 9]}}}, "points: required"),
        ({"points": 4}, "points=4: not used by sampler 'grid'"),
        ({"second_order": True}, "second_order=true: only used by sampler 'saltelli'"),
        (
            {"sampler": "sobol", "points": 6, "parameters": {"market_value": {"range": [1, 9]}}},
            "points=6: sampler 'sobol' needs a power of 2",
        ),
        (
            {"sampler": "saltelli", "points": 8, "parameters": {"market_value": {"range": [1, 9]}}},
            "at least two parameters",
        ),
        (
            {"parameters": {"scenario": {"values": ["seed", "nope"]}}},
            "parameters.scenario.values[1]='nope': unknown scenario 'nope'",
        ),
        (
            {"parameters": {"scenario": {"values": ["seed", "../seed"]}}},
            "unknown scenario '../seed'",
        ),
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


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("x = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply"),
        (b"steps = 3 # \xff\n", "not UTF-8"),
        ("# " + "x" * (1 << 20), "bytes"),
    ],
    ids=["deeply-nested", "not-utf8", "oversized"],
)
def test_sweep_files_go_through_the_one_toml_reader(tmp_path, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError, match=fragment):
        load_spec(path)
    with pytest.raises(InputError, match="not a regular file"):
        load_spec("/dev/zero")


def test_file_name_is_the_default_sweep_name_and_must_be_safe(tmp_path):
    path = tmp_path / "my sweep.toml"
    path.write_text("steps = 3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"name='my sweep'.*file's name"):
        load_spec(path)
    good = tmp_path / "fine-name_1.toml"
    good.write_text("steps = 3\n[quick]\nsteps = 2\n", encoding="utf-8")
    assert load_spec(good).name == "fine-name_1"
    assert load_spec(good, quick=True).name == "fine-name_1-quick"


def test_quick_variant_names_fit_and_quick_errors_name_the_quick_table():
    longest = {"name": "n" * 58, "quick": {"steps": 2}}
    assert sweep(**longest, parameters={}).name == "n" * 58
    with pytest.raises(InputError, match=r"^name='n{59}': expected at most 58 characters"):
        spec_from_mapping({"name": "n" * 59, "quick": {"steps": 2}}, name="t", quick=True)
    with pytest.raises(InputError, match=r"^quick\.name='n{59}': expected at most 58"):
        spec_from_mapping({"quick": {"name": "n" * 59}}, name="t", quick=True)
    base = {"fixed": {"n_enterprises": 100}, "quick": {"fixed": {"home_fine": -1}}}
    assert spec_from_mapping(base, name="t").quick is False
    with pytest.raises(InputError, match=r"^quick\.fixed\.home_fine=-1\.0: expected a value"):
        spec_from_mapping(base, name="t", quick=True)
    with pytest.raises(InputError, match=r"^quick\.replicates=0"):
        spec_from_mapping({"quick": {"replicates": 0}}, name="t", quick=True)
    # a mistake outside [quick] is reported where it is, in either variant
    with pytest.raises(InputError, match=r"^fixed\.home_fine=-1\.0"):
        spec_from_mapping({"fixed": {"home_fine": -1}, "quick": {}}, name="t", quick=True)


def test_fixed_and_dimensions_take_every_name_replace_takes():
    segments = [{"name": "developers", "share": 0.3}, {"name": "firms", "share": 0.7}]
    spec = sweep(
        fixed={"segments": segments, "network.kind": "small_world", "n_enterprises": 200},
        parameters={
            "developers.revision_rate": {"values": [0.1, 0.4]},
            "network.mean_degree": {"values": [4, 6]},
            "partner-cloud.mandate_coverage": {"range": [0.2, 1.0], "levels": 2},
            "market_value": [50, 100],
        },
    )
    points = design(spec)
    assert len(points) == 16 == spec.n_points
    last = points[-1]
    assert last == {
        "developers.revision_rate": 0.4,
        "network.mean_degree": 6,
        "partner-cloud.mandate_coverage": 1.0,
        "market_value": 100.0,
    }
    params = spec.params_for(last)
    assert params.segments[0].revision_rate == 0.4 and params.segments[1].revision_rate is None
    assert (params.network.kind, params.network.mean_degree) == ("small_world", 6)
    assert params.provider("partner-cloud").mandate_coverage == 1.0
    # the network's own rule applies to a varied value: small_world needs an even degree
    with pytest.raises(InputError, match=r"network\.mean_degree\.values\[1\]=3: small_world"):
        sweep(
            fixed={"network.kind": "small_world"},
            parameters={"network.mean_degree": {"values": [4, 3]}},
        )


def test_numpy_scalars_are_accepted_and_stored_as_python_numbers():
    spec = sweep(
        replicates=np.int64(3),
        steps=np.int32(4),
        root_seed=np.uint32(9),
        fixed={"n_enterprises": np.int64(150)},
        parameters={"market_value": {"values": [np.float64(50.0), np.int64(70)]}},
    )
    plain = sweep(
        replicates=3,
        steps=4,
        root_seed=9,
        fixed={"n_enterprises": 150},
        parameters={"market_value": {"values": [50.0, 70]}},
    )
    assert spec.replicates_per_unit == 3
    assert spec.definition() == plain.definition()
    assert json.dumps(spec.definition())  # JSON-ready
    assert design(spec) == design(plain)


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


# ---------------------------------------------------------------- kind and design together

RANGE_2D = {"market_value": {"range": [20, 40]}, "home_fine": {"range": [0, 10]}}


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (
            {"kind": "sensitivity", "sampler": "lhs", "points": 8, "parameters": RANGE_2D},
            "sampler='lhs': kind 'sensitivity' computes Sobol' indices, which need sampler "
            "'saltelli'",
        ),
        ({"kind": "sensitivity"}, "sampler='grid': kind 'sensitivity'"),
        (
            {"kind": "phase_diagram"},
            "providers=false: kind 'phase_diagram' classifies each cell from the providers' "
            "final strategies; expected true",
        ),
        (
            {
                "kind": "phase_diagram",
                "providers": True,
                "sampler": "lhs",
                "points": 4,
                "parameters": RANGE_2D,
            },
            "sampler='lhs': kind 'phase_diagram' needs sampler 'grid'",
        ),
        (
            {
                "kind": "phase_diagram",
                "providers": True,
                "fixed": {"partner-cloud.channel": "direct"},
            },
            "kind 'phase_diagram' classifies regimes by a direct and a partner provider",
        ),
        ({"kind": "baseline"}, "parameters: kind 'baseline' draws one point's runs over time"),
        (
            {"kind": "baseline", "parameters": {}, "record": "final"},
            "record='final': kind 'baseline' draws time series",
        ),
        (
            {"kind": "baseline", "sampler": "sobol", "points": 4, "parameters": RANGE_2D},
            "sampler='sobol': kind 'baseline' needs sampler 'grid'",
        ),
        (
            {"kind": "counterfactuals", "record": "final"},
            "record='final': kind 'counterfactuals' draws time series",
        ),
        (
            {
                "kind": "counterfactuals",
                "parameters": {"market_value": {"range": [1, 9], "levels": 11}},
            },
            "one line per point, at most 10; this grid has 11",
        ),
        (
            {
                "kind": "counterfactuals",
                "parameters": {"scenario": ["seed", "mandate"], "home_fine": [1.0, 2.0]},
            },
            "groups runs by scenario when the scenario varies",
        ),
    ],
)
def test_impossible_kind_and_design_are_refused_when_parsed(overrides, fragment):
    with pytest.raises(InputError) as info:
        sweep(**overrides)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"kind": "sensitivity", "sampler": "saltelli", "points": 8, "parameters": RANGE_2D},
        {"kind": "phase_diagram", "providers": True, "record": "final"},
        {"kind": "baseline", "parameters": {}},
        {"kind": "counterfactuals", "parameters": {"scenario": ["seed", "mandate", "open"]}},
        {"kind": "counterfactuals", "parameters": {"home_fine": [0.0, 5.0]}},
        {"kind": "generic", "sampler": "lhs", "points": 5, "parameters": RANGE_2D},
    ],
)
def test_possible_kind_and_design_are_accepted(overrides):
    spec = sweep(**overrides)
    assert spec.kind == overrides["kind"]


def test_shipped_kinds_meet_their_figures_needs():
    kinds = {load_spec(path).kind: load_spec(path) for path in SWEEP_FILES}
    assert kinds["sensitivity"].sampler == "saltelli"
    assert kinds["phase_diagram"].providers
    assert kinds["baseline"].parameters == ()


# ---------------------------------------------------------------- design limits


def test_limits_are_stated_and_ordered():
    assert (MAX_LEVELS, MAX_POINTS, MAX_RUNS) == (10_000, 100_000, 1_000_000)
    assert MAX_LEVELS < MAX_POINTS < POINTS_CEILING and MAX_RUNS < RUNS_CEILING
    fields = {d.name: d for d in describe(SweepSpec)}
    assert fields["points"].high == POINTS_CEILING
    assert fields["replicates"].high == RUNS_CEILING
    assert fields["steps"].high == 100_000


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (
            {"sampler": "lhs", "points": MAX_POINTS + 1, "parameters": RANGE_2D},
            f"points={MAX_POINTS + 1}: more than the limit of {MAX_POINTS} points; "
            "pass --allow-large",
        ),
        (
            {"sampler": "saltelli", "points": 2**15, "parameters": RANGE_2D},
            f"points=32768 (131072 points): more than the limit of {MAX_POINTS} points",
        ),
        (
            {"parameters": {"market_value": {"range": [1, 9], "levels": MAX_LEVELS + 1}}},
            f"parameters.market_value.levels={MAX_LEVELS + 1}: more than the limit of "
            f"{MAX_LEVELS} levels",
        ),
        (
            {
                "parameters": {
                    "market_value": {"range": [1, 9], "levels": 400},
                    "home_fine": {"range": [0, 9], "levels": 400},
                }
            },
            f"parameters=160000 grid points (400 x 400): more than the limit of {MAX_POINTS}",
        ),
        (
            {"replicates": 20_000, "parameters": {"market_value": {"range": [1, 9], "levels": 51}}},
            f"replicates=20000 (51 points x 20000 = 1020000 runs): more than the limit of "
            f"{MAX_RUNS} runs",
        ),
    ],
)
def test_large_designs_need_allow_large(overrides, fragment):
    data = {**SMALL, **overrides}
    with pytest.raises(InputError) as info:
        spec_from_mapping(data, name="t")
    assert fragment in str(info.value)
    spec = spec_from_mapping(data, name="t", allow_large=True)
    assert (
        spec.n_points * spec.replicates > MAX_RUNS
        or spec.n_points > MAX_POINTS
        or any((d.levels or 0) > MAX_LEVELS for d in spec.parameters)
    )
    # the manifest's definition rebuilds without the flag: it was accepted when it started
    assert spec_from_definition(spec.definition()) == spec.model_copy(update={"source": ""})


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (
            {"sampler": "lhs", "points": 2**40, "parameters": RANGE_2D},
            f"points=1099511627776: expected a value in [1, {POINTS_CEILING}]",
        ),
        (
            {"parameters": {"market_value": {"range": [1, 9], "levels": 10**9}}},
            f"parameters.market_value.levels=1000000000: expected a value in [2, {POINTS_CEILING}]",
        ),
        ({"replicates": 10**12}, "replicates=1000000000000: expected a value in [1, "),
        (
            {"parameters": {f"p{i}": {"range": [1, 9], "levels": 1000} for i in range(12)}},
            "grid points (1000 x 1000 x",
        ),
        (
            {
                "replicates": 200_000,
                "parameters": {"market_value": {"range": [1, 9], "levels": 51}},
            },
            f"expected at most {RUNS_CEILING} runs",
        ),
    ],
)
def test_designs_beyond_the_ceilings_are_refused_even_with_allow_large(overrides, fragment):
    started = time.monotonic()
    with pytest.raises(InputError) as info:
        spec_from_mapping({**SMALL, **overrides}, name="t", allow_large=True)
    assert fragment in str(info.value)
    assert time.monotonic() - started < 5.0  # by arithmetic: nothing was materialized


SMALL = {"base": "seed", "steps": 2, "fixed": {"n_enterprises": 10}}


def test_grid_size_is_checked_before_any_value_is_built(monkeypatch):
    """A 10^36-point grid is refused from the dimension sizes alone: no grid value and no
    point's parameters are ever computed."""
    from sim.experiments import spec as spec_module

    def forbidden(*args, **kwargs):
        raise AssertionError("materialized")

    monkeypatch.setattr(spec_module.Dimension, "grid_values", forbidden)
    monkeypatch.setattr(spec_module, "build_params", forbidden)
    dims = {name: {"range": [1, 2], "levels": 1000} for name in ("a", "b", "c", "d", "e")}
    dims.update({f"x{i}": {"values": list(range(1000))} for i in range(7)})
    with pytest.raises(InputError, match=r"^parameters=10{36} grid points"):
        spec_from_mapping({**SMALL, "parameters": dims}, name="t", allow_large=True)


def test_samplers_check_the_ceilings_of_a_spec_built_without_validation():
    spec = sweep()
    huge = spec.model_copy(update={"replicates": RUNS_CEILING})
    with pytest.raises(InputError, match="runs: the design has"):
        run_seeds(huge, 2)
    wide = spec.model_copy(
        update={
            "parameters": tuple(
                d.model_copy(update={"values": tuple(range(1001))}) for d in spec.parameters * 2
            )
        }
    )
    with pytest.raises(InputError, match="points: the design has 1002001"):
        samplers.design(wide)


# ---------------------------------------------------------------- seeds and data unchanged


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


PINNED = {
    # definition -> (fingerprint, seeds digest, first seed, grid design digest or None), as the
    # first version of this module computed them: the same sweep gives the same runs.
    "grid": (
        {
            "base": "seed",
            "replicates": 3,
            "steps": 5,
            "root_seed": 11,
            "fixed": {"n_enterprises": 200},
            "parameters": {
                "market_value": {"range": [10, 1000], "levels": 4, "scale": "log"},
                "home_fine": {"values": [0, 5.5]},
                "direct-lab.home_exposure": {"values": [1, 30]},
            },
        },
        "43e891d1135e62aee0fb9094505e22469fd16919ac1e2605494c8cbc0829f9b5",
        "76df6ffe53ad0e2806e4842c11028b1c987a39b17a0d6208abbf5788a4a11fcc",
        3365809656606333818,
        "a7a5a2d5de6e78d4e676e9a8c044f90e7b59efecb76c3488503dad6b5f8593ba",
    ),
    "scenario": (
        {
            "base": "seed",
            "replicates": 2,
            "steps": 5,
            "root_seed": 3,
            "parameters": {"scenario": {"values": ["seed", "mandate", "open"]}},
        },
        "67c709f9205a99e519f7e312eb970e114e5905a27ab007b637464ad038adcf49",
        "68cb59fe2825281847cc6de3b0857123d8779692b7fcdc0aec031ed1b6134b7e",
        7059414695068886877,
        "f5716772ea21a4f7d1074cf5211f511c1ccc065ec3929084e69443aa3bf1c360",
    ),
    "saltelli": (
        {
            "base": "seed",
            "sampler": "saltelli",
            "points": 8,
            "second_order": True,
            "replicates": 2,
            "steps": 5,
            "root_seed": 21,
            "parameters": {
                "market_value": {"range": [20, 40]},
                "home_fine": {"range": [0, 10]},
                "learning_rate": {"range": [0.02, 0.2]},
            },
        },
        "0ef9a86a1045ddceb11970d95dafa5e598121fe2c4348b739e4f1bab7fb1fb05",
        "0ca584195ed0c0de23c398d5e028652da2f1379cb7a8f9924abdc2afd2efce09",
        186731880813972592,
        None,  # the Saltelli rows come from SALib's Sobol' engine: pinned by seed only
    ),
}


@pytest.mark.parametrize("key", list(PINNED))
def test_fingerprints_seeds_and_grids_are_those_of_the_first_version(key):
    data, fingerprint, seeds_digest, first_seed, design_digest = PINNED[key]
    spec = spec_from_mapping(data, name=key)
    points = design(spec)
    seeds = run_seeds(spec, len(points))
    assert spec.fingerprint() == fingerprint
    assert _digest(seeds.tolist()) == seeds_digest
    assert int(seeds[0, 0]) == first_seed
    if design_digest is not None:
        assert _digest(points) == design_digest


# ---------------------------------------------------------------- the JSON Schema


@pytest.fixture(scope="module")
def schema():
    return sweep_file_schema()


def test_sweep_schema_lists_every_key_with_its_metadata(schema):
    props = schema["properties"]
    file_keys = [k for k in SweepSpec.model_fields if k not in ("quick", "source")]
    assert list(props) == [*file_keys, "quick"]
    assert "required" not in schema and schema["additionalProperties"] is False
    assert props["replicates"]["minimum"] == 1
    assert props["replicates"]["maximum"] == RUNS_CEILING
    assert props["points"] == {**props["points"], "type": "integer", "maximum": POINTS_CEILING}
    assert props["record"]["anyOf"][0] == {"const": "final"}
    assert props["base"]["enum"] == sorted(list_scenarios())
    assert props["sampler"]["enum"] == ["grid", "lhs", "sobol", "saltelli", "oat", "bisect"]
    for key in file_keys:
        assert props[key]["description"] and props[key]["unit"], key
    quick = props["quick"]
    assert set(quick["properties"]) == set(file_keys) and quick["additionalProperties"] is False
    dimension = schema["$defs"]["Dimension"]
    assert set(dimension["properties"]) == {"values", "range", "levels", "scale"}
    assert dimension["oneOf"] == [
        {"required": ["values"]},
        {"required": ["range"]},
        {"maxProperties": 0},
    ]
    assert dimension["properties"]["levels"]["maximum"] == POINTS_CEILING
    assert "null" not in json.dumps(schema)  # TOML has no null


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.stem)
def test_shipped_sweep_files_validate_against_the_schema(schema, path):
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    "bad",
    [
        {"replicate": 3},
        {"replicates": 0},
        {"record": "last"},
        {"sampler": "random"},
        {"base": "nowhere"},
        {"name": "../up"},
        {"parameters": {"market_value": {"value": [1]}}},
        {"parameters": {"market_value": {"values": [1], "range": [1, 2]}}},
        {"parameters": {"market_value": {"levels": 3}}},
        {"quick": {"stepz": 3}},
        {"quick": {"steps": 0}},
    ],
)
def test_schema_refuses_what_the_loader_refuses(schema, bad):
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(InputError):
        spec_from_mapping({**SMALL, **bad}, name="t", quick="quick" in bad)


# ---- oat and bisect (issue 14 part 4) ---------------------------------------------------------


def oat(**overrides):
    return sweep(
        sampler="oat", parameters={"market_value": {}, "network.mean_degree": {}}, **overrides
    )


def bisect(**overrides):
    data = {
        "sampler": "bisect",
        "providers": True,
        "record": "final",
        "outcome": [{"column": "partner-cloud/strategy", "equals": "allow"}],
        "parameters": {"partner-cloud.rival_dependence": {"range": [0.0, 3.0]}},
    }
    return sweep(**{**data, **overrides})


def test_oat_design_is_the_base_then_each_parameter_low_and_high_in_file_order():
    spec = oat(perturbation=0.25)
    assert spec.n_points == 1 + 2 * 2
    points = design(spec)
    assert points == [
        {"market_value": 100.0, "network.mean_degree": 8},
        {"market_value": 75.0, "network.mean_degree": 8},
        {"market_value": 125.0, "network.mean_degree": 8},
        {"market_value": 100.0, "network.mean_degree": 6},  # whole numbers rounded
        {"market_value": 100.0, "network.mean_degree": 10},
    ]
    labels = samplers.oat_labels(spec)
    assert [(p.parameter, p.direction) for p in labels] == [
        (None, 0),
        ("market_value", -1),
        ("market_value", 1),
        ("network.mean_degree", -1),
        ("network.mean_degree", 1),
    ]
    assert [p.point_id for p in labels] == list(range(5))
    # the model sees exactly these values
    assert spec.params_for(points[2]).market_value == 125.0


def test_oat_perturbs_the_base_with_fixed_applied_and_takes_a_range_as_given():
    spec = sweep(
        sampler="oat",
        fixed={"n_enterprises": 200, "market_value": 40},
        parameters={"home_fine": {}, "direct-lab.home_exposure": {"range": [5, 45]}},
    )
    points = design(spec)
    assert [p["home_fine"] for p in points] == [10.0, 8.0, 12.0, 10.0, 10.0]
    assert [p["direct-lab.home_exposure"] for p in points] == [25.0, 25.0, 25.0, 5.0, 45.0]
    assert spec.oat_perturbation == 0.2  # the default


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"points": 3}, "points=3: not used by sampler 'oat' (its size is 1 + 2 x the"),
        ({"parameters": {}}, "parameters: sampler 'oat' needs at least one varied parameter"),
        ({"parameters": {"market_value": [1, 2]}}, "parameters.market_value.values: sampler"),
        (
            {"parameters": {"market_value": {"range": [1, 2], "levels": 2}}},
            "parameters.market_value.levels: only used by sampler 'grid'",
        ),
        ({"parameters": {"scenario": {}}}, "parameters.scenario: the scenario can vary only"),
        ({"parameters": {"export_control_cost": {}}}, "parameters.export_control_cost: the base "),
        ({"parameters": {"circumvention": {}}}, "parameters.circumvention: the base value True"),
        (
            {"parameters": {"smes-startups.enterprise_rationality": {}}},
            "parameters.smes-startups.enterprise_rationality: unset in the base scenario",
        ),
        (
            {"parameters": {"network.mean_degree": {}}, "perturbation": 0.05},
            "parameters.network.mean_degree: the whole number 8 changed by 0.05 rounds back",
        ),
        (
            {"parameters": {"home_enforcement": {}}, "perturbation": 0.9, "base": "mandate"},
            "parameters.home_enforcement: the base value 0.9 +90% is 1.71: expected a value in",
        ),
        ({"parameters": {"market_valu": {}}}, "did you mean 'market_value'"),
        ({"perturbation": 0}, "perturbation=0: expected a value in [0.001, 0.99]"),
        ({"perturbation": 1.5}, "perturbation=1.5: expected a value in [0.001, 0.99]"),
        ({"kind": "baseline"}, "sampler='oat': kind 'baseline' needs sampler 'grid'"),
        ({"kind": "sensitivity"}, "which need sampler 'saltelli'"),
        ({"rounds": 3}, "rounds=3: only used by sampler 'bisect'"),
        ({"replicates": 400_000}, "replicates=400000 (5 points x 400000 = 2000000 runs)"),
    ],
)
def test_bad_oat_is_one_line_error_naming_the_key(overrides, fragment):
    data = {
        "sampler": "oat",
        "fixed": {"n_enterprises": 200},
        "parameters": {"market_value": {}, "home_fine": {}},
        **overrides,
    }
    with pytest.raises(InputError) as err:
        spec_from_mapping(data, name="t")
    message = str(err.value)
    assert fragment in message and "\n" not in message, message


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"outcome": []}, "outcome: required by sampler 'bisect'"),
        ({"providers": False}, "outcome[0].column='partner-cloud/strategy': a provider's column"),
        (
            {"outcome": [{"column": "partner-cloud/strategy", "equals": "yes"}]},
            "outcome[0].equals='yes': expected 'allow' or 'restrict'",
        ),
        (
            {"outcome": [{"column": "partner-cloud/strategy", "above": 0.5}]},
            "outcome[0]: partner-cloud/strategy is 'allow' or 'restrict'",
        ),
        (
            {"outcome": [{"column": "foreign_shar", "above": 0.5}]},
            "did you mean 'foreign_share'",
        ),
        (
            {"outcome": [{"column": "foreign_share", "above": 0.1, "below": 0.5}]},
            "outcome[0]: expected exactly one of 'equals', 'above' or 'below'",
        ),
        (
            {"outcome": [{"column": "foreign_share", "equals": "allow"}]},
            "outcome[0].equals='allow': foreign_share is a number",
        ),
        (
            {"outcome": [{"column": "developers/foreign_share", "above": 0.5}]},
            "outcome[0].column='developers/foreign_share': a segment's column; expected segments",
        ),
        (
            {"outcome": [{"column": "nobody/share", "above": 0.5}]},
            "unknown provider or segment",
        ),
        (
            {"parameters": {"market_value": {"range": [1, 2]}, "home_fine": {"range": [1, 2]}}},
            "parameters: sampler 'bisect' searches along one parameter; got 2",
        ),
        ({"parameters": {"market_value": {}}}, "parameters.market_value: sampler 'bisect' takes"),
        ({"parameters": {"market_value": [1, 2]}}, "parameters.market_value.values: sampler"),
        ({"rounds": 0}, "rounds=0: expected a value in [1, 40]"),
        ({"rounds": 41}, "rounds=41: expected a value in [1, 40]"),
        ({"level": 1.0}, "level=1.0: expected a value in [0.01, 0.99]"),
        ({"points": 4}, "points=4: not used by sampler 'bisect'"),
        ({"perturbation": 0.1}, "perturbation=0.1: only used by sampler 'oat'"),
        ({"kind": "phase_diagram"}, "kind 'phase_diagram' needs sampler 'grid'"),
    ],
)
def test_bad_bisect_is_one_line_error_naming_the_key(overrides, fragment):
    with pytest.raises(InputError) as err:
        bisect(**overrides)
    message = str(err.value)
    assert fragment in message and "\n" not in message, message


def test_outcome_and_level_are_refused_outside_bisect():
    with pytest.raises(InputError, match=r"^outcome: only used by sampler 'bisect'"):
        sweep(outcome=[{"column": "foreign_share", "above": 0.5}])
    with pytest.raises(InputError, match=r"^level=0.5: only used by sampler 'bisect'"):
        sweep(level=0.5)


def test_bisect_size_and_defaults_and_no_fixed_design():
    spec = bisect()
    assert (spec.bisect_rounds, spec.bisect_level) == (8, 0.5)
    assert spec.n_points == 2 + 8 and spec.n_runs == 10 * 2
    with pytest.raises(InputError, match="round by round"):
        design(spec)
    with pytest.raises(InputError, match=r"^replicates=100001 \(10 points x 100001"):
        bisect(replicates=100_001, rounds=8)


def test_new_keys_leave_old_definitions_and_fingerprints_alone():
    plain = sweep()
    assert not {"segments", "perturbation", "rounds", "level", "outcome"} & set(plain.definition())
    assert sweep(segments=False).fingerprint() == plain.fingerprint()
    with_segments = sweep(segments=True)
    assert with_segments.definition()["segments"] is True
    assert with_segments.fingerprint() != plain.fingerprint()


@pytest.mark.parametrize("make", [oat, bisect, lambda: sweep(segments=True)])
def test_oat_bisect_and_segments_round_trip_through_the_manifest_form(make):
    spec = make()
    again = spec_from_definition(json.loads(json.dumps(spec.definition())))
    assert again.definition() == spec.definition()
    assert again.fingerprint() == spec.fingerprint()


def test_schema_knows_oat_and_bisect(schema):
    import jsonschema

    for data in (
        {"sampler": "oat", "perturbation": 0.2, "parameters": {"market_value": {}}},
        {
            "sampler": "bisect",
            "rounds": 4,
            "level": 0.5,
            "providers": True,
            "outcome": [{"column": "direct-lab/strategy", "equals": "restrict"}],
            "parameters": {"market_value": {"range": [10, 100]}},
        },
        {"segments": True},
    ):
        jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"outcome": [{"column": "x", "between": 1}]},
            schema,
            cls=jsonschema.Draft202012Validator,
        )
