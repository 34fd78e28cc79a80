r"""Dynamics: enterprise provider choice and capability growth. Pure functions of arrays.

Shapes: ``R`` runs, ``N`` enterprises, ``J`` providers, ``K = J + 1`` options (the last is no
provider). Enterprise choices are integer option indices ``(R, N)``.

Enterprise choice (each step)
    an enterprise revises with probability ``rho``, and always when its provider became
    unreachable (forced migration); a reviser on option ``c`` moves to ``j`` with probability
    ``P[c, j]`` from :func:`sim.payoffs.transition_probabilities`. Two uniforms per enterprise
    are drawn every step (revise?, which option?), whatever the state.

Capability (each step, after choices)
    q_d <- q_d + (eta * s_d + subsidy + chi * s_foreign) * (F - q_d)     domestic providers
    F   <- F * (1 + g)                                                   the frontier
    q_i  = r_i * F                                                       foreign providers
where ``s_d`` is provider ``d``'s usage share and ``s_foreign`` the total foreign usage. Domestic
quality never decreases and never passes the frontier.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.rules import RandomSource, inverse_cdf, uniform

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]
Choices = NDArray[np.int16]
Counts = NDArray[np.int64]


def option_counts(choice: NDArray[np.integer[Any]], n_options: int) -> Counts:
    """How many of the ``N`` agents of each run hold each option, ``(R, N) -> (R, K)``."""
    runs = choice.shape[0]
    flat = (np.arange(runs)[:, None] * n_options + choice).ravel()
    return np.bincount(flat, minlength=runs * n_options).reshape(runs, n_options)


def _cdf(probabilities: Float) -> Float:
    """Cumulative sums along the last axis, the last set to exactly 1 (rows sum to one up to
    rounding; a uniform can never fall past the last option)."""
    cdf = np.cumsum(probabilities, axis=-1)
    cdf[..., -1] = 1.0
    return cdf


def initial_choices(probabilities: Float, n_enterprises: int, rng: RandomSource) -> Choices:
    """Step-0 adoption: every enterprise draws from ``probabilities`` ``(R, K)``."""
    u = uniform(rng, (probabilities.shape[0], n_enterprises))
    return inverse_cdf(_cdf(probabilities)[:, None, :], u).astype(np.int16)


def choose_providers(
    choice: Choices,
    counts: Counts,
    transition: Float,
    forced: Bool,
    revision_rate: float,
    rng: RandomSource,
) -> tuple[Choices, Counts]:
    """One step of enterprise choice.

    choice ``(R, N)``, counts ``(R, K)`` (kept in step with ``choice``), transition
    ``(R, K, K)``, forced ``(R, K)`` (options whose users must move). Returns new choices and
    counts; only revisers are touched, so the work after the draws is proportional to them.
    """
    runs, n = choice.shape
    n_options = transition.shape[-1]
    u_revise = uniform(rng, (runs, n))
    u_option = uniform(rng, (runs, n))
    revising = u_revise < revision_rate
    if (forced & (counts > 0)).any():  # look up who must move only if anyone must
        revising |= np.take_along_axis(forced, choice.astype(np.intp), axis=-1)
    flat = np.flatnonzero(revising)
    run_of = flat // n
    old = choice.ravel()[flat].astype(np.intp)
    rows = _cdf(transition)[run_of, old]  # (M, K)
    new = inverse_cdf(rows, u_option.ravel()[flat])
    updated = choice.copy()
    updated.reshape(-1)[flat] = new
    delta = np.bincount(run_of * n_options + new, minlength=runs * n_options)
    delta -= np.bincount(run_of * n_options + old, minlength=runs * n_options)
    return updated, counts + delta.reshape(runs, n_options)


def grow_capability(
    quality: Float,
    frontier: Float,
    usage: Float,
    *,
    domestic: Bool,
    relative_foreign: Float,
    learning_rate: float,
    subsidy: float,
    spillover: float,
    growth: float,
) -> tuple[Float, Float]:
    """Advance absolute qualities ``(R, J)`` and the frontier ``(R,)`` by one step.

    ``usage`` ``(R, J)`` are provider usage shares after this step's choices.
    """
    foreign_usage = (usage * ~domestic).sum(-1, keepdims=True)
    rate = np.clip(learning_rate * usage + subsidy + spillover * foreign_usage, 0.0, 1.0)
    # The clip guards against rounding past the frontier when the rate is 1.
    caught_up = np.minimum(quality + rate * (frontier[:, None] - quality), frontier[:, None])
    new_frontier = frontier * (1.0 + growth)
    new_quality = np.where(domestic, caught_up, relative_foreign * new_frontier[:, None])
    return new_quality, new_frontier
