"""The validation checks: each runs a simulation and returns a :class:`Check` record.

Kinds of evidence and their pass rules
    *z-scores* (:func:`z_check`, the one place the rule is written). A check either claims
    agreement with a closed form, ``|z| <= Z_TOL`` for every point, with ``z`` the deviation in
    Monte Carlo standard errors (fixation, Hawk-Dove, stag hunt, logit QRE, Arthur lock-in, the
    mean field by segment ``meanfield_segments``, the mean-field slope), or claims an effect of
    a stated sign, ``z > z_crit`` for every effect (SF2 at 95 % two-sided, SF4 at 95 %
    one-sided, the peer-effect departures from the mean field ``peer_departure`` at
    ``z_crit = Z_TOL``).
    *Wilson bounds* (SF1, SF3): a share of seeds near 1 has no usable normal standard error, so
    these compare the one-sided 95 % Wilson lower bound with a threshold.
    *Oscillation range* (inspection game): fictitious play is deterministic, so its tolerance is
    the range of its own running frequency.

Every check draws from its own seeded generator (or fixed seed lists), so a record is the
same on every run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from sim import engine, meanfield
from sim.batch import run_batch
from sim.core import ALLOW, RESTRICT, Plan, segment_sizes
from sim.experiments.threshold import Z95  # two-sided 95 % normal quantile
from sim.experiments.threshold import wilson as wilson_interval  # Wilson score interval
from sim.games import MatrixGame, arthur_adoption, fixation_fraction, run_population, simulate
from sim.params import Params, load_scenario
from sim.phases import PHASES, phase_shares, run_phases
from sim.validation import oracles
from sim.validation.closed_forms import (
    arthur_lockin_probability,
    constant_advantage_fixation,
    hawk_dove,
    inspection_game,
    logit_equilibrium,
    quasi_stationary_mean,
    replicator_limit,
    tnp_fixation,
)

Float = NDArray[np.float64]

Z_TOL = 4.0  # tolerance in Monte Carlo standard errors for agreement with a closed form
Z95_ONE_SIDED = 1.6448536269514722


@dataclass(frozen=True)
class Check:
    """One validation check and its verdict.

    ``x``, ``simulated``, ``error``, ``expected`` (closed form) and ``oracle`` (an independent
    library, NaN where none) are aligned tuples, one entry per point compared. ``error`` is one
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


def _floats(values: ArrayLike) -> tuple[float, ...]:
    return tuple(float(v) for v in np.ravel(values))


def z_scores(estimate: ArrayLike, expected: ArrayLike, se: ArrayLike) -> Float:
    """Signed deviations ``(estimate - expected) / se`` (NaN or infinite where ``se == 0``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.subtract(estimate, expected, dtype=float) / np.asarray(se, dtype=float)


def z_check(
    z: ArrayLike,
    *,
    key: str,
    group: str,
    title: str,
    claim: str,
    tolerance: str,
    detail: str,
    x_label: str,
    y_label: str,
    x: ArrayLike,
    simulated: ArrayLike,
    error: ArrayLike,
    expected: ArrayLike | None = None,
    oracle: ArrayLike | None = None,
    oracle_name: str = "",
    above: float | None = None,
    also: bool = True,
    measured: str | None = None,
    labels: Sequence[str] = (),
    error_kind: str = "se",
    extra: dict[str, Any] | None = None,
) -> Check:
    """A :class:`Check` whose statistical verdict rests on the z-scores ``z``.

    Pass rule: with ``above=None`` (agreement with a closed form) every ``|z| <= Z_TOL``; with
    ``above=c`` (an effect of the claimed sign) every ``z > c``. A NaN z-score (no standard
    error) never passes. ``also`` carries the check's other, non-statistical requirements (an
    oracle's agreement, an ODE limit), which must hold as well. ``measured`` defaults to the
    worst ``|z|``. The remaining arguments are the record's fields; ``expected`` and ``oracle``
    default to NaN at every point.
    """
    scores = np.atleast_1d(np.asarray(z, dtype=float))
    if scores.size == 0:
        raise ValueError(f"{key}: expected at least one z-score")
    if above is None:
        statistical = bool(np.all(np.abs(scores) <= Z_TOL))
    else:
        statistical = bool(np.all(scores > above))
    points = len(np.ravel(x))
    missing = (float("nan"),) * points
    return Check(
        key=key,
        group=group,
        title=title,
        claim=claim,
        x_label=x_label,
        y_label=y_label,
        x=_floats(x),
        simulated=_floats(simulated),
        error=_floats(error),
        expected=missing if expected is None else _floats(expected),
        oracle=missing if oracle is None else _floats(oracle),
        oracle_name=oracle_name,
        tolerance=tolerance,
        passed=statistical and bool(also),
        measured=f"worst {np.abs(scores).max():.2f} SE" if measured is None else measured,
        detail=detail,
        labels=tuple(labels),
        error_kind=error_kind,
        extra={} if extra is None else extra,
    )


def _worst(z: Float) -> float:
    return float(np.abs(z).max())


def _binomial_se(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n)


# ---------------------------------------------------------------------------------------------
# Finite-population theory (Traulsen, Nowak & Pacheco 2006)


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
    also: tuple[str, bool] | None = None,
) -> Check:
    """Fixation of one mutant under Fermi imitation at each ``(mutant, beta)`` case vs TNP and
    egttools; ``also`` is a further named requirement reported in the detail."""
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
        oracle.append(oracles.egttools_fixation(A, size, beta, mutant))
        se.append(_binomial_se(p, trials))
        labels.append(f"mutant {mutant}, beta {beta:g}")
    z = z_scores(sim, expected, se)
    agree = bool(np.allclose(expected, oracle, rtol=1e-6, atol=1e-9))
    detail = f"Z = {size}; worst deviation {_worst(z):.2f} SE; egttools agrees: {agree}"
    if also is not None:
        detail += f"; {also[0]}: {also[1]}"
    return z_check(
        z,
        key=key,
        group="theory",
        title=title,
        claim=claim,
        tolerance=f"|sim - TNP| <= {Z_TOL:g} SE ({trials} trials/point); egttools = TNP to 1e-6",
        detail=detail,
        x_label=x_label,
        y_label="fixation probability",
        x=[b for _, b in cases],
        simulated=sim,
        error=se,
        expected=expected,
        oracle=oracle,
        oracle_name="egttools StochDynamics",
        also=agree and (also is None or also[1]),
        labels=labels,
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
    """Constant fitness difference ``s``: ``phi = (1 - e^{-beta s}) / (1 - e^{-beta s Z})``;
    TNP's product formula must reduce to it."""
    A = np.array([[1.0, 1.0], [1.0 + advantage, 1.0 + advantage]])
    size, betas = 20, (0.0, 1.0, 5.0)
    closed = [constant_advantage_fixation(advantage, size, b) for b in betas]
    product = [tnp_fixation(A, size, b, mutant=1) for b in betas]
    same = bool(np.allclose(closed, product, rtol=1e-9))
    return _fixation_check(
        "fixation_constant",
        "Fermi imitation: fixation with a constant fitness advantage",
        "phi = (1 - exp(-beta s)) / (1 - exp(-beta s Z)) (TNP 2006), 1/Z when neutral",
        A,
        size,
        [(1, b) for b in betas],
        trials,
        seed,
        f"selection intensity beta (s = {advantage:g})",
        also=("product formula = constant-advantage closed form", same),
    )


