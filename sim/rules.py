r"""Decision rules: pure, vectorized functions with an explicit random source.

Every rule sees the same thing: ``payoffs`` of shape ``(R, n, A)``, the payoff to each of ``n``
agents in each of ``R`` independent runs of each of its ``A`` actions, and ``current`` actions
``(R, n)`` (integers in ``0..A-1``). It returns new actions ``(R, n)`` (and, for the learning
rules, updated memory ``(R, n, A)``). Payoffs are in whatever unit the caller uses; the
rationality or intensity parameter is in the inverse of that unit.

``rng`` is a :class:`numpy.random.Generator` (draws cover the whole ``(R, n)`` block) or a
sequence of ``R`` generators, one per run (run ``r`` draws its ``(n,)`` block from ``rng[r]``),
so that a batch of runs reproduces each run alone value for value. Each rule draws a fixed
number of uniforms per call, independent of the payoffs.

Rules
    best_response    argmax_a payoffs; ties broken uniformly at random
    logit            P(a) = exp(lambda pi_a) / sum_b exp(lambda pi_b)     (McKelvey & Palfrey 1995)
    fermi            pick a random other agent m of the population; copy its action with
                     P = 1 / (1 + exp(-beta (pi_m - pi_i)))              (Traulsen et al. 2006)
                     with n = 1 the model is the agent's own other action (pairwise comparison)
    fictitious_play  best response to the running mean of observed payoff vectors; against an
                     opponent's play this is the best response to its empirical mixture (Brown 1951)
    roth_erev        propensities q <- (1 - phi) q + [a = current] (pi_current - min_b pi_b),
                     P(a) = q_a / sum_b q_b                               (Roth & Erev 1995)
    fixed            keep the current action (counterfactuals)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

RandomSource = np.random.Generator | Sequence[np.random.Generator]
Actions = NDArray[np.int8]
Float = NDArray[np.float64]

Rule = Literal["best_response", "logit", "fermi", "fictitious_play", "roth_erev", "fixed"]
RULES: tuple[str, ...] = get_args(Rule)
_TINY = 1e-12


def uniform(rng: RandomSource, shape: tuple[int, ...]) -> Float:
    """Uniforms on [0, 1) of ``shape``; with one generator per run, row ``r`` from ``rng[r]``."""
    if isinstance(rng, np.random.Generator):
        return rng.random(shape)
    if len(rng) != shape[0]:
        raise ValueError(f"rng: {len(rng)} generators for {shape[0]} runs; expected one per run")
    return np.stack([g.random(shape[1:]) for g in rng]) if shape[0] else np.zeros(shape)


def inverse_cdf(cdf: Float, u: Float) -> NDArray[np.intp]:
    """Index of the first entry of ``cdf`` ``(..., K)`` above ``u`` ``(...)``: a draw from the
    distribution whose cumulative sums ``cdf`` holds (clipped to ``K - 1`` against rounding).
    The decision rules and the segment-level enterprise choice draw through it; enterprises
    with their own utilities (tastes, peers) are drawn by the same count in
    :func:`sim.dynamics.choose_providers`, options first.

    The count of entries at or below ``u`` is taken column by column: the options axis is
    short, and NumPy reduces a short last axis row by row, several times slower."""
    shape = np.broadcast_shapes(cdf.shape[:-1], u.shape)
    index = np.zeros(shape, dtype=np.intp)
    for k in range(cdf.shape[-1]):
        index += u >= cdf[..., k]
    return np.minimum(index, cdf.shape[-1] - 1)


def _sample(weights: Float, u: Float) -> Actions:
    """Inverse-CDF draw from non-negative ``weights`` ``(..., A)`` with uniforms ``u`` ``(...)``."""
    cdf = np.cumsum(weights, axis=-1)
    return inverse_cdf(cdf, u * cdf[..., -1]).astype(np.int8)


def _best_response_weights(payoffs: Float) -> Float:
    """1 on every payoff-maximizing action, 0 elsewhere, ``(..., A)``."""
    return (payoffs >= payoffs.max(axis=-1, keepdims=True)).astype(float)


def _logit_weights(payoffs: Float, rationality: float) -> Float:
    """``exp(lambda (pi - max pi))``, overflow-safe unnormalized logit weights ``(..., A)``."""
    scaled = rationality * payoffs
    return np.exp(scaled - scaled.max(axis=-1, keepdims=True))


def choice_probabilities(rule: str, payoffs: Float, rationality: float = 0.0) -> Float:
    """Action probabilities ``(..., A)`` of the memoryless rules: ``logit`` (the quantal
    response) or ``best_response`` (uniform over the maximizers). The samplers below draw from
    exactly these weights; the mean-field approximation uses them as expectations."""
    match rule:
        case "logit":
            weights = _logit_weights(payoffs, rationality)
        case "best_response":
            weights = _best_response_weights(payoffs)
        case _:
            raise ValueError(f"rule={rule!r}: expected 'logit' or 'best_response'")
    return weights / weights.sum(axis=-1, keepdims=True)


def best_response(payoffs: Float, current: Actions, rng: RandomSource) -> Actions:
    """Each agent plays a payoff-maximizing action; ties are broken uniformly at random."""
    del current  # the myopic best response ignores what was played
    u = uniform(rng, payoffs.shape[:-1])
    return _sample(_best_response_weights(payoffs), u)


def logit_response(
    payoffs: Float, current: Actions, rng: RandomSource, rationality: float
) -> Actions:
    """Quantal (logit) response with rationality ``lambda >= 0``; ``lambda = 0`` is uniform."""
    del current
    u = uniform(rng, payoffs.shape[:-1])
    return _sample(_logit_weights(payoffs, rationality), u)


def fermi_imitation(
    payoffs: Float, current: Actions, rng: RandomSource, intensity: float
) -> Actions:
    """Pairwise comparison with the Fermi rule within each run's population of ``n`` agents.

    Agent ``i`` earns ``pi_i = payoffs[i, current_i]``; it picks a model ``m != i`` uniformly and
    adopts ``current_m`` with probability ``expit(beta (pi_m - pi_i))``. With ``n = 1`` the model
    is a uniformly chosen other action ``b`` of the agent itself, earning ``payoffs[i, b]``.
    """
    runs, n, n_actions = payoffs.shape
    u_model = uniform(rng, (runs, n))
    u_adopt = uniform(rng, (runs, n))
    own = np.take_along_axis(payoffs, current[..., None].astype(np.intp), axis=-1)[..., 0]
    if n == 1:
        offset = 1 + np.floor(u_model * (n_actions - 1)).astype(np.int64)
        model_action = ((current + offset) % n_actions).astype(np.int8)
        model_payoff = np.take_along_axis(
            payoffs, model_action[..., None].astype(np.intp), axis=-1
        )[..., 0]
    else:
        pick = np.floor(u_model * (n - 1)).astype(np.int64)
        pick = pick + (pick >= np.arange(n))  # skip oneself
        model_action = np.take_along_axis(current, pick, axis=-1)
        model_payoff = np.take_along_axis(own, pick, axis=-1)
    adopt = u_adopt < expit(intensity * (model_payoff - own))
    return np.where(adopt, model_action, current).astype(np.int8)


def fictitious_play(
    payoffs: Float, current: Actions, rng: RandomSource, mean: Float, count: int
) -> tuple[Actions, Float]:
    """Best response to the running mean of the payoff vectors seen (``count`` before this)."""
    updated = mean + (payoffs - mean) / (count + 1)
    return best_response(updated, current, rng), updated


def roth_erev(
    payoffs: Float, current: Actions, rng: RandomSource, propensity: Float, forgetting: float
) -> tuple[Actions, Float]:
    """Roth-Erev reinforcement: the action played is reinforced by its payoff above the worst
    available one (so reinforcements are non-negative), propensities decay by ``forgetting``."""
    played = np.take_along_axis(payoffs, current[..., None].astype(np.intp), axis=-1)[..., 0]
    reinforcement = played - payoffs.min(axis=-1)
    onehot = np.arange(payoffs.shape[-1]) == current[..., None]
    updated = np.maximum((1.0 - forgetting) * propensity + onehot * reinforcement[..., None], _TINY)
    u = uniform(rng, payoffs.shape[:-1])
    return _sample(updated, u), updated


@dataclass(frozen=True)
class RuleSpec:
    """Everything the rest of the package needs to know about one decision rule.

    ``uniform_blocks``: ``(R, n)`` blocks of uniforms drawn per call, whatever the payoffs.
    ``memoryless``: keeps no memory, so the outcome for an agent that does not revise is never
    used (the engine then skips computing payoffs when nobody revises).
    ``memory_fill``: the learning memory's value at step 0 (0 payoff means for fictitious play,
    one payoff unit of propensity per action for Roth-Erev; unused otherwise).
    ``expected``: the action probabilities of one revision, ``(payoffs, rationality) ->
    probabilities``, for the mean field; None when the rule has no memoryless expectation over
    a single agent.
    ``keeps_action``: the rule never changes an action (counterfactuals).
    """

    name: str
    uniform_blocks: int
    memoryless: bool
    memory_fill: float
    expected: Callable[[Float, float], Float] | None
    keeps_action: bool
    apply: Callable[[Float, Actions, Float, int, RandomSource, RuleKnobs], tuple[Actions, Float]]


@dataclass(frozen=True)
class RuleKnobs:
    """The rule parameters of the actor kind deciding: logit ``rationality``, Fermi
    ``intensity``, Roth-Erev ``forgetting``."""

    rationality: float
    intensity: float
    forgetting: float


def _expected_logit(payoffs: Float, rationality: float) -> Float:
    return choice_probabilities("logit", payoffs, rationality)


def _expected_best(payoffs: Float, rationality: float) -> Float:
    return choice_probabilities("best_response", payoffs, rationality)


REGISTRY: dict[str, RuleSpec] = {
    "best_response": RuleSpec(
        "best_response",
        uniform_blocks=1,
        memoryless=True,
        memory_fill=0.0,
        expected=_expected_best,
        keeps_action=False,
        apply=lambda pay, cur, mem, t, rng, k: (best_response(pay, cur, rng), mem),
    ),
    "logit": RuleSpec(
        "logit",
        uniform_blocks=1,
        memoryless=True,
        memory_fill=0.0,
        expected=_expected_logit,
        keeps_action=False,
        apply=lambda pay, cur, mem, t, rng, k: (
            logit_response(pay, cur, rng, k.rationality),
            mem,
        ),
    ),
    "fermi": RuleSpec(
        "fermi",
        uniform_blocks=2,
        memoryless=True,
        memory_fill=0.0,
        expected=None,
        keeps_action=False,
        apply=lambda pay, cur, mem, t, rng, k: (
            fermi_imitation(pay, cur, rng, k.intensity),
            mem,
        ),
    ),
    "fictitious_play": RuleSpec(
        "fictitious_play",
        uniform_blocks=1,
        memoryless=False,
        memory_fill=0.0,
        expected=None,
        keeps_action=False,
        apply=lambda pay, cur, mem, t, rng, k: fictitious_play(pay, cur, rng, mem, t),
    ),
    "roth_erev": RuleSpec(
        "roth_erev",
        uniform_blocks=1,
        memoryless=False,
        memory_fill=1.0,
        expected=None,
        keeps_action=False,
        apply=lambda pay, cur, mem, t, rng, k: roth_erev(pay, cur, rng, mem, k.forgetting),
    ),
    "fixed": RuleSpec(
        "fixed",
        uniform_blocks=0,
        memoryless=True,
        memory_fill=0.0,
        expected=None,
        keeps_action=True,
        apply=lambda pay, cur, mem, t, rng, k: (cur.astype(np.int8), mem),
    ),
}
"""One entry per rule in :data:`RULES`; the only table of rule properties in the package."""


def spec_of(rule: str) -> RuleSpec:
    """The registry entry of ``rule``; a one-line ``ValueError`` for an unknown name."""
    try:
        return REGISTRY[rule]
    except KeyError:
        raise ValueError(f"rule={rule!r}: expected one of {', '.join(RULES)}") from None


def initial_memory(rule: str, shape: tuple[int, ...]) -> Float:
    """Learning memory at step 0, filled with the rule's ``memory_fill``."""
    return np.full(shape, spec_of(rule).memory_fill)


def decide(
    rule: str,
    payoffs: Float,
    current: Actions,
    memory: Float,
    count: int,
    rng: RandomSource,
    *,
    rationality: float,
    intensity: float,
    forgetting: float,
) -> tuple[Actions, Float]:
    """Apply one rule by name; returns new actions and memory (unchanged if unused)."""
    knobs = RuleKnobs(rationality, intensity, forgetting)
    return spec_of(rule).apply(payoffs, current, memory, count, rng, knobs)
