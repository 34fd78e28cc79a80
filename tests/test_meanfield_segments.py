"""The mean field by segment (issue 12, part 6): exact in expectation without peer effects, a
mixing closure with them, and where the agent-based model departs from it.

The closure's mixing matrices are checked against the networks the engine builds; the
agreement and departure checks of :mod:`sim.validation.checks` run here at smaller sizes."""

from __future__ import annotations

import numpy as np
import pytest

from sim import engine, meanfield
from sim import validation as v
from sim.core import Plan
from sim.params import Params, load_scenario

SEEDS = 20


def _params(kind: str, n: int) -> Params:
    """The seed scenario with ``n`` enterprises on a network of kind ``kind``."""
    return load_scenario("seed").replace(
        n_enterprises=n, **{"network.kind": kind, "network.clustering": 0.3}
    )


def _empirical_mixing(kind: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard error over seeds of the share of a segment-s member's tie ends in
    segment b, for the networks ``sim.engine.draw_population`` builds; and the mean field's."""
    core = Plan.from_params(_params(kind, n)).first
    shares = []
    for seed in range(SEEDS):
        graph = engine.draw_population(core, [np.random.default_rng(seed)], 1).graph
        assert graph is not None
        rows = np.repeat(np.arange(graph.n), np.diff(graph.indptr))
        seg = core.segment_of
        ties = np.zeros((core.n_segments, core.n_segments))
        np.add.at(ties, (seg[rows], seg[graph.indices]), 1.0)
        shares.append(ties / ties.sum(-1, keepdims=True))
    stack = np.array(shares)
    se = stack.std(0, ddof=1) / np.sqrt(SEEDS)
    return stack.mean(0), se, meanfield.mixing_matrix_counts(core)


@pytest.mark.parametrize("kind", ["block", "small_world", "scale_free"])
def test_mixing_closure_is_the_networks_expected_segment_mixing(kind: str) -> None:
    """The closure's mixing matrix is the expected segment mixing of the engine's networks:
    the block model's by its block probabilities; the small world's and scale-free's random
    (they are placed on the enterprises in a random order, so no segment keeps its ties or
    holds the hubs), so for them a member's expected share of neighbours in segment ``b`` is
    exactly ``(n_b - [b = s]) / (N - 1)``; every entry within Z_TOL standard errors over 20
    networks of 2000 enterprises (the seed's five unequal segments)."""
    mean, se, closure = _empirical_mixing(kind, 2000)
    z = np.abs(mean - closure) / np.maximum(se, 1e-12)
    assert z.max() <= v.Z_TOL, (kind, np.round(mean, 3), np.round(closure, 3))
    if kind == "block":
        assert np.diag(closure).min() > 0.6  # homophily 0.7: mostly inside the segment
    else:  # random mixing: a segment-s member's neighbours are a draw of the other N - 1
        core = Plan.from_params(_params(kind, 2000)).first
        members = np.bincount(core.segment_of, minlength=core.n_segments)
        exact = (members - np.eye(core.n_segments)) / (members.sum() - 1)  # (n_b - [b=s])/(N-1)
        np.testing.assert_allclose(closure, exact, rtol=1e-12, atol=0)


def test_segment_shares_of_the_mean_field_add_up_to_its_domestic_share() -> None:
    """The per-segment path of the validation helper weights back to the mean field's own
    domestic share (member-weighted), at every step, with and without peer effects."""
    for peer in (0.0, 0.1):
        path = v.meanfield_path(v.fixed_strategy_params(1000, peer_effect=peer), 12)
        total = path.segment_domestic @ path.members / path.members.sum()
        np.testing.assert_allclose(total, path.model.domestic_share, rtol=1e-12)


def test_without_peer_effects_the_abm_mean_is_the_mean_field_by_segment() -> None:
    """Agreement (the report's check at 150 seeds of 1000 enterprises, steps 10 and 40): every
    |z| <= Z_TOL for the domestic share, each segment's and the local agreement; and the
    across-seed SD is the binomial one within Z_TOL standard errors of a normal sample's log
    SD (1 / sqrt(2 (n - 1)))."""
    n_seeds = 150
    check = v.check_meanfield_segments(n_seeds=n_seeds, n_enterprises=1000, steps=40, at=(10, 40))
    assert check.passed, check.detail
    assert len(check.labels) == 2 * 7
    log_ratio = np.log(check.extra["sd"] / check.extra["binomial_sd"])
    assert abs(log_ratio) <= v.Z_TOL / np.sqrt(2 * (n_seeds - 1)), check.detail


def test_with_peer_effects_on_a_clustered_network_the_abm_departs() -> None:
    """Departure (the report's check at 300 seeds of 1000 enterprises, steps 20 and 40): with
    the seed's peer effect the mean departs, the spread exceeds the binomial and neighbours
    agree more than the closure (small world of clustering 0.5 and the seed's block network);
    with peer effect 0.3 the ABM is less concentrated than the mean field. Every effect above
    Z_TOL standard errors."""
    check = v.check_peer_departure(n_seeds=300, n_enterprises=1000, steps=40, at=(20, 40))
    assert check.passed, check.detail
    rows = dict(zip(check.labels, zip(check.simulated, check.expected, strict=True), strict=True))
    for network in ("small world", "block"):
        for t in (20, 40):
            abm, closure = rows[f"{network}: local agreement, step {t}"]
            assert abm > closure
        sd, binomial = rows[f"{network}: SD of domestic share, step 40"]
        assert sd > binomial
    hhi, closure = rows["peer 0.3: HHI, step 40"]
    assert hhi < closure
