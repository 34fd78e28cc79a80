r"""Validation: the model's rules meet theory in their limits, the mean field meets the model,
and the model reproduces the stylized facts of the model brief.

Every check is a function returning a :class:`Check` record (points simulated, their Monte
Carlo standard error, the closed form, an independent library's value where one exists, the
tolerance and the verdict). The tests (``tests/test_theory.py``, ``tests/test_meanfield.py``,
``tests/test_stylized_facts.py``) assert on these records and the report is written from them,
so the two cannot disagree. Run ``python -m sim.validation --out docs`` (``make validate``) to
write ``docs/validation.md`` and its figures under ``docs/figures/validation/``.

Tolerances
    A simulated proportion ``p_hat`` from ``n`` independent trials is compared with its closed
    form ``p`` within ``Z_TOL = 4`` standard errors ``sqrt(p (1 - p) / n)`` (the error under the
    hypothesis being tested); a time-averaged quantity within 4 standard errors of the mean over
    independent runs. With about 50 such comparisons the chance of any false alarm is about
    0.3 %. Stylized facts use 95 % confidence (Wilson interval for proportions, normal interval
    for mean differences), one-sided where the claim has a direction. Fictitious play is
    deterministic (up to ties), so its tolerance is its own oscillation: the equilibrium must lie
    within the range of the empirical frequency over the second half of the run, and that range
    must narrow as the run doubles.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.integrate import solve_ivp
from scipy.optimize import fsolve
from scipy.special import expit

from sim import meanfield
from sim.batch import run_batch
from sim.games import MatrixGame, arthur_adoption, fixation_fraction, run_population, simulate
from sim.params import Params, load_scenario

Float = NDArray[np.float64]

Z_TOL = 4.0  # tolerance in Monte Carlo standard errors for theory checks
Z95 = 1.959963984540054  # two-sided 95 % normal quantile
Z95_ONE_SIDED = 1.6448536269514722


@dataclass(frozen=True)
class Check:
    """One validation check and its verdict.

    ``x``, ``simulated``, ``error``, ``expected`` (closed form) and ``oracle`` (an independent
    library, NaN where none) are aligned arrays, one entry per point compared. ``error`` is one
    standard error when ``error_kind == "se"``, else the half-width of the interval the check
    uses (fictitious play's oscillation range, a confidence interval). ``measured`` sums up the
    result in one line for the report's table.
    """

    key: str
    group: str
    title: str
    claim: str
    x_label: str
    y_label: str
    x: tuple[float, ...]
    simulated: tuple[float, ...]
    error: tuple[float, ...]
    expected: tuple[float, ...]
    oracle: tuple[float, ...]
    oracle_name: str
    tolerance: str
    passed: bool
    measured: str
    detail: str
    labels: tuple[str, ...] = ()
    error_kind: str = "se"
    extra: dict[str, Any] = field(default_factory=dict)


def _tuple(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in np.ravel(values))


def _binomial_se(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# ---------------------------------------------------------------------------------------------
# Finite-population theory (Traulsen, Nowak & Pacheco, Phys. Rev. E 74, 011909, 2006)


def tnp_payoffs(A: Float, size: int, mutant: int) -> tuple[Float, Float]:
    """``f_A(j), f_B(j)`` for ``j = 1..Z-1`` mutants (A = ``mutant``), self excluded:
    ``f_A(j) = ((j-1) a + (Z-j) b) / (Z-1)``, ``f_B(j) = (j c + (Z-j-1) d) / (Z-1)``."""
    res = 1 - mutant
    a, b, c, d = A[mutant, mutant], A[mutant, res], A[res, mutant], A[res, res]
    j = np.arange(1, size)
    f_a = ((j - 1) * a + (size - j) * b) / (size - 1)
    f_b = (j * c + (size - j - 1) * d) / (size - 1)
    return f_a, f_b


def tnp_fixation(A: Float, size: int, beta: float, mutant: int, start: int = 1) -> float:
    """Fixation probability of ``start`` individuals on ``mutant`` under the Fermi pairwise
    comparison process: ``phi_k = sum_{i=0}^{k-1} prod_{j=1}^{i} gamma_j /
    sum_{i=0}^{Z-1} prod_{j=1}^{i} gamma_j`` with ``gamma_j = exp(-beta (f_A(j) - f_B(j)))``
    (TNP 2006, eq. 4; ``k = 1`` is the single-mutant formula)."""
    f_a, f_b = tnp_payoffs(A, size, mutant)
    products = np.concatenate([[1.0], np.cumprod(np.exp(-beta * (f_a - f_b)))])
    return float(products[:start].sum() / products.sum())


def _egttools_fixation(A: Float, size: int, beta: float, mutant: int) -> float:
    from egttools.analytical import StochDynamics

    dynamics = StochDynamics(2, A, size)
    return float(dynamics.fixation_probability(mutant, 1 - mutant, beta))


def _fixation_check(
    key: str,
    title: str,
    claim: str,
    A: Float,
    size: int,
    cases: Sequence[tuple[int, float]],
    trials: int,
    seed: int,
    x_label: str,
) -> Check:
    rng = np.random.default_rng(seed)
    sim, expected, oracle, se, labels = [], [], [], [], []
    for mutant, beta in cases:
        took_over, absorbed = fixation_fraction(
            MatrixGame(A), beta=beta, size=size, mutants=1, mutant=mutant, trials=trials, rng=rng
        )
        if absorbed != trials:
            raise RuntimeError(f"{key}: {trials - absorbed} runs not absorbed")
        p = tnp_fixation(A, size, beta, mutant)
        sim.append(took_over / trials)
        expected.append(p)
        oracle.append(_egttools_fixation(A, size, beta, mutant))
        se.append(_binomial_se(p, trials))
        labels.append(f"mutant {mutant}, beta {beta:g}")
    z = np.abs(np.subtract(sim, expected)) / np.array(se)
    agree = np.allclose(expected, oracle, rtol=1e-6, atol=1e-9)
    return Check(
        key=key,
        group="theory",
        title=title,
        claim=claim,
        x_label=x_label,
        y_label="fixation probability",
        x=_tuple([b for _, b in cases]),
        simulated=_tuple(sim),
        error=_tuple(se),
        expected=_tuple(expected),
        oracle=_tuple(oracle),
        oracle_name="egttools StochDynamics",
        tolerance=f"|sim - TNP| <= {Z_TOL:g} SE ({trials} trials/point); egttools = TNP to 1e-6",
        passed=bool((z <= Z_TOL).all() and agree),
        measured=f"worst {z.max():.2f} SE",
        detail=f"Z = {size}; worst deviation {z.max():.2f} SE; egttools agrees: {agree}",
        labels=tuple(labels),
        extra={"A": A.tolist()},
    )


COORDINATION = np.array([[1.5, 0.0], [1.0, 2.0]])


def check_fixation_coordination(trials: int = 4000, seed: int = 11) -> Check:
    """Single-mutant fixation in a coordination game vs TNP 2006 and egttools."""
    return _fixation_check(
        "fixation_coordination",
        "Fermi imitation: fixation in a coordination game",
        "fixation probability of one mutant = TNP 2006 closed form (and egttools)",
        COORDINATION,
        20,
        [(1, 0.5), (1, 1.0), (1, 2.0), (0, 0.2)],
        trials,
        seed,
        "selection intensity beta",
    )


def check_fixation_constant(trials: int = 4000, seed: int = 12, advantage: float = 0.2) -> Check:
    """Constant fitness difference ``s``: ``phi = (1 - e^{-beta s}) / (1 - e^{-beta s Z})``."""
    A = np.array([[1.0, 1.0], [1.0 + advantage, 1.0 + advantage]])
    out = _fixation_check(
        "fixation_constant",
        "Fermi imitation: fixation with a constant fitness advantage",
        "phi = (1 - exp(-beta s)) / (1 - exp(-beta s Z)) (TNP 2006), 1/Z when neutral",
        A,
        20,
        [(1, 0.0), (1, 1.0), (1, 5.0)],
        trials,
        seed,
        f"selection intensity beta (s = {advantage:g})",
    )
    size = 20
    closed = [
        1.0 / size
        if b == 0
        else (1 - math.exp(-b * advantage)) / (1 - math.exp(-b * advantage * size))
        for b in out.x
    ]
    same = np.allclose(closed, out.expected, rtol=1e-9)
    return dataclasses.replace(
        out,
        passed=out.passed and same,
        detail=out.detail + f"; product formula = constant-advantage closed form: {same}",
    )


# ---------------------------------------------------------------------------------------------
# Replicator and mean field


def _quasi_stationary_mean(A: Float, size: int, beta: float) -> float:
    """Mean share of strategy 0 in the quasi-stationary distribution of the Fermi birth-death
    chain on ``k = 1..Z-1`` (absorption ignored): ``pi(k+1) / pi(k) = T+(k) / T-(k+1)`` with
    ``T+(k) = (Z-k)/Z k/(Z-1) expit(beta (f_0 - f_1))``, ``T-(k) = k/Z (Z-k)/(Z-1) expit(-beta
    (f_0 - f_1))`` (TNP 2006, eq. 2)."""
    f_0, f_1 = tnp_payoffs(A, size, mutant=0)  # index j - 1 for j = 1..Z-1 individuals on 0
    k = np.arange(1, size)
    up = (size - k) / size * k / (size - 1) * expit(beta * (f_0 - f_1))
    down = k / size * (size - k) / (size - 1) * expit(-beta * (f_0 - f_1))
    log_pi = np.concatenate([[0.0], np.cumsum(np.log(up[:-1]) - np.log(down[1:]))])
    pi = np.exp(log_pi - log_pi.max())
    return float((pi * k).sum() / pi.sum() / size)


def hawk_dove(value: float, cost: float) -> Float:
    """Hawk (0) / Dove (1) payoffs: ``[[(V-C)/2, V], [0, V/2]]``."""
    return np.array([[(value - cost) / 2, value], [0.0, value / 2]])


def _replicator_limit(A: Float, x0: float, horizon: float = 200.0) -> float:
    """Share of strategy 0 at ``horizon`` under ``x' = x (1-x) (f_0 - f_1)`` (SciPy)."""

    def rhs(_t: float, x: Float) -> Float:
        mix = np.array([x[0], 1 - x[0]])
        f = A @ mix
        return np.array([x[0] * (1 - x[0]) * (f[0] - f[1])])

    sol = solve_ivp(rhs, (0.0, horizon), [x0], rtol=1e-10, atol=1e-12)
    return float(sol.y[0, -1])


def check_hawk_dove(size: int = 50, runs: int = 64, seed: int = 21, beta: float = 1.0) -> Check:
    """Hawk share under Fermi imitation vs the rest point ``V/C``."""
    import nashpy

    rng = np.random.default_rng(seed)
    cases = [(2.0, 5.0), (3.0, 4.0)]
    sim, se, expected, oracle, labels, ode, zero_drift = [], [], [], [], [], [], []
    burn, steps = 10 * size, 60 * size
    for value, cost in cases:
        A = hawk_dove(value, cost)
        start = round(size * value / cost)
        counts = simulate(
            MatrixGame(A),
            "fermi",
            beta=beta,
            size=size,
            steps=steps,
            initial=[start, size - start],
            runs=runs,
            rng=rng,
            record=range(burn, steps + 1, size // 4),
        )[0]
        per_run = counts[:, :, 0].mean(axis=1) / size
        sim.append(per_run.mean())
        se.append(per_run.std(ddof=1) / math.sqrt(runs))
        expected.append(_quasi_stationary_mean(A, size, beta))
        mixed = [eq for eq in nashpy.Game(A, A.T).support_enumeration() if 0 < eq[0][0] < 1]
        oracle.append(float(mixed[0][0][0]))
        ode.append(_replicator_limit(A, 0.9))
        zero_drift.append(value / cost + 1.0 / size)
        labels.append(f"V={value:g}, C={cost:g}")
    rest = np.array([v / c for v, c in cases])
    z = np.abs(np.subtract(sim, expected)) / np.array(se)
    ok_oracle = np.allclose(oracle, rest, atol=1e-9) and np.allclose(ode, rest, atol=1e-6)
    return Check(
        key="hawk_dove",
        group="theory",
        title="Hawk-Dove: interior rest point V/C",
        claim="long-run hawk share = quasi-stationary mean of the finite chain -> V/C "
        "(nashpy mixed equilibrium, replicator ODE limit)",
        x_label="V/C",
        y_label="hawk share",
        x=_tuple(rest),
        simulated=_tuple(sim),
        error=_tuple(se),
        expected=_tuple(expected),
        oracle=_tuple(oracle),
        oracle_name="nashpy support enumeration",
        tolerance=f"|sim - quasi-stationary mean| <= {Z_TOL:g} SE ({runs} runs); nashpy and "
        "the replicator ODE (SciPy) at V/C to 1e-6",
        passed=bool((z <= Z_TOL).all() and ok_oracle),
        measured=f"worst {z.max():.2f} SE",
        detail=f"Z = {size}, beta = {beta:g}; worst {z.max():.2f} SE; replicator limits "
        f"{', '.join(f'{v:.6f}' for v in ode)}; finite-Z zero-drift point V/C + 1/Z = "
        f"{', '.join(f'{v:.3f}' for v in zero_drift)}",
        labels=tuple(labels),
    )


STAG_HUNT = np.array([[5.0, 0.0], [3.0, 3.0]])  # a, b / c, d: stag 0, hare 1


def check_stag_hunt(size: int = 30, trials: int = 1500, seed: int = 31, beta: float = 2.0) -> Check:
    """Stag-hunt basin boundary ``(d-b)/(a-b-c+d)``: probability stag takes over from ``k``
    stag hunters vs TNP's ``phi_k``; the replicator flows away from the boundary."""
    a, b, c, d = STAG_HUNT.ravel()
    boundary = (d - b) / (a - b - c + d)
    rng = np.random.default_rng(seed)
    starts = [round(size * f) for f in (0.5, 0.6, 0.7)]
    sim, expected, se = [], [], []
    for k in starts:
        took_over, absorbed = fixation_fraction(
            MatrixGame(STAG_HUNT), beta=beta, size=size, mutants=k, mutant=0, trials=trials, rng=rng
        )
        if absorbed != trials:
            raise RuntimeError(f"stag_hunt: {trials - absorbed} runs not absorbed")
        p = tnp_fixation(STAG_HUNT, size, beta, mutant=0, start=k)
        sim.append(took_over / trials)
        expected.append(p)
        se.append(_binomial_se(p, trials))
    above = _replicator_limit(STAG_HUNT, boundary + 0.01)
    below = _replicator_limit(STAG_HUNT, boundary - 0.01)
    grid = np.arange(1, size)
    phi = np.array([tnp_fixation(STAG_HUNT, size, beta, 0, int(k)) for k in grid])
    half = float(np.interp(0.5, phi, grid) / size)
    z = np.abs(np.subtract(sim, expected)) / np.array(se)
    flows = above > 1 - 1e-6 and below < 1e-6
    return Check(
        key="stag_hunt",
        group="theory",
        title="Stag hunt: basin boundary (d-b)/(a-b-c+d)",
        claim="P(stag takes over | initial stag share) = TNP phi_k; the replicator (SciPy) "
        "flows to all-stag above the boundary and all-hare below",
        x_label="initial stag share",
        y_label="P(stag takes over)",
        x=_tuple(np.array(starts) / size),
        simulated=_tuple(sim),
        error=_tuple(se),
        expected=_tuple(expected),
        oracle=_tuple([np.nan] * len(starts)),
        oracle_name="",
        tolerance=f"|sim - phi_k| <= {Z_TOL:g} SE ({trials} trials/point); replicator from "
        "boundary +/- 0.01 ends within 1e-6 of 1 and 0",
        passed=bool((z <= Z_TOL).all() and flows),
        measured=f"worst {z.max():.2f} SE",
        detail=f"boundary {boundary:.3f}; replicator from +/-0.01: {above:.6f} / {below:.6f}; "
        f"finite population (Z = {size}, beta = {beta:g}): phi = 1/2 at share {half:.3f}; "
        f"worst {z.max():.2f} SE",
        extra={"boundary": boundary, "phi_curve": (grid / size).tolist(), "phi": phi.tolist()},
    )


QRE_GAME = (np.array([[4.0, 0.0], [1.0, 2.0]]), np.array([[1.0, 3.0], [2.0, 0.0]]))


def logit_equilibrium(A: Float, B: Float, rationality: float) -> tuple[float, float]:
    """Logit QRE of a 2 x 2 game (McKelvey & Palfrey 1995): ``x = expit(lambda (A y)_0 -
    lambda (A y)_1)``, ``y`` likewise for the column player; solved with SciPy."""

    def gap(z: Float) -> Float:
        x, y = z
        row = A @ np.array([y, 1 - y])
        col = np.array([x, 1 - x]) @ B
        return np.array(
            [x - expit(rationality * (row[0] - row[1])), y - expit(rationality * (col[0] - col[1]))]
        )

    x, y = fsolve(gap, [0.5, 0.5], xtol=1e-13)
    return float(x), float(y)


def _gambit_qre(A: Float, B: Float, rationality: float) -> tuple[float, float]:
    import pygambit

    # pygambit 17: games from arrays are StrategicGame; players and strategies labelled "1", "2"
    game = pygambit.StrategicGame.from_arrays(A, B)
    profile = pygambit.qre.logit_solve_lambda(game, lam=[rationality])[0].profile
    return float(profile["1"]["1"]), float(profile["2"]["1"])


def check_logit_qre(size: int = 200, runs: int = 100, seed: int = 41) -> Check:
    """Two populations revising by the logit rule: long-run shares vs the logit QRE."""
    A, B = QRE_GAME
    rng = np.random.default_rng(seed)
    sim, se, expected, oracle, x, labels = [], [], [], [], [], []
    burn, steps = 10 * size, 40 * size
    for lam in (0.5, 2.0):
        half = size // 2
        counts = simulate(
            MatrixGame(A, B),
            "logit",
            beta=lam,
            size=size,
            steps=steps,
            initial=[[half, size - half], [half, size - half]],
            runs=runs,
            rng=rng,
            record=range(burn, steps + 1, size // 10),
        )
        qre = logit_equilibrium(A, B, lam)
        gambit = _gambit_qre(A, B, lam)
        for pop, name in enumerate(("row", "column")):
            per_run = counts[pop][:, :, 0].mean(axis=1) / size
            sim.append(per_run.mean())
            se.append(per_run.std(ddof=1) / math.sqrt(runs))
            expected.append(qre[pop])
            oracle.append(gambit[pop])
            x.append(lam)
            labels.append(f"{name}, lambda {lam:g}")
    z = np.abs(np.subtract(sim, expected)) / np.array(se)
    agree = np.allclose(expected, oracle, atol=1e-6)
    return Check(
        key="logit_qre",
        group="theory",
        title="Logit rule: large-population average = logit QRE",
        claim="long-run share of strategy 0 in each population = logit QRE (fixed point "
        "solved with SciPy; pygambit logit_solve_lambda)",
        x_label="rationality lambda",
        y_label="share of strategy 0",
        x=_tuple(x),
        simulated=_tuple(sim),
        error=_tuple(se),
        expected=_tuple(expected),
        oracle=_tuple(oracle),
        oracle_name="pygambit logit QRE",
        tolerance=f"|sim - QRE| <= {Z_TOL:g} SE ({runs} runs, Z = {size}); pygambit = SciPy "
        "fixed point to 1e-6",
        passed=bool((z <= Z_TOL).all() and agree),
        measured=f"worst {z.max():.2f} SE",
        detail=f"A = {A.tolist()}, B = {B.tolist()}; worst {z.max():.2f} SE; pygambit "
        f"agrees: {agree}",
        labels=tuple(labels),
    )


def inspection_game(gain: float, penalty: float, cost: float, loss: float) -> MatrixGame:
    """Tsebelis (1990) inspection game. Row: provider, 0 comply (stop serving), 1 violate (serve
    against the mandate); column: government, 0 inspect, 1 not. Provider: violating gains ``g``
    unless inspected, then loses ``p``; government: inspecting costs ``h``, an undetected
    violation costs ``a``. Mixed equilibrium: violation ``h/a``, inspection ``g/(g+p)``."""
    provider = np.array([[0.0, 0.0], [-penalty, gain]])
    government = np.array([[-cost, 0.0], [-cost, -loss]])
    return MatrixGame(provider, government)


def _fp_frequencies(game: MatrixGame, steps: int, seed: int) -> tuple[Float, Float]:
    """Running empirical frequency of violation and inspection under fictitious play (size 1)."""
    out = run_population(
        game, "fictitious_play", size=1, steps=steps, initial=[[1, 0], [1, 0]], rng=seed
    )
    counts = out.counts
    assert isinstance(counts, tuple)
    t = np.arange(1, steps + 1)
    violate = np.cumsum(counts[0][1:, 1]) / t
    inspect = np.cumsum(counts[1][1:, 0]) / t
    return violate, inspect


def _quantecon_fp(game: MatrixGame, steps: int) -> tuple[float, float]:
    import quantecon.game_theory as gt

    assert game.B is not None
    nfg = gt.NormalFormGame([gt.Player(game.A), gt.Player(game.B.T)])
    beliefs = gt.FictitiousPlay(nfg).time_series(steps, init_actions=(0, 0))
    return float(beliefs[0][-1, 1]), float(beliefs[1][-1, 0])


def check_inspection(steps: int = 8_000, seed: int = 51) -> Check:
    """Fictitious play in the inspection game vs ``h/a`` and ``g/(g+p)``, and the comparative
    static in the penalty (Tsebelis 1990)."""
    import nashpy

    base = load_scenario("seed")
    gain, cost, loss = 6.0, base.home_enforcement_cost, base.home_security_weight
    penalties = (base.home_fine, 2 * base.home_fine)
    x, sim, err, expected, oracle, labels, qe, widths = [], [], [], [], [], [], [], []
    ok = True
    for penalty in penalties:
        game = inspection_game(gain, penalty, cost, loss)
        violate, inspect = _fp_frequencies(game, steps, seed)
        assert game.B is not None
        (eq_row, eq_col), *_ = list(nashpy.Game(game.A, game.B).support_enumeration())
        theory = (cost / loss, gain / (gain + penalty))
        lib = (float(eq_row[1]), float(eq_col[0]))
        qe_pair = _quantecon_fp(game, steps)
        for series, th, o, q, name in zip(
            (violate, inspect), theory, lib, qe_pair, ("violation", "inspection"), strict=True
        ):
            late = series[steps // 2 :]
            earlier = series[steps // 4 : steps // 2]
            inside = bool(late.min() <= th <= late.max())
            narrowing = bool(np.ptp(late) < np.ptp(earlier))
            # quantecon's own fictitious play must sit as close to the equilibrium as ours does
            agrees = bool(abs(q - th) <= np.ptp(late))
            ok = ok and inside and narrowing and abs(o - th) < 1e-9 and agrees
            x.append(penalty)
            sim.append(series[-1])
            err.append(np.ptp(late) / 2)
            expected.append(th)
            oracle.append(o)
            qe.append(q)
            widths.append((np.ptp(earlier), np.ptp(late)))
            labels.append(f"{name}, p = {penalty:g}")
    static = (
        abs(expected[0] - expected[2]) < 1e-12  # violation unchanged by the penalty
        and expected[3] < expected[1]  # inspection falls
        and sim[3] + err[3] < sim[1] - err[1]  # and so does the simulated inspection rate
    )
    return Check(
        key="inspection",
        group="theory",
        title="Inspection game: fictitious play -> (h/a, g/(g+p))",
        claim="empirical frequencies of fictitious play converge to violation h/a and "
        "inspection g/(g+p) (nashpy); doubling the penalty lowers inspection, not violation",
        x_label="penalty p ($M)",
        y_label="frequency",
        x=_tuple(x),
        simulated=_tuple(sim),
        error=_tuple(err),
        expected=_tuple(expected),
        oracle=_tuple(oracle),
        oracle_name="nashpy support enumeration",
        tolerance="equilibrium inside the range of the running frequency over the second half "
        f"of {steps} steps; that range narrower than over the quarter before; quantecon's "
        "fictitious play within that range's width of the equilibrium",
        passed=bool(ok and static),
        measured="max |freq - eq| "
        f"{np.abs(np.subtract(sim, expected)).max():.4f}, half-range {max(err):.4f}",
        error_kind="interval",
        detail=f"g = {gain:g}, h = {cost:g} (home_enforcement_cost), a = {loss:g} "
        f"(home_security_weight), p = {penalties[0]:g} and {penalties[1]:g} (home_fine x 1, 2); "
        f"quantecon FictitiousPlay after {steps} steps: "
        f"{', '.join(f'{v:.4f}' for v in qe)}; comparative static holds: {static}",
        labels=tuple(labels),
        extra={"range_widths": widths},
    )


def arthur_lockin_probability(lead: int, upper: int, lower: int, r_probability: float) -> float:
    """Probability that technology A locks in from lead ``d0`` (Arthur 1989): between the
    barriers the lead is a random walk, +1 with the R-type probability ``p``, absorbed at
    ``upper`` (A) and ``lower`` (B): gambler's ruin,
    ``P = (1 - (q/p)^(d0 - lower)) / (1 - (q/p)^(upper - lower))``, and
    ``(d0 - lower) / (upper - lower)`` when ``p = 1/2``."""
    i, n = lead - lower, upper - lower
    if r_probability == 0.5:
        return i / n
    ratio = (1 - r_probability) / r_probability
    return (1 - ratio**i) / (1 - ratio**n)


def check_arthur(trials: int = 4000, seed: int = 61, r_probability: float = 0.6) -> Check:
    """Increasing-returns adoption by enterprises: lock-in probability vs gambler's ruin."""
    base = np.array([[2.0, 0.0], [0.0, 2.0]])  # R-types prefer A, S-types prefer B
    returns = np.array([0.9, 0.9])  # thresholds +/- 2.22: lock-in once |lead| reaches 3
    rng = np.random.default_rng(seed)
    leads = (-2, -1, 0, 1, 2)
    sim, expected, se = [], [], []
    for lead in leads:
        start = (max(lead, 0), max(-lead, 0))
        winner = arthur_adoption(
            base_payoffs=base,
            returns=returns,
            r_type_probability=r_probability,
            initial_adopters=start,
            trials=trials,
            rng=rng,
        )
        if (winner < 0).any():
            raise RuntimeError("arthur: runs not locked in")
        p = arthur_lockin_probability(lead, 3, -3, r_probability)
        sim.append((winner == 0).mean())
        expected.append(p)
        se.append(_binomial_se(p, trials))
    z = np.abs(np.subtract(sim, expected)) / np.array(se)
    return Check(
        key="arthur",
        group="theory",
        title="Increasing-returns adoption: lock-in (Arthur 1989)",
        claim="probability technology A locks in = gambler's-ruin closed form of Arthur's "
        "absorbing random walk",
        x_label="initial lead n_A - n_B",
        y_label="P(A locks in)",
        x=_tuple(leads),
        simulated=_tuple(sim),
        error=_tuple(se),
        expected=_tuple(expected),
        oracle=_tuple([np.nan] * len(leads)),
        oracle_name="",
        tolerance=f"|sim - closed form| <= {Z_TOL:g} SE ({trials} trials/point)",
        passed=bool((z <= Z_TOL).all()),
        measured=f"worst {z.max():.2f} SE",
        detail=f"R-type probability {r_probability:g}; barriers at lead +3 / -3; worst "
        f"{z.max():.2f} SE",
    )


# ---------------------------------------------------------------------------------------------
# Mean field vs the agent-based model


def fixed_strategy_params(n_enterprises: int) -> Params:
    """The seed scenario with every strategic choice frozen at the seed's long-run outcome
    (direct lab restricts, partner cloud allows, governments allow), so that the enterprises'
    draws are the only noise left."""
    seed = load_scenario("seed")
    providers = tuple(
        p.replace(fixed_strategy="restrict", initial_strategy="restrict")
        if p.channel == "direct"
        else p
        for p in seed.providers
    )
    return seed.replace(
        n_enterprises=n_enterprises,
        providers=providers,
        firm_rule="fixed",
        home_rule="fixed",
        rival_rule="fixed",
    )


def check_meanfield_scaling(
    sizes: Sequence[int] = (250, 1000, 4000, 16000), runs: int = 24, steps: int = 60
) -> Check:
    """RMS distance of single ABM runs from the mean-field trajectory (domestic share) at
    several enterprise counts; slope of log distance on log N vs the expected -1/2."""
    gap, gap_se = [], []
    mean_abs, mf_curve, abm_curves = [], None, []
    for n in sizes:
        params = fixed_strategy_params(n)
        mf = meanfield.trajectory(params, steps)["domestic_share"].to_numpy()
        abm = run_batch(params, list(range(runs)), steps)
        assert isinstance(abm, pd.DataFrame)
        paths = abm.pivot(index="run", columns="step", values="domestic_share").to_numpy()
        msd = ((paths[:, 1:] - mf[1:]) ** 2).mean(axis=1)  # per run, over steps 1..T
        rms = math.sqrt(msd.mean())
        gap.append(rms)
        # delta method: SE(log rms) = SE(mean msd) / (2 mean msd)
        gap_se.append(msd.std(ddof=1) / math.sqrt(runs) / (2 * msd.mean()))
        mean_abs.append(float(np.abs(paths.mean(axis=0) - mf).max()))
        mf_curve = mf
        abm_curves.append(paths.mean(axis=0).tolist())
    log_n, log_gap, w = np.log(sizes), np.log(gap), 1.0 / np.square(gap_se)
    design = np.column_stack([np.ones_like(log_n), log_n])
    cov = np.linalg.inv(design.T @ (w[:, None] * design))
    intercept, slope = cov @ design.T @ (w * log_gap)
    slope_se = math.sqrt(cov[1, 1])
    ok = abs(slope + 0.5) <= Z_TOL * slope_se
    shrinking = all(g2 < g1 for g1, g2 in itertools.pairwise(gap))
    assert mf_curve is not None
    return Check(
        key="meanfield_scaling",
        group="mean field",
        title="Mean field vs ABM: distance shrinks as 1/sqrt(N)",
        claim="RMS distance of an ABM run's domestic share from the mean-field trajectory "
        "falls as N^(-1/2) (strategies fixed; only enterprise noise)",
        x_label="enterprises N",
        y_label="RMS distance from mean field",
        x=_tuple(sizes),
        simulated=_tuple(gap),
        error=_tuple(np.array(gap) * np.array(gap_se)),
        expected=_tuple(np.exp(intercept) * np.asarray(sizes, float) ** -0.5),
        oracle=_tuple([np.nan] * len(sizes)),
        oracle_name="",
        tolerance=f"fitted slope within {Z_TOL:g} SE of -1/2 (weighted least squares, SE by "
        f"the delta method over {runs} runs per N); distance falls at every step up in N",
        passed=bool(ok and shrinking),
        measured=f"slope {slope:.3f} +/- {slope_se:.3f}",
        detail=f"slope {slope:.3f} +/- {slope_se:.3f} (expected -0.5); max |run average - "
        f"mean field| over time: {', '.join(f'{v:.4f}' for v in mean_abs)}",
        extra={
            "slope": float(slope),
            "slope_se": slope_se,
            "mf_curve": mf_curve.tolist(),
            "abm_curves": abm_curves,
        },
    )


# ---------------------------------------------------------------------------------------------
# Stylized facts (model brief), over seeds


def _provider_final(params: Params, seeds: Sequence[int], steps: int) -> pd.DataFrame:
    out = run_batch(params, list(seeds), steps, final_only=True, providers=True)
    assert isinstance(out, tuple)
    return out[1]


def check_sf1_divergence(n_seeds: int = 200, n_enterprises: int = 1000, steps: int = 120) -> Check:
    """SF1: direct lab restricting and partner cloud allowing at the end, in most seeds."""
    params = load_scenario("seed").replace(n_enterprises=n_enterprises)
    final = _provider_final(params, range(n_seeds), steps)
    strategy = final.pivot(index="run", columns="name", values="strategy")
    both = (strategy["direct-lab"] == "restrict") & (strategy["partner-cloud"] == "allow")
    hits = int(both.sum())
    low, high = wilson_interval(hits, n_seeds, Z95_ONE_SIDED)
    share = hits / n_seeds
    return Check(
        key="sf1_divergence",
        group="stylized fact",
        title="SF1 divergence",
        claim="direct lab ends restricting while the partner cloud ends allowing",
        x_label="",
        y_label="share of seeds",
        x=(0.0,),
        simulated=(share,),
        error=((high - low) / 2,),  # one-sided 95 % each way: a 90 % two-sided interval
        expected=(0.8,),
        oracle=(float("nan"),),
        oracle_name="",
        tolerance="one-sided 95 % Wilson lower bound of the share of seeds > 0.8",
        passed=low > 0.8,
        measured=f"{hits}/{n_seeds} seeds, lower bound {low:.3f}",
        error_kind="interval",
        detail=f"{hits}/{n_seeds} seeds (N = {n_enterprises}, step {steps}); Wilson 95 % "
        f"lower bound {low:.3f}; direct restricts in "
        f"{(strategy['direct-lab'] == 'restrict').mean():.3f}, partner allows in "
        f"{(strategy['partner-cloud'] == 'allow').mean():.3f}",
        extra={"lower": low, "upper": high},
    )


def _mean_ci(diff: Float) -> tuple[float, float, float]:
    mean = float(diff.mean())
    half = Z95 * float(diff.std(ddof=1)) / math.sqrt(len(diff))
    return mean, mean - half, mean + half


def check_sf2_backfire(
    n_seeds: int = 100, n_enterprises: int = 1000, steps: int = 120, at: int = 60
) -> Check:
    """SF2: a home mandate raises the domestic share and closes the gap faster."""
    seeds = list(range(n_seeds))
    frames = {}
    for name in ("seed", "mandate"):
        params = load_scenario(name).replace(n_enterprises=n_enterprises)
        frame = run_batch(params, seeds, steps, record_every=10)
        assert isinstance(frame, pd.DataFrame)
        frames[name] = frame
    at_step = {k: f[f.step == at].set_index("run") for k, f in frames.items()}
    share_diff = (at_step["mandate"].domestic_share - at_step["seed"].domestic_share).to_numpy()
    gap_diff = (at_step["seed"].capability_gap - at_step["mandate"].capability_gap).to_numpy()
    share = _mean_ci(share_diff)
    gap = _mean_ci(gap_diff)
    curves = {
        k: f.groupby("step")[["domestic_share", "capability_gap"]].agg(["mean", "sem"])
        for k, f in frames.items()
    }
    return Check(
        key="sf2_backfire",
        group="stylized fact",
        title="SF2 substitution backfire",
        claim=f"at step {at}, mandate minus no mandate: domestic share higher, capability gap "
        "smaller",
        x_label="",
        y_label="difference (mandate vs seed)",
        x=(0.0, 1.0),
        simulated=(share[0], gap[0]),
        error=((share[2] - share[1]) / 2, (gap[2] - gap[1]) / 2),
        expected=(0.0, 0.0),
        oracle=(float("nan"), float("nan")),
        oracle_name="",
        tolerance="95 % confidence interval of each mean difference (over seeds) excludes 0",
        passed=share[1] > 0 and gap[1] > 0,
        measured=f"share +{share[0]:.3f} [{share[1]:.3f}, {share[2]:.3f}], gap "
        f"-{gap[0]:.4f} [{gap[1]:.4f}, {gap[2]:.4f}]",
        error_kind="interval",
        detail=f"{n_seeds} seeds, N = {n_enterprises}: domestic share +{share[0]:.3f} "
        f"[{share[1]:.3f}, {share[2]:.3f}]; gap closed by {gap[0]:.4f} more "
        f"[{gap[1]:.4f}, {gap[2]:.4f}] (seed gap {at_step['seed'].capability_gap.mean():.4f}, "
        f"mandate {at_step['mandate'].capability_gap.mean():.4f})",
        labels=("domestic share", "capability gap closed"),
        extra={
            "curves": {
                k: {
                    "step": c.index.tolist(),
                    **{"_".join(map(str, key)): c[key].tolist() for key in c.columns},
                }
                for k, c in curves.items()
            }
        },
    )


PHASES = ("all allow", "divergence", "all restrict")


def check_sf3_phases(
    n_seeds: int = 20,
    n_enterprises: int = 500,
    steps: int = 60,
    values: Sequence[float] = (10, 30, 100, 300, 1000),
    penalties: Sequence[float] = (0, 10, 40, 80, 160),
) -> Check:
    """SF3: sweeping expected penalty ``e f`` against market value ``V`` (home government fixed
    to restrict, ``e = 1`` so ``f`` is the expected penalty) gives all three phases."""
    base = load_scenario("seed").replace(
        n_enterprises=n_enterprises, home_rule="fixed", home_policy="restrict", home_enforcement=1.0
    )
    seeds = list(range(n_seeds))
    phase_share = np.zeros((len(values), len(penalties), 3))
    for i, value in enumerate(values):
        for j, penalty in enumerate(penalties):
            params = base.replace(market_value=float(value), home_fine=float(penalty))
            final = run_batch(params, seeds, steps, final_only=True)
            assert isinstance(final, pd.DataFrame)
            allowing = final.frac_foreign_allowing.to_numpy()
            phase_share[i, j] = [
                (allowing == 1).mean(),
                (allowing == 0.5).mean(),
                (allowing == 0).mean(),
            ]
    witnesses = []
    for k in range(3):
        flat = int(np.argmax(phase_share[..., k]))
        i, j = divmod(flat, len(penalties))
        hits = round(float(phase_share[i, j, k]) * n_seeds)
        low = wilson_interval(hits, n_seeds, Z95_ONE_SIDED)[0]
        witnesses.append((PHASES[k], values[i], penalties[j], hits, low))
    return Check(
        key="sf3_phases",
        group="stylized fact",
        title="SF3 phase structure",
        claim="the (e f, V) plane has an all-allow, a divergence and an all-restrict region",
        x_label="",
        y_label="share of seeds in the phase",
        x=(0.0, 1.0, 2.0),
        simulated=tuple(w[3] / n_seeds for w in witnesses),
        error=(0.0, 0.0, 0.0),
        expected=(0.5, 0.5, 0.5),
        oracle=(float("nan"),) * 3,
        oracle_name="",
        tolerance="for each phase some cell where the one-sided 95 % Wilson lower bound of the "
        "share of seeds in that phase > 0.5",
        passed=all(w[4] > 0.5 for w in witnesses),
        measured="lower bounds " + ", ".join(f"{w[4]:.2f}" for w in witnesses),
        error_kind="interval",
        detail="; ".join(
            f"{name}: V = {v:g}, e f = {p:g}, {h}/{n_seeds} seeds (lower bound {lo:.2f})"
            for name, v, p, h, lo in witnesses
        )
        + f"; N = {n_enterprises}, step {steps}",
        labels=PHASES,
        extra={
            "values": list(values),
            "penalties": list(penalties),
            "phase_share": phase_share.tolist(),
            "lower_bounds": [w[4] for w in witnesses],
        },
    )


def check_sf4_protection(
    n_seeds: int = 40,
    n_enterprises: int = 500,
    steps: int = 60,
    quality_raise: Sequence[float] = (0.0, 0.05, 0.10),
) -> Check:
    """SF4: raising domestic providers' initial quality makes the rival government block more
    (``rival_control_value`` sets the gap below which blocking pays)."""
    seed = load_scenario("seed")
    seeds = list(range(n_seeds))
    gaps, means, ses, per_level = [], [], [], []
    for raise_by in quality_raise:
        providers = tuple(
            p if p.foreign else p.replace(quality=min(1.0, p.quality + raise_by))
            for p in seed.providers
        )
        params = seed.replace(n_enterprises=n_enterprises, providers=providers)
        frame = run_batch(params, seeds, steps)
        assert isinstance(frame, pd.DataFrame)
        block = frame[frame.step > 0].groupby("run").rival_restricts.mean().to_numpy()
        per_level.append(block)
        gaps.append(1.0 - max(p.quality for p in providers if not p.foreign))
        means.append(block.mean())
        ses.append(block.std(ddof=1) / math.sqrt(n_seeds))
    steps_up = []
    for lower, higher in itertools.pairwise(per_level):
        diff = higher.mean() - lower.mean()
        se = math.sqrt(higher.var(ddof=1) / n_seeds + lower.var(ddof=1) / n_seeds)
        steps_up.append((diff, diff - Z95_ONE_SIDED * se))
    return Check(
        key="sf4_protection",
        group="stylized fact",
        title="SF4 protection",
        claim="the closer domestic quality starts to the frontier, the more the rival "
        "government blocks foreign services",
        x_label="initial capability gap",
        y_label="share of steps the rival blocks",
        x=_tuple(gaps),
        simulated=_tuple(means),
        error=_tuple(ses),
        expected=(float("nan"),) * len(gaps),
        oracle=(float("nan"),) * len(gaps),
        oracle_name="",
        tolerance="each step up in domestic quality raises the mean block share; one-sided "
        "95 % lower bound of each difference (Welch) > 0",
        passed=all(lo > 0 for _, lo in steps_up),
        measured="differences "
        + ", ".join(f"{d:+.3f} (lower bound {lo:+.3f})" for d, lo in steps_up),
        detail=f"{n_seeds} seeds, N = {n_enterprises}, steps 1-{steps}; rival_control_value = "
        f"{seed.rival_control_value:g}; differences "
        + ", ".join(f"{d:+.3f} (lower bound {lo:+.3f})" for d, lo in steps_up),
    )


THEORY_CHECKS: tuple[Callable[[], Check], ...] = (
    check_fixation_coordination,
    check_fixation_constant,
    check_hawk_dove,
    check_stag_hunt,
    check_logit_qre,
    check_inspection,
    check_arthur,
)
MEANFIELD_CHECKS: tuple[Callable[[], Check], ...] = (check_meanfield_scaling,)
STYLIZED_CHECKS: tuple[Callable[[], Check], ...] = (
    check_sf1_divergence,
    check_sf2_backfire,
    check_sf3_phases,
    check_sf4_protection,
)
ALL_CHECKS = THEORY_CHECKS + MEANFIELD_CHECKS + STYLIZED_CHECKS


# ---------------------------------------------------------------------------------------------
# Report


def _figure(check: Check, path: Path) -> None:
    """One figure per check: simulated points with 95 % error bars against theory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sim, err = np.asarray(check.simulated), np.asarray(check.error)
    bar = Z95 * err if check.error_kind == "se" else err
    bar_label = "simulated (95 %)" if check.error_kind == "se" else "simulated (interval)"
    exp, orc = np.asarray(check.expected), np.asarray(check.oracle)
    extra = check.extra
    if check.key == "meanfield_scaling":
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        ax.errorbar(check.x, sim, yerr=bar, fmt="o", capsize=3, label="ABM (95 % CI)")
        ax.plot(check.x, exp, "-", label=f"N^(-1/2) (fitted slope {extra['slope']:.3f})")
        ax.set(xscale="log", yscale="log", xlabel=check.x_label, ylabel=check.y_label)
        ax.legend()
        for n, curve in zip(check.x, extra["abm_curves"], strict=True):
            ax2.plot(curve, lw=1, label=f"ABM average, N = {n:g}")
        ax2.plot(extra["mf_curve"], "k--", lw=2, label="mean field")
        ax2.set(xlabel="step (month)", ylabel="domestic share")
        ax2.legend(fontsize=8)
    elif check.key == "sf2_backfire":
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, column in zip(axes, ("domestic_share", "capability_gap"), strict=True):
            for name, curve in extra["curves"].items():
                mean = np.asarray(curve[f"{column}_mean"])
                band = Z95 * np.asarray(curve[f"{column}_sem"])
                ax.errorbar(curve["step"], mean, yerr=band, capsize=2, label=name)
            ax.set(xlabel="step (month)", ylabel=column.replace("_", " "))
            ax.legend()
    elif check.key == "sf3_phases":
        share = np.asarray(extra["phase_share"])  # (V, penalty, phase)
        fig, ax = plt.subplots(figsize=(6, 4.5))
        image = ax.imshow(share.argmax(-1), origin="lower", cmap="viridis", vmin=0, vmax=2)
        ax.set_xticks(range(len(extra["penalties"])), [f"{p:g}" for p in extra["penalties"]])
        ax.set_yticks(range(len(extra["values"])), [f"{v:g}" for v in extra["values"]])
        ax.set(xlabel="expected penalty e f ($M/step)", ylabel="market value V ($M/step)")
        for (i, j), k in np.ndenumerate(share.argmax(-1)):
            ax.text(j, i, f"{share[i, j, k]:.2f}", ha="center", va="center", color="w")
        colorbar = fig.colorbar(image, ticks=[0, 1, 2])
        colorbar.ax.set_yticklabels(list(PHASES))
        ax.set_title("modal phase (share of seeds in it)")
    else:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        if check.key == "stag_hunt":
            ax.plot(extra["phi_curve"], extra["phi"], "-", color="C1", label="TNP phi_k")
            ax.axvline(extra["boundary"], color="grey", ls=":", label="(d-b)/(a-b-c+d)")
            pos = np.asarray(check.x)
        else:
            pos = np.arange(len(sim), dtype=float)
        ax.errorbar(pos, sim, yerr=bar, fmt="o", capsize=4, label=bar_label)
        if np.isfinite(exp).any():
            ax.plot(pos, exp, "x", ms=10, mew=2, color="C1", label="closed form")
        if np.isfinite(orc).any():
            ax.plot(pos, orc, "o", mfc="none", ms=12, color="C2", label=check.oracle_name)
        if check.key != "stag_hunt":
            ticks = check.labels or tuple(f"{v:g}" for v in check.x)
            ax.set_xticks(pos, ticks, rotation=20, ha="right", fontsize=8)
        ax.set(xlabel=check.x_label, ylabel=check.y_label)
        ax.legend(fontsize=8)
    fig.suptitle(check.title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def _fmt(v: float) -> str:
    return "" if not np.isfinite(v) else f"{v:.4g}"


def write_report(checks: Sequence[Check], seconds: Sequence[float], out: Path) -> Path:
    """Write ``out/validation.md`` and ``out/figures/validation/<key>.png``."""
    figures = out / "figures" / "validation"
    figures.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Validation report",
        "",
        "Generated by `python -m sim.validation --out docs` (`make validate`); every number and "
        "figure below comes from that run. The checks are the functions of `sim/validation.py`, "
        "the same ones the tests (`tests/test_theory.py`, `tests/test_meanfield.py`, "
        "`tests/test_stylized_facts.py`) assert on. Error bars are 95 % (1.96 standard errors) "
        f"unless stated; theory tolerances are {Z_TOL:g} Monte Carlo standard errors.",
        "",
        f"**{sum(c.passed for c in checks)} of {len(checks)} checks pass** "
        f"(total {sum(seconds):.0f} s).",
        "",
        "| check | group | claim | tolerance | measured | result | time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for check, sec in zip(checks, seconds, strict=True):
        verdict = "pass" if check.passed else "**FAIL**"
        lines.append(
            f"| [{_cell(check.title)}](#{check.key}) | {check.group} | {_cell(check.claim)} | "
            f"{_cell(check.tolerance)} | {_cell(check.measured)} | {verdict} | {sec:.1f} s |"
        )
    for check in checks:
        _figure(check, figures / f"{check.key}.png")
        lines += [
            "",
            f'<a id="{check.key}"></a>',
            f"## {check.title}",
            "",
            f"{check.claim}. Result: **{'pass' if check.passed else 'FAIL'}**. {check.detail}.",
            "",
            f"![{check.title}](figures/validation/{check.key}.png)",
            "",
            f"| point | {check.x_label or 'x'} | simulated | "
            f"{'standard error' if check.error_kind == 'se' else 'interval half-width'} | "
            "closed form | "
            f"{check.oracle_name or 'oracle'} |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        labels = check.labels or tuple("" for _ in check.x)
        for row in zip(
            labels, check.x, check.simulated, check.error, check.expected, check.oracle, strict=True
        ):
            label, *values = row
            lines.append(f"| {label} | " + " | ".join(_fmt(v) for v in values) + " |")
    path = out / "validation.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.validation",
        description="Run every validation check and write validation.md with its figures.",
    )
    parser.add_argument("--out", default="docs", help="output directory (default: docs)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"--out={args.out!r}: expected a directory", file=sys.stderr)
        return 2
    checks, seconds = [], []
    for make in ALL_CHECKS:
        start = time.perf_counter()
        check = make()
        seconds.append(time.perf_counter() - start)
        checks.append(check)
        print(f"{'pass' if check.passed else 'FAIL'}  {check.key}  ({seconds[-1]:.1f} s)")
    path = write_report(checks, seconds, out)
    print(f"wrote {path}")
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
