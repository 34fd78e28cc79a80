"""The population-game layer: payoff convention, bookkeeping, reproducibility and agreement with
slow per-agent references (it must call the model's rules, so these check the plumbing)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.games import (
    MatrixGame,
    _payoff_block,
    arthur_adoption,
    fixation_fraction,
    run_population,
    simulate,
)
from sim.validation import tnp_fixation

COORD = np.array([[1.5, 0.0], [1.0, 2.0]])


def test_payoff_block_excludes_self_in_one_population() -> None:
    """pi_k(a) = (sum_{m != k} A[a, x_m]) / (Z - 1), checked agent by agent."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3))
    actions = rng.integers(0, 3, size=(2, 7)).astype(np.int8)
    block = _payoff_block(MatrixGame(A), 0, [actions])
    for r in range(2):
        for k in range(7):
            others = np.delete(actions[r], k)
            expected = A[:, others].mean(axis=1)
            np.testing.assert_allclose(block[r, k], expected, rtol=1e-12)


def test_payoff_block_two_populations_uses_same_indexing() -> None:
    """Row earns A[i, j] against column j; column earns B[i, j] against row i."""
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    B = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])
    row = np.array([[0, 1, 1]], dtype=np.int8)
    col = np.array([[2, 2, 0]], dtype=np.int8)
    game = MatrixGame(A, B)
    row_block = _payoff_block(game, 0, [row, col])
    col_block = _payoff_block(game, 1, [row, col])
    np.testing.assert_allclose(row_block[0, 0], A[:, [2, 2, 0]].mean(axis=1))
    np.testing.assert_allclose(col_block[0, 0], B[[0, 1, 1], :].mean(axis=0))


@pytest.mark.parametrize(
    "rule", ["fermi", "logit", "best_response", "fictitious_play", "roth_erev"]
)
def test_counts_are_consistent_and_reproducible(rule: str) -> None:
    game = MatrixGame(COORD)
    one = run_population(game, rule, beta=1.0, size=12, steps=300, initial=[6, 6], rng=5)
    two = run_population(game, rule, beta=1.0, size=12, steps=300, initial=[6, 6], rng=5)
    assert isinstance(one.counts, np.ndarray)
    assert one.counts.shape == (301, 2)
    assert (one.counts.sum(axis=1) == 12).all()
    # one individual revises per step
    assert (np.abs(np.diff(one.counts[:, 0])) <= 1).all()
    np.testing.assert_array_equal(one.counts, two.counts)
    if one.fixed is not None:
        assert one.counts[-1, one.fixed] == 12


def test_fermi_absorbing_state_is_kept() -> None:
    """Under imitation a strategy nobody plays never returns."""
    out = run_population(MatrixGame(COORD), "fermi", beta=1.0, size=10, steps=50, initial=[10, 0])
    assert out.fixed == 0
    assert (out.counts[:, 1] == 0).all()


def test_two_population_counts_per_population() -> None:
    A = np.array([[0.0, 0.0], [-10.0, 6.0]])
    B = np.array([[-5.0, 0.0], [-5.0, -30.0]])
    out = run_population(
        MatrixGame(A, B), "logit", beta=0.5, size=8, steps=40, initial=[[4, 4], [8, 0]], rng=1
    )
    assert isinstance(out.counts, tuple) and len(out.counts) == 2
    assert all(c.shape == (41, 2) and (c.sum(axis=1) == 8).all() for c in out.counts)


def _reference_fictitious_play(A: np.ndarray, B: np.ndarray, steps: int) -> list[tuple[int, int]]:
    """Textbook simultaneous fictitious play (Brown 1951), both starting on strategy 0: each
    player best-responds to the empirical mixture of the other's past play."""
    row, col = 0, 0
    seen_col, seen_row = np.zeros(2), np.zeros(2)
    played = [(row, col)]
    for _ in range(steps):
        seen_col[col] += 1
        seen_row[row] += 1
        row_values = A @ (seen_col / seen_col.sum())
        col_values = (seen_row / seen_row.sum()) @ B
        assert row_values[0] != row_values[1] and col_values[0] != col_values[1]  # no ties
        row, col = int(np.argmax(row_values)), int(np.argmax(col_values))
        played.append((row, col))
    return played


def test_size_one_is_textbook_fictitious_play() -> None:
    A = np.array([[0.0, 0.0], [-10.0, 6.3]])
    B = np.array([[-5.0, 0.0], [-5.0, -29.7]])
    steps = 400
    out = run_population(
        MatrixGame(A, B), "fictitious_play", size=1, steps=steps, initial=[[1, 0], [1, 0]], rng=0
    )
    assert isinstance(out.counts, tuple)
    ours = list(zip(out.counts[0][:, 1].tolist(), out.counts[1][:, 1].tolist(), strict=True))
    assert ours == _reference_fictitious_play(A, B, steps)


def test_simulate_records_requested_steps() -> None:
    counts = simulate(
        MatrixGame(COORD),
        "fermi",
        beta=1.0,
        size=6,
        steps=20,
        initial=[3, 3],
        runs=4,
        rng=2,
        record=[0, 10, 20],
    )
    assert counts[0].shape == (4, 3, 2)
    every = simulate(
        MatrixGame(COORD), "fermi", beta=1.0, size=6, steps=20, initial=[3, 3], runs=4, rng=2
    )
    np.testing.assert_array_equal(counts[0], every[0][:, [0, 10, 20]])


def test_fixation_fraction_counts_every_trial() -> None:
    took_over, absorbed = fixation_fraction(
        MatrixGame(COORD), beta=1.0, size=8, mutants=1, mutant=1, trials=200, rng=3
    )
    assert absorbed == 200
    # and the fraction agrees with the closed form (TNP 2006) within 4 binomial SE
    p = tnp_fixation(COORD, 8, 1.0, mutant=1)
    assert abs(took_over / 200 - p) <= 4 * np.sqrt(p * (1 - p) / 200)


def test_arthur_locks_in_and_follows_the_lead() -> None:
    base = [[2.0, 0.0], [0.0, 2.0]]
    locked = arthur_adoption(
        base_payoffs=base,
        returns=[0.9, 0.9],
        r_type_probability=0.5,
        initial_adopters=(3, 0),
        trials=50,
        rng=4,
    )
    assert (locked == 0).all()  # a lead of 3 is already past both thresholds
    mixed = arthur_adoption(
        base_payoffs=base,
        returns=[0.9, 0.9],
        r_type_probability=0.5,
        initial_adopters=(0, 0),
        trials=400,
        rng=4,
    )
    assert set(np.unique(mixed)) == {0, 1}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: MatrixGame([[1.0, 2.0]]), "A="),
        (lambda: MatrixGame(np.ones((2, 3))), "square"),
        (lambda: MatrixGame(np.ones((2, 2)), np.ones((3, 2))), "B shape"),
        (
            lambda: run_population(MatrixGame(COORD), "moran", size=4, steps=1, initial=[2, 2]),
            "rule='moran'",
        ),
        (
            lambda: run_population(MatrixGame(COORD), "fermi", size=4, steps=1, initial=[2, 1]),
            "initial=",
        ),
        (
            lambda: run_population(MatrixGame(COORD), "fermi", size=1, steps=1, initial=[1, 0]),
            "size=1",
        ),
        (
            lambda: run_population(
                MatrixGame(COORD), "fermi", beta=-1.0, size=4, steps=1, initial=[2, 2]
            ),
            "beta=",
        ),
    ],
)
def test_bad_input_names_the_field(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call()
