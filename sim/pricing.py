r"""Domestic providers' prices: segment-logit demand, best responses, price war, adjustment.

Pure NumPy/SciPy functions, arrays in and arrays out; every market array carries a leading
axis of ``R`` independent runs. Nothing here keeps state or draws random numbers.

Index conventions and units
    s = 0..S-1   enterprise segments: spend weight ``w_s`` (the weights sum to 1), logit scale
                 ``mu_s >= 0`` (1/quality) and price sensitivity ``kappa_s >= 0`` (quality per
                 price index); ``e_s = mu_s kappa_s`` (1/price index) sets how sharply a
                 segment reacts to a price.
    k = 0..K-1   options: the providers, then the outside option (no provider) in the last
                 column, as in :mod:`sim.payoffs`. ``J = K - 1`` providers.
    prices       price index, 1 = reference price of frontier-model access; the outside
                 option's entry is used as given (the caller passes 0).
    a_sk         non-price value of option k to segment s (quality terms, tastes, security
                 costs), quality units (frontier = 1).
    money        $M/step; shares are fractions of rival-region spend.

Demand (a mixture of McFadden logits, one per segment)
    v_sk = a_sk - kappa_s p_k
    s_sk = avail_sk exp(mu_s v_sk) / sum_l avail_sl exp(mu_s v_sl)
    D_k  = sum_s w_s s_sk                                   (R, K); each row sums to 1
The outside option is always available, so every denominator is positive. Shares are computed
after subtracting each segment's largest available ``mu_s v_sl``, so no exponential overflows.

Profit and the effective cost
    pi_j(p) = (m_j p_j - (1 - sigma) c_j) V D_j(p) = m_j V (p_j - c'_j) D_j(p),
    c'_j    = (1 - sigma) c_j / m_j                            (effective marginal cost)
with margin ``m_j`` in (0, 1], marginal cost ``c_j`` (price index per unit of demand), price
subsidy ``sigma`` in [0, 1] (the state pays ``sigma c_j``) and market value ``V > 0``. The
positive factor ``m_j V`` does not move the argmax, so only ``c'_j`` matters. The price floor
is ``min(c'_j, p_max)``: below ``c'_j`` every sale loses money.

One provider's demand against its own price (the other prices fixed)
    L_sj    = log sum_{l != j, avail} exp(mu_s v_sl)            (the outside option included)
    x_sj(p) = mu_s (a_sj - kappa_s p) - L_sj
    s_sj(p) = expit(x_sj(p)),   d s_sj / dp = -e_s s_sj (1 - s_sj)
so segment ``s`` contributes a logistic step that falls around ``t_sj = (mu_s a_sj - L_sj) /
e_s`` over a width ``1 / e_s``. The first-order condition ``D_j + (p - c'_j) D_j' = 0``,
``D_j' = -sum_s w_s e_s s_sj (1 - s_sj)``, divided by ``D_j > 0``, reads

    h_j(p) = 1 - (p - c'_j) A_j(p) = 0,   A_j = sum_s omega_s e_s (1 - s_sj),
    omega_s = w_s s_sj / D_j                (segment s's part of j's demand)

and ``h_j`` has the sign of ``d pi_j / dp``. Its derivative, used by Newton's method, is
``h_j' = -A_j - (p - c'_j) (A_j^2 + sum_s omega_s e_s^2 (1 - s_sj) (2 s_sj - 1))``.
Working with ``h`` and ``log pi`` (never ``pi`` itself) keeps the solver exact when demand is
far below the smallest double.

One segment: the closed form (Lambert W)
With one segment ``h = 0`` is ``e (p - c') (1 - s) = 1``. Write ``E = exp(mu (a_j - kappa p))``
and ``B = exp(L_j)`` so that ``1 - s = B / (B + E)``; the condition becomes
``e (p - c') B = B + E``. Put ``u = e (p - c') - 1``; then ``E = exp(mu (a_j - kappa c'))
exp(-(u + 1))`` and the condition is ``u exp(u) = exp(mu (a_j - kappa c') - 1) / B = z``, so
``u = W(z)`` with ``W`` the principal branch of Lambert's W (``z > 0``) and

    p*_j = c'_j + (1 + W(z_j)) / (mu kappa),   log z_j = mu (a_j - kappa c'_j) - 1 - L_j.

``(p - c') (1 - s(p))`` increases strictly in ``p > c'``, so ``h`` falls through zero once:
profit is quasi-concave and the best response on ``[floor, p_max]`` is ``p*`` clipped to it.
Limits: a negligible provider (``z -> 0``) charges the markup ``c' + 1 / (mu kappa)``; as
``mu kappa -> 0`` the price goes to ``p_max``. ``W(z)`` is evaluated from ``log z``, with a
Newton solve of ``w + log w = log z`` where ``z`` itself would overflow. The Lambert-W form of
the logit price is known (e.g. Li and Huh 2011, Manufacturing & Service Operations Management
13(4)); the derivation above is self-contained.

Several segments: the solver of :func:`best_response_prices`
A mixture of logits has no closed form, and profit need not be quasi-concave (on price
competition under mixed logit see Aksoy-Pierson, Allon and Federgruen 2013, Management Science
59(8)): it can have a local maximum near each segment's step. For each run and responder, with
a fixed cost per call:

1. candidates: ``GRID`` equally spaced prices on ``[floor, p_max]`` plus, for each segment,
   its own one-segment optimum ``p*_s`` and the points ``t_s + m / e_s``, ``m`` in
   ``STEP_OFFSETS``, all clipped to the range; ``log pi`` is evaluated at every candidate;
2. zoom: ``ZOOM`` equally spaced prices on each side between the best candidate and its
   nearest neighbours (candidates closer than ``1e-9 (p_max - floor)`` to it do not count);
3. Newton with bisection safeguard (``rtsafe``) on ``h`` in the half-cell next to the best
   point where ``h`` goes from positive to negative, ``NEWTON_STEPS`` iterations. The bracket
   invariant ``h(lo) > 0 >= h(hi)`` makes the limit a local maximum of profit;
4. the Newton point replaces the best grid point unless its profit is lower by more than a
   relative ``1e-12`` (a second, lower local maximum inside the same cell).

Corners come out of the same steps: ``p_max`` when profit still rises there (segments with
``kappa = 0`` or ``mu -> 0`` dominate); the floor only when ``c' >= p_max`` (profit then rises
on the whole range, and ``floor = p_max``). A responder no segment can buy from keeps its
current price. The interior optimum is found to rounding error (relative ``~1e-13``); a global
maximum could be missed only if its peak were narrower than the candidate spacing and far from
every segment's step, which the step-centred candidates rule out in practice (tested against a
brute-force optimum).

Price war
    target_j = max(floor_j, min(p_j, (1 - cut) min_{l != j, responding} p_l))
Each responder undercuts the cheapest other responder by ``cut`` but never raises its price
(a provider already that far below the others stays put) and never goes below its floor (one
that starts below its floor moves up to it). A lone responder has nobody to undercut and keeps
its price. With equal floors and ``cut > 0`` every responder falls to the floor.

Partial adjustment
    p <- p + alpha (target - p),   alpha in [0, 1]
kept between ``p`` and ``target`` against rounding, so a provider whose target is its own price
stays exactly put and a falling price never ticks up; ``alpha = 1`` returns ``target``.

Equilibrium: :func:`nash_prices` iterates simultaneous (optionally damped) best responses.
With one segment and ``n`` identical firms the fixed point satisfies
``p = c' + 1 / (mu kappa (1 - s))``, ``s`` each firm's share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, lambertw, log_expit

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

GRID = 33  # equally spaced candidates on [floor, p_max]
STEP_OFFSETS = (-1.0, 0.0, 1.0, 2.0, 4.0)  # candidates t_s + m / e_s around each segment's step
ZOOM = 8  # equally spaced prices on each side of the best candidate
_SEPARATION = 1e-9  # candidates closer than this times (p_max - floor) are not neighbours
NEWTON_STEPS = 40  # safeguarded Newton iterations on the first-order condition
_KEEP_GRID_POINT = 1e-12  # relative profit loss at which the Newton point is rejected
_LOG_OVERFLOW = 700.0  # exp(700) ~ 1e304: above it W(exp(t)) is computed from t


@dataclass(frozen=True)
class NashResult:
    """Outcome of :func:`nash_prices`.

    ``prices`` ``(R, K)``; ``converged`` ``(R,)`` whether the largest price change fell below
    ``tol``; ``iterations`` ``(R,)`` rounds of best responses until then (``max_iter`` if
    never); ``residual`` ``(R,)`` the largest ``|BR(p) - p|`` over responders at the end, in
    price-index units.
    """

    prices: Float
    converged: Bool
    iterations: NDArray[np.int64]
    residual: Float


# --- costs, floors, demand -----------------------------------------------------------------


def effective_cost(margin: ArrayLike, marginal_cost: ArrayLike, subsidy: float) -> Float:
    """``c' = (1 - sigma) c / m`` in price-index units, elementwise (usually ``(K,)``).

    A zero margin gives ``+inf``: the provider keeps nothing of any price.
    """
    _check_fraction(subsidy, "subsidy")
    m = np.asarray(margin, float)
    c = np.asarray(marginal_cost, float)
    if (m < 0).any() or (c < 0).any():
        raise ValueError("margin and marginal_cost must be non-negative")
    cost = (1.0 - subsidy) * c
    safe = np.where(m > 0, m, 1.0)
    with np.errstate(over="ignore"):  # a tiny margin's floor is out of range: +inf, as meant
        return np.where(m > 0, cost / safe, np.inf)


def price_floor(
    margin: ArrayLike, marginal_cost: ArrayLike, subsidy: float, p_max: ArrayLike = np.inf
) -> Float:
    """Lowest price a provider will charge, ``min(c', p_max)`` (price index, elementwise).

    It is the bottom of the best-response range and of the price war; capped at ``p_max`` so
    that the price range ``[floor, p_max]`` is never empty.
    """
    return np.minimum(effective_cost(margin, marginal_cost, subsidy), np.asarray(p_max, float))


def demand(
    nonprice: Float,
    price: Float,
    avail: Bool,
    weights: Float,
    mu: Float,
    kappa: Float,
) -> Float:
    """Spend-weighted logit demand shares ``D_k``, ``(R, S, K), (R, K), (R, S, K) -> (R, K)``.

    ``weights``, ``mu``, ``kappa`` are ``(S,)``; the last option is the outside option and
    must be available. Each row sums to one; unavailable options get exactly zero.
    """
    a, p, ok, w, mu_, kappa_ = _market(nonprice, price, avail, weights, mu, kappa)
    scaled = np.where(ok, mu_[:, None] * (a - kappa_[:, None] * p[:, None, :]), -np.inf)
    weight = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    shares = weight / weight.sum(axis=-1, keepdims=True)  # (R, S, K)
    return np.asarray(np.einsum("s,rsk->rk", w, shares))


# --- best responses ------------------------------------------------------------------------


def lambert_w_price(
    nonprice: Float,
    price: Float,
    avail: Bool,
    mu: float,
    kappa: float,
    margin: ArrayLike,
    marginal_cost: ArrayLike,
    subsidy: float,
    responders: ArrayLike,
    p_max: float,
) -> Float:
    """Closed-form best responses for one segment, ``(R, K), (R, K), (R, K) -> (R, K)``.

    ``p*_j = c'_j + (1 + W(z_j)) / (mu kappa)`` clipped to ``[floor_j, p_max]`` (see the
    module docstring); ``mu kappa = 0`` gives ``p_max``. Non-responders, and responders with
    no demand (unavailable), keep their price.
    """
    a, p, ok, _, mu_, kappa_ = _market(
        np.asarray(nonprice, float)[:, None, :],
        price,
        np.asarray(avail, bool)[:, None, :],
        np.ones(1),
        np.atleast_1d(np.asarray(mu, float)),
        np.atleast_1d(np.asarray(kappa, float)),
    )
    cols, cost, floor, top = _responder_costs(
        margin, marginal_cost, subsidy, responders, p_max, a.shape[-1]
    )
    y = _own_log_weight(a, p, ok, mu_, kappa_, cols)[:, 0, :]  # (R, Jr)
    e = float(mu_[0] * kappa_[0])
    if e > 0:
        with np.errstate(invalid="ignore"):
            best = cost + (1.0 + lambertw_exp(y - e * cost - 1.0)) / e
    else:
        best = np.broadcast_to(top, y.shape)
    best = np.clip(np.where(np.isfinite(best), best, top), floor, top)
    out = p.copy()
    out[:, cols] = np.where(np.isfinite(y), best, p[:, cols])
    return out


def best_response_prices(
    nonprice: Float,
    price: Float,
    avail: Bool,
    weights: Float,
    mu: Float,
    kappa: Float,
    margin: ArrayLike,
    marginal_cost: ArrayLike,
    subsidy: float,
    responders: ArrayLike,
    p_max: float,
) -> Float:
    """Each responder's profit-maximizing price on ``[floor, p_max]``, the others' fixed.

    Shapes: ``nonprice``, ``avail`` ``(R, S, K)``; ``price`` ``(R, K)``; ``weights``, ``mu``,
    ``kappa`` ``(S,)``; ``margin``, ``marginal_cost``, ``responders`` ``(K,)`` (the outside
    option, last, cannot respond). Returns ``(R, K)``: the responders' best responses, every
    other entry unchanged. Responders need a positive margin. Solver and accuracy: module
    docstring.
    """
    a, p, ok, w, mu_, kappa_ = _market(nonprice, price, avail, weights, mu, kappa)
    cols, cost, floor, top = _responder_costs(
        margin, marginal_cost, subsidy, responders, p_max, a.shape[-1]
    )
    out = p.copy()
    if cols.size == 0:
        return out
    y = np.moveaxis(_own_log_weight(a, p, ok, mu_, kappa_, cols), 1, -1)  # (R, Jr, S)
    e = mu_ * kappa_  # (S,)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    sells: Bool = np.asarray((np.isfinite(y) & (w > 0)).any(axis=-1))  # (R, Jr): buyers exist
    y = np.where(sells[..., None], y, 0.0)  # placeholder; those responders keep their price
    problem = _Problem(y=y, log_w=log_w, e=e, cost=cost)
    lo_end = np.broadcast_to(floor, y.shape[:-1])
    hi_end = np.broadcast_to(top, y.shape[:-1])

    # 1. candidates: a uniform grid and points placed on each segment's demand step
    grid = lo_end[..., None] + (hi_end - lo_end)[..., None] * np.linspace(0.0, 1.0, GRID)
    candidates = np.concatenate([grid, _step_candidates(problem, hi_end)], axis=-1)
    candidates = np.clip(candidates, lo_end[..., None], hi_end[..., None])
    gap = _SEPARATION * (hi_end - lo_end)
    best, left, right = _best_with_neighbours(problem, candidates, gap)
    # 2. zoom on both sides (np.linspace returns its end points exactly, so ``best`` is kept)
    below = np.linspace(left, best, ZOOM + 1, axis=-1)
    above = np.linspace(best, right, ZOOM + 1, axis=-1)[..., 1:]
    best, left, right = _best_with_neighbours(problem, np.concatenate([below, above], -1), gap)
    # 3. safeguarded Newton on the first-order condition next to the best point
    h_best = problem.foc(best)[0]
    rising = h_best > 0
    lo = np.where(rising, best, left)
    hi = np.where(rising, right, best)
    valid = (lo < hi) & (problem.foc(lo)[0] > 0) & (problem.foc(hi)[0] <= 0)
    lo = np.where(valid, lo, best)
    hi = np.where(valid, hi, best)
    root = _rtsafe(problem, lo, hi)
    # 4. keep the Newton point unless a grid point is clearly better
    with np.errstate(invalid="ignore"):  # -inf - -inf where no price covers the cost
        gain = problem.log_profit(root) - problem.log_profit(best)
    chosen = np.where(valid & (gain >= -_KEEP_GRID_POINT), root, best)
    chosen = np.where(cost >= top, top, chosen)  # no price covers the cost: the top loses least
    out[:, cols] = np.where(sells, chosen, p[:, cols])
    return out


# --- price war, adjustment, equilibrium -----------------------------------------------------


def price_war_targets(price: Float, responders: ArrayLike, cut: float, floor: ArrayLike) -> Float:
    """Undercutting targets ``(R, K), (K,), float, (K,) -> (R, K)``.

    ``target_j = max(floor_j, min(p_j, (1 - cut) min_{l != j responding} p_l))`` for
    responders; every other entry, and a lone responder, keeps its price.
    """
    _check_fraction(cut, "cut")
    p = np.asarray(price, float)
    resp = np.asarray(responders, bool)
    fl = np.broadcast_to(np.asarray(floor, float), resp.shape)
    if p.shape[-1] != resp.shape[0]:
        raise ValueError(f"price has {p.shape[-1]} options but responders has {resp.shape[0]}")
    others = np.where(resp & ~np.eye(resp.size, dtype=bool), p[..., None, :], np.inf)
    cheapest_other = others.min(axis=-1)  # (R, K): inf when j has no responding rival
    rivals = np.isfinite(cheapest_other)
    undercut = np.minimum(p, (1.0 - cut) * np.where(rivals, cheapest_other, 0.0))
    target = np.maximum(fl, undercut)
    return np.where(resp & rivals, target, p)


def adjust(price: ArrayLike, target: ArrayLike, rate: float) -> Float:
    """Partial adjustment ``p + rate (target - p)``, elementwise; ``rate`` in [0, 1].

    The result always lies between ``p`` and ``target`` (so a price moving down never rises by
    rounding), equals ``p`` exactly at ``rate = 0`` and ``target`` exactly at ``rate = 1``.
    """
    _check_fraction(rate, "rate")
    p = np.asarray(price, float)
    t = np.asarray(target, float)
    if rate == 1.0:
        return np.array(np.broadcast_to(t, np.broadcast_shapes(p.shape, t.shape)))
    return np.clip(p + rate * (t - p), np.minimum(p, t), np.maximum(p, t))


def nash_prices(
    nonprice: Float,
    price: Float,
    avail: Bool,
    weights: Float,
    mu: Float,
    kappa: Float,
    margin: ArrayLike,
    marginal_cost: ArrayLike,
    subsidy: float,
    responders: ArrayLike,
    p_max: float,
    *,
    rate: float = 1.0,
    tol: float = 1e-12,
    max_iter: int = 500,
) -> NashResult:
    """Iterate ``p <- adjust(p, best_response_prices(p), rate)`` from ``price`` to a fixed point.

    Arguments as :func:`best_response_prices`; ``rate < 1`` damps the iteration where
    simultaneous best responses overshoot. A run stops changing once its largest price step
    is below ``tol`` (price index). For tests and analysis, not for the model's step.

    With one segment the logit price game has a unique equilibrium (Anderson, de Palma and
    Thisse 1992, Discrete Choice Theory of Product Differentiation), which the iteration
    reached in every case tested. With several, a provider's profit can have two local
    maxima, its best response then jumps between them and no pure-price equilibrium need
    exist: such runs come back with ``converged`` false and a large ``residual``.
    """
    p = np.array(price, float)
    runs = p.shape[0]
    converged = np.zeros(runs, bool)
    iterations = np.full(runs, max_iter, np.int64)
    for i in range(1, max_iter + 1):
        active = ~converged
        if not active.any():
            break
        target = best_response_prices(
            nonprice[active],
            p[active],
            avail[active],
            weights,
            mu,
            kappa,
            margin,
            marginal_cost,
            subsidy,
            responders,
            p_max,
        )
        new = adjust(p[active], target, rate)
        done = np.abs(new - p[active]).max(axis=-1) < tol
        p[active] = new
        idx = np.flatnonzero(active)[done]
        converged[idx] = True
        iterations[idx] = i
    final = best_response_prices(
        nonprice, p, avail, weights, mu, kappa, margin, marginal_cost, subsidy, responders, p_max
    )
    residual = np.abs(final - p).max(axis=-1)
    return NashResult(prices=p, converged=converged, iterations=iterations, residual=residual)


def lambertw_exp(t: ArrayLike) -> Float:
    """``W(exp(t))``, principal branch, elementwise and overflow-free; ``t = -inf`` gives 0.

    Below ``t = 700`` SciPy's ``lambertw``; above, Newton on ``w + log w = t`` from
    ``w = t - log t`` (the relative error squares each step; six steps reach rounding).
    """
    t = np.asarray(t, float)
    small = np.real(lambertw(np.exp(np.minimum(t, _LOG_OVERFLOW))))
    big = np.maximum(t, _LOG_OVERFLOW)
    w = big - np.log(big)
    for _ in range(6):
        w = w - (w + np.log(w) - big) / (1.0 + 1.0 / w)
    return np.asarray(np.where(t > _LOG_OVERFLOW, w, small), float)


# --- internals -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    """One responder's profit against its own price, per run: ``y = mu_s a_sj - L_sj``
    ``(R, Jr, S)``, ``log w_s`` and ``e_s`` ``(S,)``, effective cost ``c'`` ``(Jr,)``."""

    y: Float
    log_w: Float
    e: Float
    cost: Float

    def _x(self, p: Float) -> Float:
        """``x_sj(p)``, prices ``(R, Jr, ...)`` -> ``(R, Jr, ..., S)``."""
        y = self.y.reshape(*self.y.shape[:2], *([1] * (p.ndim - 2)), self.y.shape[-1])
        return y - self.e * p[..., None]

    def _margin(self, p: Float) -> Float:
        return p - self.cost.reshape(-1, *([1] * (p.ndim - 2)))

    def log_profit(self, p: Float) -> Float:
        """``log((p - c') D_j(p))`` up to the constant ``log(m V)``; ``-inf`` at ``p <= c'``."""
        log_d = _logsumexp(self.log_w + log_expit(self._x(p)))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.log(np.maximum(self._margin(p), 0.0)) + log_d)

    def foc(self, p: Float) -> tuple[Float, Float]:
        """``h_j(p)`` and ``h_j'(p)`` (module docstring), same shape as ``p``."""
        x = self._x(p)
        part = self.log_w + log_expit(x)
        omega = np.exp(part - part.max(axis=-1, keepdims=True))
        omega /= omega.sum(axis=-1, keepdims=True)
        up, down = expit(x), expit(-x)  # s_sj and 1 - s_sj
        big_a = (omega * self.e * down).sum(axis=-1)
        slope = (omega * self.e**2 * down * (2.0 * up - 1.0)).sum(axis=-1)
        gap = self._margin(p)
        # an unbounded price times a vanishing demand slope is NaN (or overflows): the callers
        # read a non-finite value as "no root here" and keep the grid's best point
        with np.errstate(invalid="ignore", over="ignore"):
            return 1.0 - gap * big_a, -big_a - gap * (big_a**2 + slope)


