r"""Pure NumPy payoff core: arrays in, arrays out, no Mesa.

Index conventions (every function accepts a leading axis of ``R`` independent runs):

* ``j = 0..J-1`` providers; option ``J`` is the outside option (no provider).
* ``F`` foreign providers are the subset with ``foreign[j]`` true.
* action index ``0`` is ALLOW, ``1`` is RESTRICT, for providers and governments alike.

Units: money in $M per step (one step = one month), quality relative to the frontier
(frontier = 1), shares as fractions of rival-region enterprises.

Enterprise side (McFadden logit with switching cost)
    option value        v_j   = q_j - kappa_p * p_j           (quality units), v_J = u_0
    utility of moving   U_cj  = mu * (v_j - tau_cj - c_circ * [j blocked])
    tau_cj = tau * [j != c] * (1 - delta * [j domestic]) for c a provider, 0 from c = J
    P(c -> j)           = exp(U_cj) / sum_l exp(U_cl)      over available options l
    long-run share      s_j   = exp(mu v_j) / (sum_{l accessible} exp(mu v_l) + exp(mu u_0))
    welfare (logsum)    W     = log(sum_{l accessible or J} exp(mu v_l)) / mu

Provider i (model brief), with usage share s_i and quality q_i:
    revenue_i    = m_i * p_i * V * s_i
    security_i   = sigma * kappa_i * q_i * s_i
    penalty_i    = [home restricts] * e * f * c_i
    pressure_i   = phi_i
    payoff_i(ALLOW)    = (1 + d_i) * revenue_i - security_i - penalty_i - pressure_i
    payoff_i(RESTRICT) = 0
``d_i`` is the rival-region business tied to AI access (cloud bundles), lost with it. For a
decision the provider evaluates ALLOW at its *attainable* share: the long-run logit share it
would have if accessible, given the other providers' current accessibility.

Home government, policy x in {ALLOW, RESTRICT (a mandate)}, anticipating each provider's best
response a_i(x) and the long-run shares s(x) that follow:
    W_home(x) = w_R * sum_i (1 + d_i) revenue_i(x) - w_S * sum_i kappa_i q_i s_i(x)
                - w_G * sum_{domestic} s_j(x) - [x = RESTRICT] * h

Rival government, policy y in {ALLOW, RESTRICT (block foreign services)}:
    W_rival(y) = W(y) + w_D * sum_{domestic} s_j(y) - w_F * sum_{foreign} s_i(y)
                 + [y = RESTRICT] * b
in quality units: enterprise welfare against domestic-industry share, foreign dependence and a
fixed value ``b`` of control (data sovereignty) that blocking brings whatever the usage. Because
the logit welfare loss of a block is nearly proportional to the foreign share it removes, ``b``
is what gives the rival a threshold: it blocks once the welfare loss falls below ``b``, that is
once domestic quality is close enough to the frontier (stylized fact SF4).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

ALLOW, RESTRICT = 0, 1


def option_values(
    relative_quality: Float, price: Float, price_sensitivity: float, outside_utility: float
) -> Float:
    """Deterministic value of each option, ``(R, J) -> (R, J + 1)``; last column is no provider."""
    values = relative_quality - price_sensitivity * price
    outside = np.full((*values.shape[:-1], 1), outside_utility)
    return np.concatenate([values, outside], axis=-1)


def _with_outside(accessible: Bool) -> Bool:
    """Available options ``(R, J + 1)``: the accessible providers and the outside option."""
    return np.concatenate([accessible, np.ones((*accessible.shape[:-1], 1), bool)], axis=-1)


def _logit_weights(values: Float, available: Bool, rationality: float) -> Float:
    """``exp(mu * (v - max_available v))`` on available options, 0 elsewhere, ``(..., K)``.

    The maximum is taken over available options only, so a blocked option of much higher value
    cannot drive every available weight to zero.
    """
    scaled = np.where(available, rationality * values, -np.inf)
    return np.exp(scaled - scaled.max(axis=-1, keepdims=True))


def logit_shares(values: Float, accessible: Bool, rationality: float) -> Float:
    """Long-run logit shares over accessible providers plus the outside option.

    values ``(R, J + 1)``, accessible ``(R, J)`` -> shares ``(R, J + 1)`` summing to one.
    """
    weights = _logit_weights(values, _with_outside(accessible), rationality)
    return weights / weights.sum(axis=-1, keepdims=True)


def attainable_shares(values: Float, accessible: Bool, rationality: float) -> Float:
    """Share provider ``j`` would have if it were accessible, the others as they are.

    values ``(R, J + 1)``, accessible ``(R, J)`` -> ``(R, J)``:
    ``w_j / (w_J + sum_{l != j, accessible} w_l + w_j)``, computed per ``j`` over its own
    choice set ``(R, J, J + 1)`` so that no weight underflows relative to another.
    """
    n_providers = accessible.shape[-1]
    own_option = np.eye(n_providers, n_providers + 1, dtype=bool)
    opened = _with_outside(accessible)[..., None, :] | own_option
    weights = _logit_weights(values[..., None, :], opened, rationality)  # (R, J, K)
    own = np.diagonal(weights, axis1=-2, axis2=-1)[..., :n_providers]
    return own / weights.sum(axis=-1)


def logsum_welfare(values: Float, accessible: Bool, rationality: float) -> Float:
    """Expected maximum utility in quality units, ``(R, J + 1), (R, J) -> (R,)``:
    ``log(sum_available exp(mu v)) / mu``; as ``rationality -> inf`` it tends to the best
    available value. ``rationality`` must be positive (the parameter range starts at 0.01)."""
    scaled = np.where(_with_outside(accessible), rationality * values, -np.inf)
    top = scaled.max(axis=-1)
    total = np.exp(scaled - top[..., None]).sum(axis=-1)
    return np.asarray((top + np.log(total)) / rationality)


def provider_revenue(share: Float, price: Float, margin: Float, market_value: float) -> Float:
    """``m * p * V * s`` in $M/step, elementwise over ``(R, J)``."""
    return margin * price * market_value * share


def security_cost(share: Float, relative_quality: Float, exposure: Float, weight: float) -> Float:
    """``sigma * kappa * q * s`` in $M/step (or the exposure index when ``weight = 1``)."""
    return weight * exposure * relative_quality * share


def expected_penalty(
    home_restricts: NDArray[np.generic], enforcement: float, fine: float, coverage: Float
) -> Float:
    """``[home restricts] * e * f * c``: ``(R,)`` policy and ``(J,)`` coverage -> ``(R, J)``."""
    return np.asarray(home_restricts)[..., None] * (enforcement * fine) * coverage


def provider_payoffs(
    share: Float,
    relative_quality: Float,
    penalty: Float,
    *,
    price: Float,
    margin: Float,
    dependence: Float,
    exposure: Float,
    pressure: Float,
    market_value: float,
    security_weight: float,
) -> Float:
    """Payoffs of ALLOW and RESTRICT at the given share: ``(R, J) -> (R, J, 2)``."""
    allow = (
        (1.0 + dependence) * provider_revenue(share, price, margin, market_value)
        - security_cost(share, relative_quality, exposure, security_weight)
        - penalty
        - pressure
    )
    return np.stack([allow, np.zeros_like(allow)], axis=-1)


def predicted_strategies(payoffs: Float, fixed: NDArray[np.int8]) -> NDArray[np.int8]:
    """Myopic best responses ``(R, J, 2) -> (R, J)``, ALLOW on ties; ``fixed >= 0`` overrides."""
    best = (payoffs[..., RESTRICT] > payoffs[..., ALLOW]).astype(np.int8)
    return np.where(fixed >= 0, fixed, best).astype(np.int8)


def home_objective(
    outcome_shares: Float,
    relative_quality: Float,
    restricts: int,
    *,
    foreign: Bool,
    price: Float,
    margin: Float,
    dependence: Float,
    exposure: Float,
    market_value: float,
    revenue_weight: float,
    security_weight: float,
    rival_growth_weight: float,
    enforcement_cost: float,
) -> Float:
    """``W_home`` of one policy given the long-run shares it leads to: ``(R, J + 1) -> (R,)``."""
    share = outcome_shares[..., :-1]
    revenue = (1.0 + dependence) * provider_revenue(share, price, margin, market_value)
    exposure_index = security_cost(share, relative_quality, exposure, 1.0)
    foreign_f = foreign.astype(float)
    return np.asarray(
        revenue_weight * (revenue * foreign_f).sum(-1)
        - security_weight * (exposure_index * foreign_f).sum(-1)
        - rival_growth_weight * (share * (1.0 - foreign_f)).sum(-1)
        - restricts * enforcement_cost
    )


def rival_objective(
    values: Float,
    accessible: Bool,
    *,
    foreign: Bool,
    rationality: float,
    domestic_weight: float,
    dependence_weight: float,
    control_value: float,
    restricts: int,
) -> Float:
    """``W_rival`` of one policy given which providers its enterprises can reach: ``-> (R,)``."""
    shares = logit_shares(values, accessible, rationality)[..., :-1]
    foreign_f = foreign.astype(float)
    return np.asarray(
        logsum_welfare(values, accessible, rationality)
        + domestic_weight * (shares * (1.0 - foreign_f)).sum(-1)
        - dependence_weight * (shares * foreign_f).sum(-1)
        + restricts * control_value
    )


def switching_costs(
    n_providers: int, domestic: Bool, switching_cost: float, migration_discount: float
) -> Float:
    """``tau_cj`` for current option ``c`` (rows, ``J + 1``) and new option ``j`` (columns)."""
    k = n_providers + 1
    to_domestic = np.concatenate([domestic, [False]])
    cost = np.full((k, k), switching_cost) * np.where(to_domestic, 1.0 - migration_discount, 1.0)
    np.fill_diagonal(cost, 0.0)
    cost[-1, :] = 0.0  # adopting from no provider has nothing to migrate
    cost[:, -1] = 0.0  # dropping AI use costs nothing extra
    return cost


def transition_probabilities(
    values: Float,
    accessible: Bool,
    blocked_reachable: Bool,
    switching: Float,
    *,
    rationality: float,
    circumvention_cost: float,
) -> Float:
    """Logit choice of a revising enterprise, by its current option.

    values ``(R, J + 1)``; accessible ``(R, J)``; ``blocked_reachable`` ``(R, J)`` marks
    providers reachable only by circumvention; switching ``(J + 1, J + 1)``.
    Returns ``P`` ``(R, J + 1, J + 1)`` with ``P[r, c, j]`` the probability that an enterprise
    currently on option ``c`` moves to ``j``; every row sums to one.
    """
    ones = np.ones((*accessible.shape[:-1], 1), bool)
    available = np.concatenate([accessible | blocked_reachable, ones], axis=-1)
    blocked = np.concatenate([blocked_reachable & ~accessible, ~ones], axis=-1)
    option = values - circumvention_cost * blocked  # (R, K)
    utility = rationality * (option[..., None, :] - switching)  # (R, K, K)
    utility = np.where(available[..., None, :], utility, -np.inf)
    utility -= utility.max(axis=-1, keepdims=True)
    weights = np.exp(utility)
    return weights / weights.sum(axis=-1, keepdims=True)


def herfindahl(usage: Float) -> Float:
    """HHI of provider usage among enterprises that use a provider, ``(R, J) -> (R,)``;
    0 when nobody uses one."""
    total = usage.sum(-1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    return np.asarray(((usage / safe) ** 2).sum(-1) * (total[..., 0] > 0))
