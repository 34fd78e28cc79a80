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

from collections.abc import Sequence
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
    Every sampler in the project (rules, enterprise choice) draws through this function."""
    index = (u[..., None] >= cdf).sum(axis=-1)
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


UNIFORM_BLOCKS = {
    "best_response": 1,
    "logit": 1,
    "fermi": 2,
    "fictitious_play": 1,
    "roth_erev": 1,
    "fixed": 0,
}
"""How many ``(R, n)`` blocks of uniforms each rule draws per call, whatever the payoffs."""

MEMORYLESS = frozenset({"best_response", "logit", "fermi", "fixed"})
"""Rules whose outcome for an agent that does not revise is never used and that keep no memory."""


def initial_memory(rule: str, shape: tuple[int, ...]) -> Float:
    """Learning memory at step 0: zero payoff means for fictitious play, unit propensities
    for Roth-Erev (one payoff unit per action), unused zeros otherwise."""
    return np.ones(shape) if rule == "roth_erev" else np.zeros(shape)


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
    """Dispatch to one rule by name; returns new actions and memory (unchanged if unused)."""
    match rule:
        case "best_response":
            return best_response(payoffs, current, rng), memory
        case "logit":
            return logit_response(payoffs, current, rng, rationality), memory
        case "fermi":
            return fermi_imitation(payoffs, current, rng, intensity), memory
        case "fictitious_play":
            return fictitious_play(payoffs, current, rng, memory, count)
        case "roth_erev":
            return roth_erev(payoffs, current, rng, memory, forgetting)
        case "fixed":
            return current.astype(np.int8), memory
        case _:
            raise ValueError(f"rule={rule!r}: expected one of {', '.join(RULES)}")