def _step_candidates(problem: _Problem, top: Float) -> Float:
    """Per segment, the one-segment optimum and points around the demand step, ``(R, Jr, C)``
    (``top`` where a segment has no step: ``e_s = 0`` or ``j`` unavailable to it)."""
    e = problem.e
    has_step = (e > 0) & np.isfinite(problem.y)  # (R, Jr, S)
    safe_e = np.where(e > 0, e, 1.0)
    y = np.where(has_step, problem.y, 0.0)
    cost = problem.cost[:, None]
    # a step too far out to represent (e_s below ~1e-308: y / e and m / e overflow, inf - inf)
    # has no candidate in range either: the non-finite points are dropped below
    with np.errstate(over="ignore", invalid="ignore"):
        own = cost + (1.0 + lambertw_exp(y - safe_e * cost - 1.0)) / safe_e
        step = y / safe_e
        points = [own] + [step + m / safe_e for m in STEP_OFFSETS]
    out = np.stack([np.where(has_step & np.isfinite(q), q, top[..., None]) for q in points], -1)
    return out.reshape(*out.shape[:2], -1)


def _best_with_neighbours(
    problem: _Problem, candidates: Float, gap: Float
) -> tuple[Float, Float, Float]:
    """Most profitable of the candidates ``(R, Jr, C)``, with the nearest candidates more than
    ``gap`` ``(R, Jr)`` below and above it (the point itself where there is none). Ignoring
    near-duplicates keeps a rounding-level cell from hiding the side the maximum is on."""
    k = np.argmax(problem.log_profit(candidates), axis=-1)[..., None]
    best = np.take_along_axis(candidates, k, axis=-1)
    left = np.where(candidates < best - gap[..., None], candidates, -np.inf).max(axis=-1)
    right = np.where(candidates > best + gap[..., None], candidates, np.inf).min(axis=-1)
    best = best[..., 0]
    return best, np.where(np.isfinite(left), left, best), np.where(np.isfinite(right), right, best)


