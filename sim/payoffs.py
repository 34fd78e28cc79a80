r"""Pure NumPy payoff core: arrays in, arrays out, no Mesa.

Index conventions (every function accepts a leading axis of ``R`` independent runs):

* ``j = 0..J-1`` providers; option ``J`` is the outside option (no provider), ``K = J + 1``;
* ``s = 0..S-1`` enterprise segments, with expected spend weights ``w_s`` (sum to one);
* action index ``0`` is ALLOW, ``1`` is RESTRICT, for providers and governments alike.

Parameters come bound in a :class:`~sim.core.Core` (``core``): per-provider vectors ``(J,)``,
per-segment vectors ``(S,)`` and the availability matrix ``serves (S, J)`` (not barred by the
segment's compliance rules, not excluded by the provider).

Units: money in $M per step (one step = one month), quality relative to the frontier
(frontier = 1), prices as an index (reference = 1), shares as fractions of rival-region
enterprises (spend shares where money is meant).

Enterprise side (McFadden logit with switching cost), segment ``s``:
    option value        v_sj = q_j - n_s (1 - q_j) - kappa_s p_j - sigma_s [j foreign]
                               - h_j [j open],          v_sJ = u_0
    utility of moving   U_scj = mu_s (v_sj - tau_scj - c_s [j reachable only by circumvention])
    tau_scj = tau_s [j != c] (1 - delta [j domestic]) for c a provider, 0 from c = J
    P_s(c -> j)         = exp(U_scj) / sum_l exp(U_scl)      over options available to s
    long-run share      s_sj = exp(mu_s v_sj) / sum_{l available} exp(mu_s v_sl)
    welfare (logsum)    W_s = log(sum_{l available} exp(mu_s v_sl)) / mu_s
An enterprise ``i`` of segment ``s`` adds its persistent taste ``e_i,kind(j)`` and
``peer_effect x`` the spend share of its neighbours on ``j`` to ``v_sj`` (:mod:`sim.dynamics`).
Aggregates over segments weight by ``w_s``: ``s_j = sum_s w_s s_sj``.

Provider i (model brief), with spend share ``s_i``, quality ``q_i``, price ``p_i``:
    revenue_i    = (m_i p_i - c_i) V s_i        (c_i marginal cost, 0 for foreign providers)
    security_i   = sigma * kappa_i * q_i * s_i
    penalty_i    = [home restricts] * e * f * cov_i
    pressure_i   = phi_i
    licence_i(a) = sum_{l licensed by i} r_l p_l V s_l(a)     (s_l with i allowing or not)
    payoff_i(ALLOW)    = (1 + d_i) revenue_i - security_i - penalty_i - pressure_i + licence_i(A)
    payoff_i(RESTRICT) = licence_i(R)
``d_i`` is the rival-region business tied to AI access (cloud bundles), lost with it. For a
decision the provider evaluates ALLOW at its *attainable* share: the long-run logit share it
would have if accessible, given the other providers' current accessibility; the licence
income of a licensor is evaluated at its licensees' long-run shares with it open or closed.

Home government, policy x in {ALLOW, RESTRICT (a mandate)}, anticipating each provider's best
response a_i(x) and the long-run shares s(x) that follow:
    W_home(x) = w_R * [sum_{foreign} (1 + d_i) revenue_i(x) + licence flows]
                - w_S * sum_{home origin} kappa_j q_j s_j(x)
                - w_G * sum_{rival industry} s_j(x) - [x = RESTRICT] * h

Rival government, policy y in {ALLOW, RESTRICT (block foreign services)}:
    W_rival(y) = sum_s w_s W_s(y) + w_D * sum_{rival industry} s_j(y)
                 - w_F * sum_{foreign} s_i(y) + [y = RESTRICT] * b
in quality units. "Rival industry" is the domestic providers and open models of rival origin;
"foreign" the home region's API providers (open weights cannot be blocked). Because the logit
welfare loss of a block is nearly proportional to the foreign share it removes, ``b`` is what
gives the rival a threshold: it blocks once the welfare loss falls below ``b``, that is once
domestic quality is close enough to the frontier (stylized fact SF4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from sim.core import Core

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

ALLOW, RESTRICT = 0, 1


def option_values(core: Core, relative_quality: Float, price: Float) -> Float:
    """Deterministic value of each option per segment, ``(R, J), (R, J) -> (R, S, K)``; the last
    column is no provider."""
    flags = core.flags
    values = relative_quality[:, None, :] - core.kappa[None, :, None] * price[:, None, :]
    if flags.need:
        values = values - core.frontier_need[None, :, None] * (1.0 - relative_quality[:, None, :])
    if flags.security:
        values = values - core.security_sensitivity[None, :, None] * core.foreign
    if flags.hosting:
        values = values - core.hosting
    outside = np.full((*values.shape[:-1], 1), core.params.outside_utility)
    return np.concatenate([values, outside], axis=-1)


def segment_available(core: Core, accessible: Bool) -> Bool:
    """Providers each segment can use, ``(R, J) -> (R, S, J)``: accessible and served."""
    if core.flags.all_served:
        return np.broadcast_to(
            accessible[:, None, :], (len(accessible), core.n_segments, len(core.foreign))
        )
    return accessible[:, None, :] & core.serves


def _with_outside(available: Bool) -> Bool:
    """Available options ``(..., J + 1)``: the available providers and the outside option."""
    return np.concatenate([available, np.ones((*available.shape[:-1], 1), bool)], axis=-1)


def _logit_weights(values: Float, available: Bool, rationality: Float) -> Float:
    """``exp(mu * (v - max_available v))`` on available options, 0 elsewhere, ``(..., K)``;
    ``rationality`` broadcasts against ``values`` (its last axis is added here).

    The maximum is taken over available options only, so a blocked option of much higher value
    cannot drive every available weight to zero.
    """
    scaled = np.where(available, rationality[..., None] * values, -np.inf)
    return np.exp(scaled - scaled.max(axis=-1, keepdims=True))


def logit_shares(values: Float, available: Bool, mu: Float) -> Float:
    """Long-run logit shares per segment over available providers plus the outside option:
    values ``(R, S, K)``, available ``(R, S, J)``, mu ``(S,)`` -> shares ``(R, S, K)`` summing to
    one."""
    weights = _logit_weights(values, _with_outside(available), mu)
    return weights / weights.sum(axis=-1, keepdims=True)


def attainable_shares(values: Float, available: Bool, mu: Float, serves: Bool) -> Float:
    """Share provider ``j`` would have in each segment if it were accessible, the others as
    they are, ``(R, S, K), (R, S, J) -> (R, S, J)``: ``w_j / (w_J + sum_{l != j available} w_l +
    w_j)``, each ``j`` over its own choice set so that no weight underflows relative to another;
    0 in segments ``j`` does not serve."""
    n_providers = available.shape[-1]
    own_option = np.eye(n_providers, n_providers + 1, dtype=bool)
    opened = _with_outside(available)[..., None, :] | own_option
    weights = _logit_weights(values[..., None, :], opened, mu[:, None])  # (R, S, J, K)
    own = np.diagonal(weights, axis1=-2, axis2=-1)[..., :n_providers]
    share = own / weights.sum(axis=-1)
    return share if serves.all() else share * serves


def shares_if(values: Float, available: Bool, mu: Float, serves: Bool, opened: bool) -> Float:
    """Long-run shares ``(R, S, J, K)``: row ``j`` with provider ``j`` made accessible (where it
    serves the segment) when ``opened``, or unreachable when not, the others as they are."""
    n_providers = available.shape[-1]
    own = np.eye(n_providers, dtype=bool)
    base = available[..., None, :]
    choice = (base | (own & serves[:, None, :])) if opened else (base & ~own)
    weights = _logit_weights(values[..., None, :], _with_outside(choice), mu[:, None])
    return weights / weights.sum(axis=-1, keepdims=True)


def logsum_welfare(values: Float, available: Bool, mu: Float) -> Float:
    """Expected maximum utility in quality units per segment, ``(R, S, K), (R, S, J) -> (R, S)``:
    ``log(sum_available exp(mu v)) / mu``; as ``mu -> inf`` it tends to the best available
    value. ``mu`` must be positive (the parameter range starts at 0.01)."""
    scaled = np.where(_with_outside(available), mu[:, None] * values, -np.inf)
    top = scaled.max(axis=-1)
    total = np.exp(scaled - top[..., None]).sum(axis=-1)
    return np.asarray((top + np.log(total)) / mu)


def aggregate(per_segment: Float, weight: Float) -> Float:
    """Spend-weighted sum over the segment axis (axis 1): ``(R, S, ...) -> (R, ...)``."""
    shape = (1, len(weight)) + (1,) * (per_segment.ndim - 2)
    return np.asarray((weight.reshape(shape) * per_segment).sum(axis=1))


def provider_revenue(core: Core, share: Float, price: Float) -> Float:
    """``(m p - c) V s`` in $M/step, elementwise over ``(R, J)``."""
    if core.flags.prices or core.marginal_cost.any():
        return (core.margin * price - core.marginal_cost) * core.params.market_value * share
    return core.margin * price * core.params.market_value * share


def security_cost(share: Float, relative_quality: Float, exposure: Float, weight: float) -> Float:
    """``sigma * kappa * q * s`` in $M/step (or the exposure index when ``weight = 1``)."""
    return weight * exposure * relative_quality * share


def expected_penalty(core: Core, home_restricts: NDArray[np.generic]) -> Float:
    """``[home restricts] * e * f * c``: ``(R,)`` policy -> ``(R, J)``."""
    p = core.params
    return (
        np.asarray(home_restricts)[..., None] * (p.home_enforcement * p.home_fine) * core.coverage
    )


def licence_income(core: Core, shares: Float, price: Float) -> Float:
    """What each provider earns from its licensees, ``(R, ..., K) -> (R, ..., J)``: provider
    ``i`` receives ``sum_{l: licensor(l) = i} r_l p_l V s_l``; ``shares`` has the options on its
    last axis (any axes between)."""
    flows = core.revenue_share * price * core.params.market_value  # (R, J) per unit share
    paid = shares[..., :-1] * flows.reshape(
        flows.shape[:1] + (1,) * (shares.ndim - 2) + flows.shape[1:]
    )
    income = np.zeros(paid.shape)
    for licensee in np.flatnonzero(core.licensor >= 0):
        income[..., core.licensor[licensee]] += paid[..., licensee]
    return income


def provider_payoffs(
    core: Core,
    share: Float,
    relative_quality: Float,
    penalty: Float,
    price: Float,
    licence: tuple[Float, Float] | None = None,
) -> Float:
    """Payoffs of ALLOW and RESTRICT at the given spend share: ``(R, J) -> (R, J, 2)``;
    ``licence`` is the licence income with each provider allowing and restricting."""
    allow = (
        (1.0 + core.dependence) * provider_revenue(core, share, price)
        - security_cost(share, relative_quality, core.exposure, core.params.security_weight)
        - penalty
        - core.pressure
    )
    if licence is None:
        return np.stack([allow, np.zeros_like(allow)], axis=-1)
    return np.stack([allow + licence[0], licence[1]], axis=-1)


def predicted_strategies(payoffs: Float, fixed: NDArray[np.int8]) -> NDArray[np.int8]:
    """Myopic best responses ``(R, J, 2) -> (R, J)``, ALLOW on ties; ``fixed >= 0`` overrides."""
    best = (payoffs[..., RESTRICT] > payoffs[..., ALLOW]).astype(np.int8)
    return np.where(fixed >= 0, fixed, best).astype(np.int8)


def rival_industry(core: Core) -> Bool:
    """Domestic providers and open models of rival origin, ``(J,)``."""
    return core.domestic | (core.open & ~core.home_origin)


def home_objective(
    core: Core, outcome_shares: Float, relative_quality: Float, restricts: int, price: Float
) -> Float:
    """``W_home`` of one policy given the long-run spend shares it leads to, ``(R, K) -> (R,)``."""
    p = core.params
    share = outcome_shares[..., :-1]
    revenue = (1.0 + core.dependence) * provider_revenue(core, share, price)
    exposure_index = security_cost(share, relative_quality, core.exposure, 1.0)
    foreign_f = core.foreign.astype(float)
    home_f = core.home_origin.astype(float)
    industry_f = rival_industry(core).astype(float)
    revenue_total = (revenue * foreign_f).sum(-1)
    if core.flags.licence:
        revenue_total = revenue_total + licence_income(core, outcome_shares, price).sum(-1)
    return np.asarray(
        p.home_revenue_weight * revenue_total
        - p.home_security_weight * (exposure_index * home_f).sum(-1)
        - p.home_rival_growth_weight * (share * industry_f).sum(-1)
        - restricts * p.home_enforcement_cost
    )


def rival_objective(core: Core, values: Float, available: Bool, restricts: int) -> Float:
    """``W_rival`` of one policy given which providers its enterprises can reach: ``-> (R,)``."""
    p = core.params
    shares = aggregate(logit_shares(values, available, core.mu), core.weight)[..., :-1]
    welfare = aggregate(logsum_welfare(values, available, core.mu), core.weight)
    foreign_f = core.foreign.astype(float)
    industry_f = rival_industry(core).astype(float)
    return np.asarray(
        welfare
        + p.rival_domestic_weight * (shares * industry_f).sum(-1)
        - p.rival_dependence_weight * (shares * foreign_f).sum(-1)
        + restricts * p.rival_control_value
    )


def transition_utilities(
    core: Core,
    values: Float,
    accessible: Bool,
    blocked_reachable: Bool,
    switching: Float,
) -> Float:
    """Logit utilities of a revising enterprise's options by segment and current option,
    shifted so each row's best available option has utility 0 (unavailable: ``-inf``).

    values ``(R, S, K)``; accessible ``(R, J)``; ``blocked_reachable`` ``(R, J)`` marks
    providers reachable only by circumvention; switching ``(S, K, K)`` or ``(R, S, K, K)``.
    Returns ``(R, S, K, K)``: entry ``[r, s, c, j]`` for an enterprise of segment ``s`` on
    option ``c`` considering ``j``.
    """
    ones = np.ones((*accessible.shape[:-1], 1), bool)
    reach = segment_available(core, accessible | blocked_reachable)
    available = np.concatenate(
        [reach, np.broadcast_to(ones[:, None, :], (*reach.shape[:2], 1))], -1
    )
    blocked = np.concatenate([blocked_reachable & ~accessible, ~ones], axis=-1)  # (R, K)
    option = values - core.circumvention_cost[None, :, None] * blocked[:, None, :]  # (R, S, K)
    utility = core.mu[None, :, None, None] * (option[..., None, :] - switching)
    utility = np.where(available[..., None, :], utility, -np.inf)
    utility -= utility.max(axis=-1, keepdims=True)
    return utility


def transition_probabilities(utilities: Float) -> Float:
    """Rows of :func:`transition_utilities` as probabilities (every row sums to one)."""
    weights = np.exp(utilities)
    return weights / weights.sum(axis=-1, keepdims=True)


def herfindahl(usage: Float) -> Float:
    """HHI of provider usage among enterprises that use a provider, ``(R, J) -> (R,)``;
    0 when nobody uses one."""
    total = usage.sum(-1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    return np.asarray(((usage / safe) ** 2).sum(-1) * (total[..., 0] > 0))