# ---------------------------------------------------------------------------------------------
# Replicator, logit and fictitious play


def check_hawk_dove(size: int = 50, runs: int = 64, seed: int = 21, beta: float = 1.0) -> Check:
    """Hawk share under Fermi imitation vs the rest point ``V/C``."""
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
        expected.append(quasi_stationary_mean(A, size, beta))
        mixed = [r for r, _ in oracles.nashpy_equilibria(A, A.T) if 0 < r[0] < 1]
        oracle.append(float(mixed[0][0]))
        ode.append(replicator_limit(A, 0.9))
        zero_drift.append(value / cost + 1.0 / size)
        labels.append(f"V={value:g}, C={cost:g}")
    rest = np.array([v / c for v, c in cases])
    z = z_scores(sim, expected, se)
    ok_oracle = np.allclose(oracle, rest, atol=1e-9) and np.allclose(ode, rest, atol=1e-6)
    return z_check(
        z,
        key="hawk_dove",
        group="theory",
        title="Hawk-Dove: interior rest point V/C",
        claim="long-run hawk share = quasi-stationary mean of the finite chain -> V/C "
        "(nashpy mixed equilibrium, replicator ODE limit)",
        tolerance=f"|sim - quasi-stationary mean| <= {Z_TOL:g} SE ({runs} runs); nashpy and "
        "the replicator ODE (SciPy) at V/C to 1e-6",
        detail=f"Z = {size}, beta = {beta:g}; worst {_worst(z):.2f} SE; replicator limits "
        f"{', '.join(f'{v:.6f}' for v in ode)}; finite-Z zero-drift point V/C + 1/Z = "
        f"{', '.join(f'{v:.3f}' for v in zero_drift)}",
        x_label="V/C",
        y_label="hawk share",
        x=rest,
        simulated=sim,
        error=se,
        expected=expected,
        oracle=oracle,
        oracle_name="nashpy support enumeration",
        also=bool(ok_oracle),
        labels=labels,
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
    above = replicator_limit(STAG_HUNT, boundary + 0.01)
    below = replicator_limit(STAG_HUNT, boundary - 0.01)
    grid = np.arange(1, size)
    phi = np.array([tnp_fixation(STAG_HUNT, size, beta, 0, int(k)) for k in grid])
    half = float(np.interp(0.5, phi, grid) / size)
    z = z_scores(sim, expected, se)
    return z_check(
        z,
        key="stag_hunt",
        group="theory",
        title="Stag hunt: basin boundary (d-b)/(a-b-c+d)",
        claim="P(stag takes over | initial stag share) = TNP phi_k; the replicator (SciPy) "
        "flows to all-stag above the boundary and all-hare below",
        tolerance=f"|sim - phi_k| <= {Z_TOL:g} SE ({trials} trials/point); replicator from "
        "boundary +/- 0.01 ends within 1e-6 of 1 and 0",
        detail=f"boundary {boundary:.3f}; replicator from +/-0.01: {above:.6f} / {below:.6f}; "
        f"finite population (Z = {size}, beta = {beta:g}): phi = 1/2 at share {half:.3f}; "
        f"worst {_worst(z):.2f} SE",
        x_label="initial stag share",
        y_label="P(stag takes over)",
        x=np.array(starts) / size,
        simulated=sim,
        error=se,
        expected=expected,
        also=above > 1 - 1e-6 and below < 1e-6,
        extra={"boundary": boundary, "phi_curve": (grid / size).tolist(), "phi": phi.tolist()},
    )


QRE_GAME = (np.array([[4.0, 0.0], [1.0, 2.0]]), np.array([[1.0, 3.0], [2.0, 0.0]]))


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
        gambit = oracles.gambit_logit_qre(A, B, lam)
        for pop, name in enumerate(("row", "column")):
            per_run = counts[pop][:, :, 0].mean(axis=1) / size
            sim.append(per_run.mean())
            se.append(per_run.std(ddof=1) / math.sqrt(runs))
            expected.append(qre[pop])
            oracle.append(gambit[pop])
            x.append(lam)
            labels.append(f"{name}, lambda {lam:g}")
    z = z_scores(sim, expected, se)
    agree = bool(np.allclose(expected, oracle, atol=1e-6))
    return z_check(
        z,
        key="logit_qre",
        group="theory",
        title="Logit rule: large-population average = logit QRE",
        claim="long-run share of strategy 0 in each population = logit QRE (fixed point "
        "solved with SciPy; pygambit logit_solve_lambda)",
        tolerance=f"|sim - QRE| <= {Z_TOL:g} SE ({runs} runs, Z = {size}); pygambit = SciPy "
        "fixed point to 1e-6",
        detail=f"A = {A.tolist()}, B = {B.tolist()}; worst {_worst(z):.2f} SE; pygambit "
        f"agrees: {agree}",
        x_label="rationality lambda",
        y_label="share of strategy 0",
        x=x,
        simulated=sim,
        error=se,
        expected=expected,
        oracle=oracle,
        oracle_name="pygambit logit QRE",
        also=agree,
        labels=labels,
    )


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


def check_inspection(steps: int = 8_000, seed: int = 51) -> Check:
    """Fictitious play in the inspection game vs ``h/a`` and ``g/(g+p)``, and the comparative
    static in the penalty (Tsebelis 1990).

    Not a z-score check: fictitious play is deterministic (up to ties), so the tolerance is its
    own oscillation, the range of the running frequency over the second half of the run.
    """
    base = load_scenario("seed")
    gain, cost, loss = 6.0, base.home_enforcement_cost, base.home_security_weight
    penalties = (base.home_fine, 2 * base.home_fine)
    x, sim, err, expected, oracle, labels, qe, widths = [], [], [], [], [], [], [], []
    ok = True
    for penalty in penalties:
        game = inspection_game(gain, penalty, cost, loss)
        violate, inspect = _fp_frequencies(game, steps, seed)
        assert game.B is not None
        (eq_row, eq_col), *_ = oracles.nashpy_equilibria(game.A, game.B)
        theory = (cost / loss, gain / (gain + penalty))
        lib = (float(eq_row[1]), float(eq_col[0]))
        qe_pair = oracles.quantecon_fictitious_play(game, steps)
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
        x=_floats(x),
        simulated=_floats(sim),
        error=_floats(err),
        expected=_floats(expected),
        oracle=_floats(oracle),
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
    z = z_scores(sim, expected, se)
    return z_check(
        z,
        key="arthur",
        group="theory",
        title="Increasing-returns adoption: lock-in (Arthur 1989)",
        claim="probability technology A locks in = gambler's-ruin closed form of Arthur's "
        "absorbing random walk",
        tolerance=f"|sim - closed form| <= {Z_TOL:g} SE ({trials} trials/point)",
        detail=f"R-type probability {r_probability:g}; barriers at lead +3 / -3; worst "
        f"{_worst(z):.2f} SE",
        x_label="initial lead n_A - n_B",
        y_label="P(A locks in)",
        x=leads,
        simulated=sim,
        error=se,
        expected=expected,
    )


# ---------------------------------------------------------------------------------------------
# Mean field vs the agent-based model


def fixed_strategy_params(n_enterprises: int, **changes: Any) -> Params:
    """The seed scenario with every strategic choice frozen at the seed's long-run outcome
    (direct lab restricts from step 0, partner cloud allows, governments allow, controls off),
    so that the enterprises' draws are the only noise left; ``changes`` are further overrides
    by name (``peer_effect``, ``network.kind``, ...). The seed's segments, spend sizes, tastes
    and capability dynamics are kept."""
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
        **changes,
    )


