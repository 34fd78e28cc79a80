r"""Dynamics: enterprise provider choice, capability, compute and prices. Pure functions.

Shapes: ``R`` runs, ``N`` enterprises (flat index ``r N + i`` where runs are stacked), ``S``
segments, ``J`` providers, ``K = J + 1`` options (the last is no provider). Enterprise choices
are integer option indices ``(R, N)``; counts and spend are kept per segment, ``(R, S, K)``.

Enterprise choice (each step)
    an enterprise of segment ``s`` revises with probability ``rho_s``, and always when its
    option became unavailable to it (forced migration); a reviser on option ``c`` moves to
    ``j`` with probability ``softmax_j(U_scj + mu_s (e_i,kind(j) + beta_peer x_ij))`` where
    ``U`` are the segment's utilities (:func:`sim.payoffs.transition_utilities`), ``e_i`` its
    persistent tastes and ``x_ij`` the spend-weighted share of its neighbours on ``j`` at the
    start of the step (all enterprises move simultaneously). Two uniforms per enterprise are
    drawn every step (revise?, which option?), whatever the state.

Capability (each step, after choices; absolute qualities, frontier ``F``)
    q_d <- min(q_d + r_d (F - q_d) + psi max(P - q_d, 0), F)        domestic providers
    r_d  = eta s_d + subsidy + chi s_foreign + omega c_d              (clipped to [0, 1])
    P    = best quality among domestic providers and open models     (knowledge pool)
    q_o <- q_o + (F - q_o) / L                                        open, home origin
    q_o <- q_o + rho_o max(P_dom - q_o, 0)                            open, rival origin
    F   <- F (1 + g)   (or F (1 + g)^k every k months: discrete releases)
    q_i  = r_i F                                                      foreign providers
    c_d <- (c_d (1 - delta) + (1 - xi [controls on]) (kappa_c R_d + b_c)) / (1 + gamma_F)
where ``s_d`` is provider ``d``'s spend share, ``s_foreign`` the foreign providers' total,
``c_d`` its compute relative to the frontier lab's and ``R_d`` its revenue ($M/step). Domestic
quality never decreases and never passes the frontier.

Steady state with constant shares (continuous frontier growth, no diffusion): the relative gap
``x_d = 1 - q_d / F`` obeys ``x' = (g + x (1 - r)) / (1 + g)``, so
``x* = g / (g + r*)``, with ``c* = (1 - xi) (kappa_c R + b_c) / (gamma_F + delta)`` in
``r* = eta s + subsidy + chi s_F + omega c*``; home-origin open models settle at relative
quality ``1 / (1 + g L)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from sim import payoffs
from sim.rules import RandomSource, inverse_cdf, uniform

if TYPE_CHECKING:
    from sim.core import Core
    from sim.network import Graph

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]
Choices = NDArray[np.int16]
Counts = NDArray[np.int64]


def option_counts(choice: NDArray[np.integer[Any]], n_options: int) -> Counts:
    """How many of the ``N`` agents of each run hold each option, ``(R, N) -> (R, K)``."""
    runs = choice.shape[0]
    flat = (np.arange(runs)[:, None] * n_options + choice).ravel()
    return np.bincount(flat, minlength=runs * n_options).reshape(runs, n_options)


def segment_totals(
    choice: Choices,
    segment_of: NDArray[np.integer[Any]],
    n_segments: int,
    n_options: int,
    weight: Float | None = None,
) -> Float | Counts:
    """Enterprises (or their ``weight``, ``(R, N)``) on each option by segment, ``-> (R, S, K)``."""
    runs = choice.shape[0]
    cell = (np.arange(runs)[:, None] * n_segments + segment_of) * n_options + choice
    size = runs * n_segments * n_options
    w = None if weight is None else weight.ravel()
    out = np.bincount(cell.ravel(), weights=w, minlength=size)
    return out.reshape(runs, n_segments, n_options)


def cdf(probabilities: Float) -> Float:
    """Cumulative sums along the last axis, the last set to exactly 1 (rows sum to one up to
    rounding; a uniform can never fall past the last option)."""
    out = np.cumsum(probabilities, axis=-1)
    out[..., -1] = 1.0
    return out


def draw_initial(probabilities: Float, runs: int, n: int, rng: RandomSource) -> Choices:
    """Step-0 adoption: enterprise ``i`` of run ``r`` draws its option from
    ``probabilities`` broadcast to ``(R, N, K)`` with one uniform (inverse CDF)."""
    u = uniform(rng, (runs, n))
    return inverse_cdf(cdf(probabilities), u).astype(np.int16)


def logit_rows(utility: Float) -> Float:
    """Normalized ``exp(u - max u)`` along the last axis (``-inf``: probability 0)."""
    weights = np.exp(utility - utility.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def choose_providers(
    core: Core,
    choice: Choices,
    counts: Counts,
    utilities: Float,
    forced: Bool,
    rng: RandomSource,
    personal: Personal | None,
) -> tuple[Choices, Counts, NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """One step of enterprise choice.

    choice ``(R, N)``, counts ``(R, S, K)`` (kept in step with ``choice``), utilities
    ``(R, S, K, K)`` (:func:`sim.payoffs.transition_utilities`), forced ``(R, S, K)`` (options
    whose users in that segment must move); ``personal`` carries the tastes and network when an
    enterprise's utilities are its own. Returns the new choices and counts, and the flat index,
    old and new option of every reviser (only revisers are touched, so the work after the draws
    is proportional to them).
    """
    runs, n = choice.shape
    n_segments, n_options = counts.shape[1], counts.shape[2]
    u_revise = uniform(rng, (runs, n))
    u_option = uniform(rng, (runs, n))
    revising = u_revise < core.revision_threshold
    if (forced & (counts > 0)).any():  # look up who must move only if anyone must
        cell = core.segment_of.astype(np.intp) * n_options + choice
        revising |= np.take_along_axis(forced.reshape(runs, -1), cell, axis=-1)
    flat = np.flatnonzero(revising)
    run_of = flat // n if runs > 1 else np.zeros(len(flat), np.intp)
    seg = core.segment_of[flat % n if runs > 1 else flat].astype(np.intp)
    old = choice.ravel()[flat].astype(np.intp)
    row = (run_of * n_segments + seg) * n_options + old  # row of (R, S, K, K) as (-1, K)
    if personal is None:
        rows = cdf(payoffs.transition_probabilities(utilities)).reshape(-1, n_options)[row]
        new = inverse_cdf(rows, u_option.ravel()[flat])
    else:
        # options along the first axis (K, M): every pass below runs over contiguous rows
        table = np.ascontiguousarray(utilities.reshape(-1, n_options).T)  # (K, R S K), small
        rows = np.take(table, row, axis=1)  # (K, M)
        cumulative = personal.utilities(core, rows, flat, seg, choice)
        cumulative -= cumulative.max(axis=0)
        np.exp(cumulative, out=cumulative)
        for k in range(1, n_options):  # cumulative sums row by row (contiguous, vectorized)
            cumulative[k] += cumulative[k - 1]
        target = u_option.ravel()[flat] * cumulative[-1]
        new = np.zeros(len(flat), dtype=np.intp)
        for k in range(n_options):  # the inverse-CDF count, row by row
            new += target >= cumulative[k]
        np.minimum(new, n_options - 1, out=new)
    updated = choice.copy()
    updated.reshape(-1)[flat] = new
    cell_of = (run_of * n_segments + seg) * n_options
    size = runs * n_segments * n_options
    delta = np.bincount(cell_of + new, minlength=size) - np.bincount(cell_of + old, minlength=size)
    return updated, counts + delta.reshape(counts.shape), flat, old, new


class Personal:
    """What makes an enterprise's utilities its own: persistent tastes ``(R N, T)`` for the
    option kinds of :data:`sim.params.TASTE_KINDS` and the network (neighbours' spend shares),
    added as ``mu_s (e_i,kind(j) + beta_peer x_ij)``."""

    def __init__(
        self, taste: Float | None, graph: Graph | None, size: Float, taste_kind: NDArray[np.intp]
    ) -> None:
        from sim.network import NeighbourWeights

        # options of one kind read one contiguous row: tastes stored kind-major (T, R N)
        self.taste_by_kind = None if taste is None else np.ascontiguousarray(taste.T)
        self.taste_kind = taste_kind
        # spend never changes: the weighted adjacency is prepared once per run
        self.neighbours = None if graph is None else NeighbourWeights(graph, size.ravel())

    def utilities(
        self,
        core: Core,
        rows: Float,
        flat: NDArray[np.intp],
        seg: NDArray[np.intp],
        choice: Choices,
    ) -> Float:
        """Each reviser's own utilities, options first ``(K, M)``: its segment's ``rows``
        ``(K, M)`` plus ``mu_s (e_i,kind(j) + beta_peer x_ij)`` for the enterprises at
        ``flat``. Updates ``rows`` in place."""
        utility = rows
        mu = core.mu[seg]
        if self.neighbours is not None and core.flags.peers:
            sums, inverse_total = self.neighbours.option_sums(flat, choice.ravel(), len(utility))
            sums *= core.params.peer_effect * inverse_total * mu
            utility += sums
        if self.taste_by_kind is not None:
            scaled = np.take(self.taste_by_kind, flat, axis=1)  # (T, M)
            scaled *= mu
            for j, kind in enumerate(self.taste_kind):
                utility[j] += scaled[kind]
        return utility


def grow_capability(
    core: Core,
    quality: Float,
    frontier: Float,
    compute: Float,
    usage: Float,
    revenue: Float,
    controls: NDArray[np.int8],
    month: int,
) -> tuple[Float, Float, Float]:
    """Advance absolute qualities ``(R, J)``, the frontier ``(R,)`` and relative compute
    ``(R, J)`` by one step (the module docstring's equations). ``usage`` ``(R, J)`` are spend
    shares after this step's choices, ``revenue`` ``(R, J)`` the providers' revenue ($M/step),
    ``controls`` ``(R,)`` whether compute export controls are on; ``month`` the step entered."""
    p = core.params
    flags = core.flags
    domestic = core.domestic
    rate = base_catch_up(core, usage)
    if flags.compute:
        rate = rate + p.compute_effect * compute
    rate = np.clip(rate, 0.0, 1.0)
    top = frontier[:, None]
    # The clip guards against rounding past the frontier when the rate is 1.
    step = quality + rate * (top - quality)
    if flags.diffusion or flags.open_models:
        pool = np.where(domestic | core.open, quality, -np.inf).max(-1, keepdims=True)
    if flags.diffusion:
        step = step + p.diffusion_rate * np.maximum(pool - quality, 0.0)
    caught_up = np.minimum(step, top)
    if flags.releases:
        k = p.frontier_release_interval
        new_frontier = frontier * (1.0 + p.frontier_growth) ** k if month % k == 0 else frontier
    else:
        new_frontier = frontier * (1.0 + p.frontier_growth)
    new_quality = np.where(domestic, caught_up, core.relative_foreign * new_frontier[:, None])
    if flags.open_models:
        best_domestic = np.where(domestic, quality, -np.inf).max(-1, keepdims=True)
        home_open = quality + (top - quality) / p.open_weight_lag
        rival_open = quality + p.open_release_rate * np.maximum(best_domestic - quality, 0.0)
        lagged = np.minimum(np.where(core.home_origin, home_open, rival_open), top)
        new_quality = np.where(core.open, np.maximum(lagged, quality), new_quality)
    new_compute = compute
    if flags.compute:
        bought = compute_bought(core, revenue, controls)
        grown = (compute * (1.0 - p.compute_depreciation) + bought) / (
            1.0 + p.frontier_compute_growth
        )
        new_compute = np.where(domestic, grown, compute)
    return new_quality, new_frontier, new_compute


def base_catch_up(core: Core, usage: Float) -> Float:
    """The catch-up rate per month before compute and diffusion, ``(R, J)``: learning by doing
    ``eta s_j``, the rival subsidy ``sigma_sub`` and distillation ``chi s_F`` from the foreign
    spend share ``s_F``; ``usage`` ``(R, J)`` spend shares."""
    p = core.params
    foreign_usage = (usage * core.foreign).sum(-1, keepdims=True)
    rate: Float = p.learning_rate * usage + p.rival_subsidy + p.spillover_rate * foreign_usage
    return rate


def compute_bought(core: Core, revenue: Float, controls: NDArray[np.integer[Any]]) -> Float:
    """Relative compute bought per month, ``(R, J)``: ``(1 - xi [controls]) (a revenue + b)``
    from revenue ``(R, J)`` ($M/step) and the state's compute subsidy; ``controls`` ``(R,)``."""
    p = core.params
    cut = 1.0 - p.export_control_strength * controls[:, None]
    bought: Float = cut * (p.compute_per_revenue * revenue + p.compute_subsidy)
    return bought


def steady_state_gap(growth: float, rate: Float | float) -> Float:
    """Relative capability gap ``x* = g / (g + r)`` at which a domestic provider with constant
    catch-up rate ``r`` per month keeps pace with a frontier growing at ``g`` per month."""
    return np.asarray(growth / (growth + np.asarray(rate)))


def steady_state_compute(
    investment: Float | float, frontier_growth: float, depreciation: float
) -> Float:
    """Relative compute ``c* = I / (gamma_F + delta)`` under constant investment ``I``
    (relative compute per month, export controls already applied); ``inf`` when the decay is
    too small to represent the quotient (compute then grows without bound)."""
    with np.errstate(over="ignore"):
        return np.asarray(np.asarray(investment) / (frontier_growth + depreciation))