def _rtsafe(problem: _Problem, lo: Float, hi: Float) -> Float:
    """Root of ``h`` in ``[lo, hi]`` with ``h(lo) > 0 >= h(hi)``: Newton steps, bisection when a
    step leaves the bracket or shrinks too slowly; ``NEWTON_STEPS`` iterations. Entries with
    ``lo == hi`` stay put."""
    p = 0.5 * (lo + hi)
    before_last = hi - lo
    last = before_last
    for _ in range(NEWTON_STEPS):
        h, dh = problem.foc(p)
        positive = h > 0
        lo = np.where(positive, p, lo)
        hi = np.where(positive, hi, p)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = p - h / dh  # a non-finite step falls back to bisection below
        fast = np.abs(newton - p) <= 0.5 * np.abs(before_last)
        use = np.isfinite(newton) & (newton > lo) & (newton < hi) & fast
        nxt = np.where(use, newton, 0.5 * (lo + hi))
        before_last, last = last, nxt - p
        p = nxt
    return p


def _own_log_weight(
    a: Float, p: Float, ok: Bool, mu: Float, kappa: Float, cols: NDArray[np.intp]
) -> Float:
    """``mu_s a_sj - L_sj`` for the columns ``cols``, ``(R, S, Jr)``; ``-inf`` where ``j`` is
    unavailable to segment ``s``."""
    scaled = np.where(ok, mu[:, None] * (a - kappa[:, None] * p[:, None, :]), -np.inf)
    own = np.eye(a.shape[-1], dtype=bool)[cols]  # (Jr, K)
    others = np.where(own, -np.inf, scaled[:, :, None, :])  # (R, S, Jr, K)
    log_rest = _logsumexp(others)
    return np.where(ok[..., cols], mu[:, None] * a[..., cols] - log_rest, -np.inf)