@dataclass(frozen=True)
class MeanFieldPath:
    """A mean-field trajectory with its per-segment shares: ``model`` (one row per step, as
    :func:`sim.meanfield.trajectory`), ``segment_domestic`` ``(T + 1, S)`` the expected share of
    each segment's members on a domestic provider, ``members`` ``(S,)`` the segments' sizes."""

    model: pd.DataFrame
    segment_domestic: Float
    members: NDArray[np.int64]

    def binomial_sd(self, step: int) -> float:
        """Across-seed standard deviation of the domestic share if enterprises chose
        independently with their segment's expected probabilities: ``sqrt(sum_s n_s p_s
        (1 - p_s)) / N``. Tastes are redrawn with each seed, so each enterprise's chance is its
        segment's; the capability feedback that couples them is ignored."""
        p = self.segment_domestic[step]
        return float(np.sqrt((self.members * p * (1.0 - p)).sum()) / self.members.sum())


def meanfield_path(params: Params, steps: int) -> MeanFieldPath:
    """:func:`sim.meanfield.trajectory` with each segment's expected domestic share (the mean
    field keeps one share vector per class, a segment and a taste node)."""
    plan = Plan.from_params(params)
    core = plan.first
    classes = meanfield.Classes.of(core)
    members = segment_sizes(core.segment_share, params.n_enterprises)
    ms = meanfield.initial_mean_state(params)
    rows, by_segment = [], []
    for t in range(steps + 1):
        if t:
            ms = meanfield.step(plan, ms)
        rows.append({"step": ms.t, **meanfield.observe(plan, ms)})
        counts = np.zeros((core.n_segments, core.n_options))
        np.add.at(counts, classes.segment, ms.shares * classes.weight[:, None])
        within = counts / counts.sum(-1, keepdims=True)
        by_segment.append((within[:, :-1] * plan.core_at(ms.t).domestic).sum(-1))
    return MeanFieldPath(pd.DataFrame(rows), np.array(by_segment), members)


def _per_seed(frame: pd.DataFrame, column: str, index: str = "run") -> pd.DataFrame:
    """``(runs, steps)`` table of ``column`` (or ``(runs x segments, steps)`` with a segment
    index)."""
    return frame.pivot_table(index=index, columns="step", values=column, aggfunc="first")


