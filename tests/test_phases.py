"""The one phase classifier (sim.phases) shared by the experiments' phase diagram and the SF3
validation check: its table, its majority threshold, the per-channel fractions, the cell table
the figures build from stored sweeps, and agreement with the model's own allowing column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.batch import run_batch
from sim.experiments.figures import regimes
from sim.experiments.runners import provider_column
from sim.experiments.spec import load_spec
from sim.params import load_scenario
from sim.phases import (
    PHASE_COLOURS,
    PHASES,
    channel_allowing,
    classify,
    phase_index,
    phase_shares,
    run_phases,
)

# (direct allows, partner allows) -> phase, as the module docstring's table states it
TABLE = {
    (True, True): "all-allow",
    (False, True): "divergence",
    (True, False): "mixed",
    (False, False): "all-restrict",
}
fraction = st.floats(0.0, 1.0)


@pytest.mark.parametrize(("allows", "phase"), TABLE.items())
def test_table(allows: tuple[bool, bool], phase: str) -> None:
    assert classify(float(allows[0]), float(allows[1])) == phase


def test_half_counts_as_allowing() -> None:
    """Majority rule: a channel allowing in exactly half the replicates counts as allowing."""
    assert classify(0.5, 0.5) == "all-allow"
    assert classify(0.5, np.nextafter(0.5, 0)) == "mixed"
    assert classify(np.nextafter(0.5, 0), 0.5) == "divergence"


@given(st.lists(st.tuples(fraction, fraction), min_size=1, max_size=30))
def test_vectorised_index_follows_the_table(pairs: list[tuple[float, float]]) -> None:
    direct, partner = (np.array(v) for v in zip(*pairs, strict=True))
    index = phase_index(direct, partner)
    assert index.shape == direct.shape
    for k, (d, p) in zip(index, pairs, strict=True):
        assert PHASES[k] == TABLE[(d >= 0.5, p >= 0.5)]


def test_one_colour_per_phase() -> None:
    assert len(PHASE_COLOURS) == len(PHASES) == len(set(PHASE_COLOURS))


def test_channel_fractions_count_only_that_channel() -> None:
    channels = ["direct", "direct", "partner", "domestic"]
    allows = np.array(
        [
            [True, False, True, False],
            [False, False, False, True],
            [True, True, False, True],
        ]
    )
    np.testing.assert_array_equal(channel_allowing(allows, channels, "direct"), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(channel_allowing(allows, channels, "partner"), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(
        run_phases(allows, channels),
        [PHASES.index(p) for p in ("all-allow", "all-restrict", "mixed")],
    )


def test_channel_fractions_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="no provider on channel 'partner'"):
        channel_allowing(np.ones((2, 2), bool), ["direct", "domestic"], "partner")
    with pytest.raises(ValueError, match=r"expected \(rows, 3\)"):
        channel_allowing(np.ones((2, 2), bool), ["direct", "partner", "domestic"], "direct")


def test_phase_shares() -> None:
    shares = phase_shares([1, 1, 3, 0, 1])
    np.testing.assert_allclose(shares, [0.2, 0.6, 0.0, 0.2])
    assert shares.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one run"):
        phase_shares([])


def test_runs_agree_with_the_models_allowing_column() -> None:
    """With one direct and one partner provider, a run's phase is all-allow exactly when the
    model reports every foreign provider allowing, all-restrict when none does, and divergence
    or mixed when one of the two does; the cells (on the first version's market, ``classic``)
    are chosen so that several phases occur."""
    base = load_scenario("classic").replace(
        n_enterprises=300, home_rule="fixed", home_policy="restrict", home_enforcement=1.0
    )
    channels = [p.channel for p in base.providers]
    assert sorted(c for c in channels if c != "domestic") == ["direct", "partner"]
    seen = set()
    for value, fine in [(10.0, 10.0), (100.0, 0.0), (300.0, 0.0), (30.0, 40.0)]:
        params = base.replace(market_value=value, home_fine=fine)
        out = run_batch(params, range(6), 40, final_only=True)
        model, providers = out.model, out.providers
        allows = providers.pivot(index="run", columns="provider", values="strategy") == "allow"
        phases = [PHASES[k] for k in run_phases(allows.to_numpy(), channels)]
        seen.update(phases)
        for phase, frac in zip(phases, model["frac_foreign_allowing"], strict=True):
            expected = {1.0: {"all-allow"}, 0.5: {"divergence", "mixed"}, 0.0: {"all-restrict"}}
            assert phase in expected[frac]
    assert {"all-allow", "divergence", "all-restrict"} <= seen


def test_figure_regimes_take_the_majority_of_replicates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The phase diagram's cell table, from a synthetic stored frame with known strategies:
    each channel counts as allowing when it allows in at least half of the replicates."""
    sweep = tmp_path / "pd.toml"
    sweep.write_text(
        'kind = "phase_diagram"\nreplicates = 4\nsteps = 2\nrecord = "final"\n'
        "providers = true\n[fixed]\nn_enterprises = 100\nhome_enforcement = 0.5\n"
        "[parameters]\nmarket_value = { values = [10.0, 100.0] }\n"
        "home_fine = { values = [0.0, 40.0] }\n"
    )
    spec = load_spec(sweep)
    # per point: replicates in which the direct lab / the partner cloud allow (of 4)
    design = {
        0: (10.0, 0.0, 2, 4, "all-allow"),
        1: (10.0, 40.0, 1, 4, "divergence"),
        2: (100.0, 0.0, 3, 1, "mixed"),
        3: (100.0, 40.0, 0, 1, "all-restrict"),
    }
    rows = []
    for point, (value, fine, direct, partner, _) in design.items():
        for r in range(4):
            row = {"point_id": point, "seed": 10 * point + r, "step": 2}
            row |= {"market_value": value, "home_fine": fine}
            for p in spec.params_for({}).providers:
                allow = {"direct": r < direct, "partner": r < partner}.get(p.channel, True)
                row[provider_column(p.name, "strategy")] = "allow" if allow else "restrict"
            rows.append(row)
    earlier = [dict(row, step=1) for row in rows]  # only the horizon counts
    for row in earlier:
        for key in row:
            if key.endswith("/strategy"):
                row[key] = "restrict"
    cells = regimes(pd.DataFrame(earlier + rows), spec).set_index("point_id")
    for point, (value, fine, direct, partner, phase) in design.items():
        assert cells.loc[point, "regime"] == phase
        assert cells.loc[point, "direct_allowing"] == direct / 4
        assert cells.loc[point, "partner_allowing"] == partner / 4
        assert cells.loc[point, "expected_penalty"] == 0.5 * fine
        assert cells.loc[point, "market_value"] == value
        assert cells.loc[point, "seeds"] == 4