def _responder_costs(
    margin: ArrayLike,
    marginal_cost: ArrayLike,
    subsidy: float,
    responders: ArrayLike,
    p_max: float,
    n_options: int,
) -> tuple[NDArray[np.intp], Float, Float, Float]:
    """Responder columns and their effective cost, floor and ``p_max``, each ``(Jr,)``."""
    resp = np.asarray(responders, bool)
    m = np.broadcast_to(np.asarray(margin, float), resp.shape)
    c = np.broadcast_to(np.asarray(marginal_cost, float), resp.shape)
    if resp.shape != (n_options,):
        raise ValueError(f"responders has shape {resp.shape}, expected ({n_options},)")
    if resp[-1]:
        raise ValueError("the outside option (last column) cannot respond")
    if not p_max > 0 or np.isnan(p_max):
        raise ValueError(f"p_max must be positive, got {p_max}")
    cols = np.flatnonzero(resp)
    if (m[cols] <= 0).any():
        raise ValueError("responders need a positive margin")
    cost = effective_cost(m[cols], c[cols], subsidy)
    top = np.full(cols.shape, float(p_max))
    return cols, cost, np.minimum(cost, top), top


def _market(
    nonprice: ArrayLike,
    price: ArrayLike,
    avail: ArrayLike,
    weights: ArrayLike,
    mu: ArrayLike,
    kappa: ArrayLike,
) -> tuple[Float, Float, Bool, Float, Float, Float]:
    """Arrays of one market, checked: ``(R, S, K), (R, K), (R, S, K), (S,), (S,), (S,)``."""
    a = np.asarray(nonprice, float)
    p = np.asarray(price, float)
    ok = np.asarray(avail, bool)
    w, mu_, kappa_ = (np.asarray(x, float) for x in (weights, mu, kappa))
    if a.ndim != 3 or ok.shape != a.shape or p.shape != (a.shape[0], a.shape[2]):
        raise ValueError(
            f"nonprice {a.shape} and avail {ok.shape} must be (R, S, K) and price {p.shape} (R, K)"
        )
    for name, x in (("weights", w), ("mu", mu_), ("kappa", kappa_)):
        if x.shape != (a.shape[1],):
            raise ValueError(f"{name} has shape {x.shape}, expected ({a.shape[1]},)")
        if not np.isfinite(x).all() or (x < 0).any():
            raise ValueError(f"{name} must be finite and non-negative")
    if abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"weights must sum to 1, got {w.sum()}")
    if not ok[..., -1].all():
        raise ValueError("the outside option (last column) must always be available")
    if not (np.isfinite(a).all() and np.isfinite(p).all()):
        raise ValueError("nonprice and price must be finite")
    return a, p, ok, w, mu_, kappa_


def _logsumexp(x: Float) -> Float:
    """``log sum exp`` over the last axis; ``-inf`` where every entry is ``-inf``."""
    top = x.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.asarray(np.log(np.exp(x - top).sum(axis=-1)) + top[..., 0])


def _check_fraction(value: float, name: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