def check_meanfield_segments(
    n_seeds: int = 400,
    n_enterprises: int = 2000,
    steps: int = 60,
    at: Sequence[int] = (10, 30, 60),
) -> Check:
    """Mean field by segment without peer effects: the across-seed mean of the domestic share,
    of every segment's domestic share and of the local agreement equals the mean field within
    Monte Carlo error at several steps (strategies and policies fixed, the seed's segments,
    spend sizes, tastes, network and capability dynamics, ``peer_effect = 0``)."""
    params = fixed_strategy_params(n_enterprises, peer_effect=0.0)
    mf = meanfield_path(params, steps)
    result = run_batch(params, list(range(n_seeds)), steps, record_every=5)
    names = [s.name for s in params.resolved_segments()]
    total = _per_seed(result.model, "domestic_share")
    agree = _per_seed(result.model, "local_agreement")
    seg = result.segments
    x, sim, se, expected, labels = [], [], [], [], []
    for t in at:
        for label, values, closed in (
            ("all", total[t], mf.model.domestic_share[t]),
            *(
                (name, seg[(seg.step == t) & (seg.segment == s)].domestic_share.to_numpy(), p)
                for s, (name, p) in enumerate(zip(names, mf.segment_domestic[t], strict=True))
            ),
            ("local agreement", agree[t], mf.model.local_agreement[t]),
        ):
            values = np.asarray(values, dtype=float)
            x.append(t)
            sim.append(values.mean())
            se.append(values.std(ddof=1) / math.sqrt(n_seeds))
            expected.append(closed)
            labels.append(f"{label}, step {t}")
    z = z_scores(sim, expected, se)
    final = steps
    sd, binomial = float(total[final].std(ddof=1)), mf.binomial_sd(final)
    curves = {
        "steps": [int(c) for c in total.columns],
        "abm_mean": total.mean().tolist(),
        "abm_se": (total.std(ddof=1) / math.sqrt(n_seeds)).tolist(),
        "mf": mf.model.domestic_share.tolist(),
        "segment_names": names,
        "segment_abm": [
            seg[seg.segment == s].groupby("step").domestic_share.mean().tolist()
            for s in range(len(names))
        ],
        "segment_mf": mf.segment_domestic.T.tolist(),
    }
    return z_check(
        z,
        key="meanfield_segments",
        group="mean field",
        title="Mean field by segment, no peer effects: agreement with the ABM",
        claim="without peer effects the mean field is exact in expectation: the across-seed "
        "mean of the domestic share, of each segment's domestic share and of the local "
        "agreement equals it at every step checked",
        tolerance=f"|ABM mean - mean field| <= {Z_TOL:g} SE ({n_seeds} seeds) at every point",
        detail=f"{n_seeds} seeds, N = {n_enterprises}, the seed's five segments, spend sizes, "
        "tastes (4 Gauss-Hermite nodes per taste kind in the mean field), block network and "
        "capability dynamics, peer_effect = 0; direct lab restricts and partner allows from "
        f"step 0, governments fixed; worst {_worst(z):.2f} SE; across-seed SD of the domestic "
        f"share at step {final} {sd:.4f} against the independent-enterprise (binomial) "
        f"{binomial:.4f} (ratio {sd / binomial:.3f})",
        x_label="step (month)",
        y_label="share",
        x=x,
        simulated=sim,
        error=se,
        expected=expected,
        labels=labels,
        extra={"curves": curves, "sd": sd, "binomial_sd": binomial},
    )


def _log_sd_ratio(values: Float, reference: float) -> tuple[float, float]:
    """``log(s / reference)`` for the sample SD ``s`` of ``values`` and its standard error by
    the delta method from the fourth moment (no normality assumed):
    ``SE(s^2) = sqrt((m4 - s^4) / n)``, ``SE(log s) = SE(s^2) / (2 s^2)``."""
    centred = values - values.mean()
    var = float(centred.var(ddof=1))
    m4 = float((centred**4).mean())
    se_var = math.sqrt(max(m4 - var * var, 0.0) / len(values))
    return 0.5 * math.log(var / reference**2), se_var / (2.0 * var)


@dataclass(frozen=True)
class _PeerRun:
    """One configuration of the departure experiment: per-seed series and the mean field."""

    label: str
    peer: float
    network: str
    domestic: pd.DataFrame  # (runs, steps)
    agreement: pd.DataFrame
    hhi: pd.DataFrame
    mf: MeanFieldPath


def _peer_run(
    label: str, peer: float, network: dict[str, Any], n: int, seeds: list[int], steps: int
) -> _PeerRun:
    params = fixed_strategy_params(n, peer_effect=peer, **network)
    model = run_batch(params, seeds, steps, record_every=5).model
    return _PeerRun(
        label,
        peer,
        str(network.get("network.kind", params.network.kind)),
        _per_seed(model, "domestic_share"),
        _per_seed(model, "local_agreement"),
        _per_seed(model, "hhi"),
        meanfield_path(params, steps),
    )


def check_peer_departure(
    n_seeds: int = 300,
    n_enterprises: int = 2000,
    steps: int = 60,
    at: Sequence[int] = (30, 60),
    peer: float = 0.1,
    strong: float = 0.3,
    clustering: float = 0.5,
) -> Check:
    """Where the ABM departs from the mean field: peer effects on a clustered network.

    With the seed's peer effect on a clustered small world (and on the seed's block network),
    the across-seed mean of the domestic share departs from the mean field by more than Monte
    Carlo error, the across-seed spread exceeds the independent-enterprise (binomial) spread,
    and neighbours agree more than the mixing closure says. With a strong peer effect the
    closure predicts that each segment coordinates on one provider, while on the network
    clusters hold out on others: the ABM's concentration (HHI) stays below the mean field's.
    Strategies and policies are fixed, so only the enterprise side is stochastic.
    """
    seeds = list(range(n_seeds))
    small_world = {"network.kind": "small_world", "network.clustering": clustering}
    runs = {
        "reference": _peer_run(
            "small world, no peers", 0.0, small_world, n_enterprises, seeds, steps
        ),
        "small world": _peer_run(
            f"small world, peer {peer:g}", peer, small_world, n_enterprises, seeds, steps
        ),
        "block": _peer_run(
            f"seed block network, peer {peer:g}", peer, {}, n_enterprises, seeds, steps
        ),
        "strong": _peer_run(
            f"small world, peer {strong:g}", strong, small_world, n_enterprises, seeds, steps
        ),
    }
    root = math.sqrt(n_seeds)
    x, sim, se, expected, labels, z, notes = [], [], [], [], [], [], []
    final = steps

    def add(label: str, t: int, value: float, error: float, closed: float, score: float) -> None:
        x.append(t)
        sim.append(value)
        se.append(error)
        expected.append(closed)
        labels.append(label)
        z.append(score)

    for key in ("small world", "block"):
        run = runs[key]
        for t in at:
            values = run.domestic[t]
            mean, error = float(values.mean()), float(values.std(ddof=1)) / root
            closed = float(run.mf.model.domestic_share[t])
            add(
                f"{key}: domestic share, step {t}",
                t,
                mean,
                error,
                closed,
                abs(mean - closed) / error,
            )
        for t in at:
            values = run.agreement[t]
            mean, error = float(values.mean()), float(values.std(ddof=1)) / root
            closed = float(run.mf.model.local_agreement[t])
            add(
                f"{key}: local agreement, step {t}", t, mean, error, closed, (mean - closed) / error
            )
        binomial = run.mf.binomial_sd(final)
        log_ratio, log_se = _log_sd_ratio(run.domestic[final].to_numpy(), binomial)
        sd = float(run.domestic[final].std(ddof=1))
        add(
            f"{key}: SD of domestic share, step {final}",
            final,
            sd,
            sd * log_se,
            binomial,
            log_ratio / log_se,
        )
        gap = float(run.domestic[final].mean() - run.mf.model.domestic_share[final])
        notes.append(
            f"{run.label}: domestic share {gap:+.4f} against the mean field at step {final}, "
            f"SD {sd:.4f} = {math.exp(log_ratio):.2f} x binomial {binomial:.4f}, agreement "
            f"{run.agreement[final].mean():.3f} against the closure's "
            f"{run.mf.model.local_agreement[final]:.3f}"
        )
    strong_run = runs["strong"]
    values = strong_run.hhi[final]
    mean, error = float(values.mean()), float(values.std(ddof=1)) / root
    closed = float(strong_run.mf.model.hhi[final])
    add(f"peer {strong:g}: HHI, step {final}", final, mean, error, closed, (closed - mean) / error)
    notes.append(
        f"{strong_run.label}: HHI {mean:.3f} against the mean field's {closed:.3f} (clusters hold "
        f"out on other providers), agreement {strong_run.agreement[final].mean():.3f} against the "
        f"closure's {strong_run.mf.model.local_agreement[final]:.3f}"
    )
    reference = runs["reference"]
    ref_sd = float(reference.domestic[final].std(ddof=1))
    ref_binomial = reference.mf.binomial_sd(final)
    ref_gap = float(reference.domestic[final].mean() - reference.mf.model.domestic_share[final])
    ref_agree_z = float(
        (reference.agreement[final].mean() - reference.mf.model.local_agreement[final])
        / (reference.agreement[final].std(ddof=1) / root)
    )
    notes.append(
        f"reference ({reference.label}): domestic share {ref_gap:+.4f} "
        f"({ref_gap / (ref_sd / root):+.1f} SE), SD {ref_sd:.4f} = {ref_sd / ref_binomial:.2f} x "
        f"binomial, agreement {ref_agree_z:+.1f} SE from the closure"
    )
    extra = {
        "final": final,
        "runs": {
            key: {
                "label": run.label,
                "steps": [int(c) for c in run.domestic.columns],
                "final_domestic": run.domestic[final].tolist(),
                "mf_final_domestic": float(run.mf.model.domestic_share[final]),
                "binomial_sd": run.mf.binomial_sd(final),
                "agreement_mean": run.agreement.mean().tolist(),
                "mf_agreement": run.mf.model.local_agreement.tolist(),
                "hhi_mean": run.hhi.mean().tolist(),
                "mf_hhi": run.mf.model.hhi.tolist(),
            }
            for key, run in runs.items()
        },
    }
    return z_check(
        z,
        above=Z_TOL,
        key="peer_departure",
        group="mean field",
        title="Peer effects on a clustered network: where the ABM departs from the mean field",
        claim=f"with the seed's peer effect ({peer:g}) on a clustered small world and on the "
        "seed's block network, the across-seed mean departs from the mean field, the spread "
        "exceeds the binomial spread and neighbours agree more than the mixing closure says; "
        f"with a strong peer effect ({strong:g}) clusters hold out and the ABM is less "
        "concentrated than the mean field",
        tolerance=f"every effect > {Z_TOL:g} SE ({n_seeds} seeds): |mean - mean field|, "
        "log(SD / binomial SD) (SE by the delta method from the fourth moment), agreement - "
        "closure, mean-field HHI - ABM HHI",
        detail=f"{n_seeds} seeds, N = {n_enterprises}, small world of mean degree 8 and "
        f"clustering {clustering:g}; strategies and policies fixed (direct lab restricts, "
        "partner allows, from step 0); " + "; ".join(notes),
        x_label="step (month)",
        y_label="measured vs mean field",
        x=x,
        simulated=sim,
        error=se,
        expected=expected,
        labels=labels,
        measured=f"smallest effect {min(z):.1f} SE",
        extra=extra,
    )


def check_meanfield_scaling(
    sizes: Sequence[int] = (250, 1000, 4000, 16000), runs: int = 24, steps: int = 60
) -> Check:
    """RMS distance of single ABM runs from the mean-field trajectory (domestic share) at
    several enterprise counts; slope of log distance on log N vs the expected -1/2."""
    gap, gap_se = [], []
    mean_abs, mf_curve, abm_curves = [], None, []
    for n in sizes:
        params = fixed_strategy_params(n, peer_effect=0.0)
        mf = meanfield.trajectory(params, steps)["domestic_share"].to_numpy()
        abm = run_batch(params, list(range(runs)), steps).model
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
    shrinking = all(g2 < g1 for g1, g2 in itertools.pairwise(gap))
    assert mf_curve is not None
    return z_check(
        z_scores(slope, -0.5, slope_se),
        key="meanfield_scaling",
        group="mean field",
        title="Mean field vs ABM: distance shrinks as 1/sqrt(N)",
        claim="RMS distance of an ABM run's domestic share from the mean-field trajectory "
        "falls as N^(-1/2) (strategies fixed; only enterprise noise)",
        tolerance=f"fitted slope within {Z_TOL:g} SE of -1/2 (weighted least squares, SE by "
        f"the delta method over {runs} runs per N); distance falls at every step up in N",
        detail=f"slope {slope:.3f} +/- {slope_se:.3f} (expected -0.5); max |run average - "
        f"mean field| over time: {', '.join(f'{v:.4f}' for v in mean_abs)}",
        x_label="enterprises N",
        y_label="RMS distance from mean field",
        x=sizes,
        simulated=gap,
        error=np.array(gap) * np.array(gap_se),
        expected=np.exp(intercept) * np.asarray(sizes, float) ** -0.5,
        also=shrinking,
        measured=f"slope {slope:.3f} +/- {slope_se:.3f}",
        extra={
            "slope": float(slope),
            "slope_se": slope_se,
            "mf_curve": mf_curve.tolist(),
            "abm_curves": abm_curves,
        },
    )


# ---------------------------------------------------------------------------------------------
# Stylized facts (model brief), over seeds


def check_sf1_divergence(
    n_seeds: int = 200, n_enterprises: int = 1000, horizons: Sequence[int] = (24, 120, 240)
) -> Check:
    """SF1: direct lab restricting and partner cloud allowing, in most seeds, at every horizon.

    Not a z-score check: the share of seeds is close to 1, where the normal standard error
    degenerates, so the verdict uses the Wilson score bound at each horizon.
    """
    params = load_scenario("seed").replace(n_enterprises=n_enterprises)
    steps = max(horizons)
    every = math.gcd(*horizons)
    providers = run_batch(params, list(range(n_seeds)), steps, record_every=every).providers
    shares, lows, highs, parts = [], [], [], []
    for t in horizons:
        at = providers[providers.step == t]
        strategy = at.pivot(index="run", columns="name", values="strategy")
        direct = strategy["direct-lab"] == "restrict"
        partner = strategy["partner-cloud"] == "allow"
        hits = int((direct & partner).sum())
        low, high = wilson_interval(hits, n_seeds, Z95_ONE_SIDED)
        shares.append(hits / n_seeds)
        lows.append(low)
        highs.append(high)
        parts.append(
            f"month {t}: {hits}/{n_seeds} (lower bound {low:.3f}; direct restricts in "
            f"{direct.mean():.3f}, partner allows in {partner.mean():.3f})"
        )
    return Check(
        key="sf1_divergence",
        group="stylized fact",
        title="SF1 divergence",
        claim="direct lab ends restricting while the partner cloud ends allowing, at every horizon",
        x_label="month",
        y_label="share of seeds",
        x=_floats(horizons),
        simulated=_floats(shares),
        error=_floats((np.array(highs) - np.array(lows)) / 2),  # one-sided 95 % each way
        expected=(0.8,) * len(horizons),
        oracle=(float("nan"),) * len(horizons),
        oracle_name="",
        tolerance="one-sided 95 % Wilson lower bound of the share of seeds > 0.8 at each horizon",
        passed=all(low > 0.8 for low in lows),
        measured=", ".join(
            f"{round(sh * n_seeds)}/{n_seeds} at {t}"
            for sh, t in zip(shares, horizons, strict=True)
        )
        + f"; lowest bound {min(lows):.3f}",
        error_kind="interval",
        detail=f"the seed scenario as shipped, N = {n_enterprises}: " + "; ".join(parts),
        labels=tuple(f"month {t}" for t in horizons),
        extra={"lower": lows, "upper": highs},
    )


def _mean_ci(diff: Float) -> tuple[float, float, float, float]:
    """Mean of paired differences, its two-sided 95 % normal interval and standard error."""
    mean, sd, root = float(diff.mean()), float(diff.std(ddof=1)), math.sqrt(len(diff))
    half = Z95 * sd / root
    return mean, mean - half, mean + half, sd / root


def check_sf2_backfire(
    n_seeds: int = 100,
    n_enterprises: int = 1000,
    steps: int = 120,
    at: Sequence[int] = (24, 60, 120),
) -> Check:
    """SF2: a home mandate raises the domestic share and closes the gap faster (paired seeds;
    each mean difference's 95 % normal interval must exclude 0 on the claimed side), at each
    of several horizons."""
    seeds = list(range(n_seeds))
    frames = {}
    for name in ("seed", "mandate"):
        params = load_scenario(name).replace(n_enterprises=n_enterprises)
        frames[name] = run_batch(params, seeds, steps, record_every=math.gcd(*at, 10)).model
    effects, halves, ses, labels, parts = [], [], [], [], []
    for kind, column, sign in (
        ("domestic share", "domestic_share", 1),
        ("gap closed", "capability_gap", -1),
    ):
        for t in at:
            values = {k: f[f.step == t].set_index("run")[column] for k, f in frames.items()}
            diff = (sign * (values["mandate"] - values["seed"])).to_numpy()
            mean, low, high, se = _mean_ci(diff)
            effects.append(mean)
            halves.append((high - low) / 2)
            ses.append(se)
            labels.append(f"{kind}, month {t}")
            if kind == "gap closed":
                seed_gap = float(values["seed"].mean())
                parts.append(
                    f"month {t}: gap {seed_gap:.4f} without, {float(values['mandate'].mean()):.4f} "
                    f"with the mandate ({mean / seed_gap:.1%} of the gap)"
                )
    curves = {
        k: f.groupby("step")[["domestic_share", "capability_gap"]].agg(["mean", "sem"])
        for k, f in frames.items()
    }
    n_at = len(at)
    return z_check(
        z_scores(effects, 0.0, ses),
        above=Z95,
        key="sf2_backfire",
        group="stylized fact",
        title="SF2 substitution backfire",
        claim="mandate minus no mandate, at each horizon: domestic share higher, capability "
        "gap smaller",
        tolerance="95 % confidence interval of each mean difference (over paired seeds) excludes 0",
        detail=f"{n_seeds} paired seeds, N = {n_enterprises}; domestic share "
        + ", ".join(
            f"{e:+.3f} +/- {h:.3f}" for e, h in zip(effects[:n_at], halves[:n_at], strict=True)
        )
        + "; gap closed by "
        + ", ".join(
            f"{e:.4f} +/- {h:.4f}" for e, h in zip(effects[n_at:], halves[n_at:], strict=True)
        )
        + f" at months {', '.join(map(str, at))}; "
        + "; ".join(parts),
        x_label="",
        y_label="difference (mandate vs seed)",
        x=np.arange(len(effects), dtype=float),
        simulated=effects,
        error=halves,
        expected=np.zeros(len(effects)),
        measured="share "
        + ", ".join(f"{e:+.3f}" for e in effects[:n_at])
        + "; gap -"
        + ", -".join(f"{e:.4f}" for e in effects[n_at:]),
        labels=labels,
        error_kind="interval",
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


SF3_PHASES = ("all-allow", "divergence", "all-restrict")  # the phases SF3 claims exist


def check_sf3_phases(
    n_seeds: int = 20,
    n_enterprises: int = 500,
    steps: int = 60,
    values: Sequence[float] = (10, 30, 100, 300, 1000),
    penalties: Sequence[float] = (0, 10, 40, 80, 160),
) -> Check:
    """SF3: sweeping expected penalty ``e f`` against market value ``V`` (home government fixed
    to restrict, ``e = 1`` so ``f`` is the expected penalty) gives an all-allow, a divergence
    and an all-restrict region. Each seed's phase comes from :mod:`sim.phases`.

    Not a z-score check: the witness shares are near 1, so the verdict uses Wilson bounds.
    """
    base = load_scenario("seed").replace(
        n_enterprises=n_enterprises, home_rule="fixed", home_policy="restrict", home_enforcement=1.0
    )
    channels = [p.channel for p in base.providers]
    seeds = list(range(n_seeds))
    phase_share = np.zeros((len(values), len(penalties), len(PHASES)))
    blocked = np.zeros((len(values), len(penalties)))
    for i, value in enumerate(values):
        for j, penalty in enumerate(penalties):
            params = base.replace(market_value=float(value), home_fine=float(penalty))
            result = run_batch(params, seeds, steps, final_only=True)
            providers = result.providers
            allows = providers.pivot(index="run", columns="provider", values="strategy") == "allow"
            phase_share[i, j] = phase_shares(run_phases(allows.to_numpy(), channels))
            blocked[i, j] = result.model.rival_restricts.mean()
    block_cells = [
        f"V = {values[i]:g}, e f = {penalties[j]:g} ({blocked[i, j]:.2f})"
        for i, j in zip(*np.nonzero(blocked > 0.5), strict=True)
    ]
    witnesses = []
    for name in SF3_PHASES:
        k = PHASES.index(name)
        flat = int(np.argmax(phase_share[..., k]))
        i, j = divmod(flat, len(penalties))
        hits = round(float(phase_share[i, j, k]) * n_seeds)
        low = wilson_interval(hits, n_seeds, Z95_ONE_SIDED)[0]
        witnesses.append((name, values[i], penalties[j], hits, low))
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
        + f"; N = {n_enterprises}, step {steps}. The rival government blocks in more than "
        "half of the seeds (all-restrict: once both providers have left, blocking costs it "
        "nothing, and it keeps the block) in the cells "
        + ("; ".join(block_cells) if block_cells else "none"),
        labels=SF3_PHASES,
        extra={
            "values": list(values),
            "penalties": list(penalties),
            "phase_share": phase_share.tolist(),
            "rival_blocks": blocked.tolist(),
            "lower_bounds": [w[4] for w in witnesses],
        },
    )


def _shifted_domestic(params: Params, gap: float) -> Params:
    """``params`` with every domestic provider's initial quality moved by the same amount so
    that the best one starts ``gap`` below the frontier (capped at the frontier)."""
    best = max(p.quality for p in params.providers if p.channel == "domestic")
    shift = (1.0 - gap) - best
    providers = tuple(
        p.replace(quality=min(1.0, max(0.0, p.quality + shift))) if p.channel == "domestic" else p
        for p in params.providers
    )
    return params.replace(providers=providers)


def rival_block_value(params: Params, gap: float, strategies: dict[str, str]) -> float:
    """``W_rival(RESTRICT) - W_rival(ALLOW)`` (:func:`sim.engine.rival_payoffs`) at step 0's
    prices with the domestic qualities shifted to a best gap of ``gap`` and the foreign
    providers playing ``strategies`` (name -> allow/restrict). It does not depend on the
    enterprises' draws (the rival weighs long-run logit shares)."""
    shifted = _shifted_domestic(params, gap)
    shifted = shifted.replace(
        n_enterprises=10,
        **{f"{name}.initial_strategy": value for name, value in strategies.items()},
    )
    plan = Plan.from_params(shifted)
    state = engine.initial_state(plan, [np.random.default_rng(0)], 1)
    values = engine.values_of(plan.first, state)
    w = engine.rival_payoffs(plan.first, state, values)[0, 0]
    return float(w[RESTRICT] - w[ALLOW])


def rival_block_threshold(
    params: Params, strategies: dict[str, str], high: float = 0.5, tol: float = 1e-6
) -> float:
    """The best-domestic gap below which blocking pays the rival (bisection on
    :func:`rival_block_value`, which falls as the gap widens); NaN if blocking pays at no gap
    in ``[0, high]`` or at every one."""
    low = 0.0
    if (
        rival_block_value(params, low, strategies) <= 0
        or rival_block_value(params, high, strategies) > 0
    ):
        return float("nan")
    while high - low > tol:
        mid = 0.5 * (low + high)
        if rival_block_value(params, mid, strategies) > 0:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


SF4_GAPS = (0.12, 0.09, 0.06, 0.03, 0.0)
"""Initial best-domestic gaps of SF4: from the seed's own (0.12) to the frontier in equal steps,
fixed before measuring (they bracket any threshold between 0 and the seed's gap)."""


def check_sf4_protection(
    n_seeds: int = 100,
    n_enterprises: int = 500,
    steps: int = 60,
    gaps: Sequence[float] = SF4_GAPS,
) -> Check:
    """SF4: the closer domestic quality starts to the frontier, the more the rival government
    blocks foreign services.

    Design: the domestic providers' initial qualities are shifted together so that the best
    one starts at each gap of ``gaps`` (from the seed's 0.12 to the frontier in equal steps,
    not chosen by outcome); the measure is each seed's share of months 1..``steps`` in which
    the rival blocks. The rival's static threshold (the best gap below which blocking pays it,
    :func:`rival_block_threshold`) is reported for the seed's long-run strategies (lab
    restricts, partner allows) and for both allowing. Two effects, each above the one-sided
    95 % quantile: the OLS slope of the block share on the initial gap is negative
    (heteroskedasticity-robust HC1 standard error), and levels starting below the long-run
    threshold block more than levels starting above it (Welch).
    """
    seed = load_scenario("seed")
    long_run = {"direct-lab": "restrict", "partner-cloud": "allow"}
    threshold = rival_block_threshold(seed, long_run)
    threshold_open = rival_block_threshold(seed, {"direct-lab": "allow", "partner-cloud": "allow"})
    seed_gap = 1.0 - max(p.quality for p in seed.providers if p.channel == "domestic")
    seeds = list(range(n_seeds))
    means, ses, per_level, mean_gap = [], [], [], []
    for gap in gaps:
        params = _shifted_domestic(seed, gap).replace(n_enterprises=n_enterprises)
        frame = run_batch(params, seeds, steps).model
        later = frame[frame.step > 0]
        block = later.groupby("run").rival_restricts.mean().to_numpy()
        per_level.append(block)
        means.append(block.mean())
        ses.append(block.std(ddof=1) / math.sqrt(n_seeds))
        mean_gap.append(float(later.capability_gap.mean()))
    x = np.repeat(np.asarray(gaps, float), n_seeds)
    y = np.concatenate(per_level)
    design = np.column_stack([np.ones_like(x), x])
    bread = np.linalg.inv(design.T @ design)
    coef = bread @ design.T @ y
    resid = y - design @ coef
    meat = design.T @ (design * resid[:, None] ** 2)
    hc1 = bread @ meat @ bread * len(y) / (len(y) - 2)
    slope, slope_se = float(coef[1]), math.sqrt(hc1[1, 1])
    below = np.concatenate([b for g, b in zip(gaps, per_level, strict=True) if g < threshold])
    above = np.concatenate([b for g, b in zip(gaps, per_level, strict=True) if g > threshold])
    if below.size and above.size:
        contrast = float(below.mean() - above.mean())
        contrast_se = math.sqrt(below.var(ddof=1) / below.size + above.var(ddof=1) / above.size)
    else:
        contrast, contrast_se = float("nan"), float("nan")
    levels = ", ".join(
        f"gap {g:.2f}: {m:.3f} +/- {s:.3f} (mean gap {mg:.3f})"
        for g, m, s, mg in zip(gaps, means, ses, mean_gap, strict=True)
    )
    return z_check(
        [-slope / slope_se, contrast / contrast_se],
        above=Z95_ONE_SIDED,
        key="sf4_protection",
        group="stylized fact",
        title="SF4 protection",
        claim="the closer domestic quality starts to the frontier, the more the rival "
        "government blocks foreign services",
        tolerance="one-sided 95 %: OLS slope of the block share on the initial gap < 0 (HC1 "
        "standard error), and levels starting below the rival's threshold block more than "
        "levels above it (Welch)",
        detail=f"levels: initial best-domestic gaps {', '.join(f'{g:g}' for g in gaps)}, from "
        f"the seed's {seed_gap:.2f} to the frontier in equal steps, fixed before measuring; "
        f"the rival blocks once the best gap is below {threshold:.4f} (its static threshold "
        f"with the lab restricting and the partner allowing; {threshold_open:.4f} with both "
        f"allowing; rival_control_value = {seed.rival_control_value:g}); {n_seeds} seeds per "
        f"level, N = {n_enterprises}, share of months 1-{steps} blocked: {levels}; slope "
        f"{slope:.2f} +/- {slope_se:.2f} per unit gap; below minus above the threshold "
        f"{contrast:+.3f} +/- {contrast_se:.3f}. The gap drifts back up towards its steady "
        "state (the mean gap over the months), so a block happens only if the rival revises "
        "while the gap is below the threshold; once the rival blocks, both providers leave and "
        "the block, which then costs nothing, stays",
        x_label="initial best-domestic capability gap",
        y_label="share of months the rival blocks",
        x=gaps,
        simulated=means,
        error=ses,
        measured=f"slope {slope:.2f} +/- {slope_se:.2f}; below - above threshold "
        f"{contrast:+.3f} +/- {contrast_se:.3f}",
        labels=tuple(f"gap {g:g}" for g in gaps),
        extra={
            "threshold": threshold,
            "threshold_open": threshold_open,
            "mean_gap": mean_gap,
            "slope": slope,
            "slope_se": slope_se,
            "contrast": contrast,
            "contrast_se": contrast_se,
        },
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
MEANFIELD_CHECKS: tuple[Callable[[], Check], ...] = (
    check_meanfield_scaling,
    check_meanfield_segments,
    check_peer_departure,
)
STYLIZED_CHECKS: tuple[Callable[[], Check], ...] = (
    check_sf1_divergence,
    check_sf2_backfire,
    check_sf3_phases,
    check_sf4_protection,
)
ALL_CHECKS = THEORY_CHECKS + MEANFIELD_CHECKS + STYLIZED_CHECKS
