"""Pricing core (sim/pricing.py): best responses against a brute-force optimum and the Lambert W
closed form, the first-order condition, equilibrium and limits, price war and adjustment.

Markets are drawn by hypothesis with up to 4 segments (some with ``kappa = 0`` or zero weight),
up to 4 providers plus the outside option, random availability, costs above and below
``p_max``. ``mu kappa`` is kept at most 150 there so that the brute-force grid (20 001 points
on a range of at most 5) puts about 25 points across the narrowest demand step; sharper steps
(the model allows ``mu kappa`` up to 1e4) are covered by the one-segment closed form and a
dedicated test with a finer grid.

Tolerances, and why:

* profit of the best response against the brute-force optimum: relative ``1e-9``. The brute
  force refines its best grid cells with bounded Brent (``xatol = 1e-12``), so it is within
  ~1e-15 of the true maximum; picking a wrong local maximum costs far more than 1e-9, and a
  price error of ``d`` costs about ``(d mu kappa)^2`` relative profit.
* Lambert W closed form, first-order condition, Bertrand-logit equilibrium: ``1e-10`` (price
  index or relative). Both sides are computed to ~1e-14; shares near one lose digits in
  ``1 - s``, hence the margin, and the FOC tests compute ``1 - s`` as the other options' sum.
* exact equality only where the code is exact by construction (corners, ``alpha`` in {0, 1},
  non-responders, runs computed alone or in a batch).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.special import lambertw

from sim import pricing

PROFIT_RTOL = 1e-9
CLOSED_FORM_TOL = 1e-10


@dataclass(frozen=True)
class Market:
    """One batch of price problems, ``R`` runs, ``S`` segments, ``K`` options (outside last)."""

    nonprice: np.ndarray  # (R, S, K)
    price: np.ndarray  # (R, K)
    avail: np.ndarray  # (R, S, K)
    weights: np.ndarray  # (S,)
    mu: np.ndarray  # (S,)
    kappa: np.ndarray  # (S,)
    margin: np.ndarray  # (K,)
    marginal_cost: np.ndarray  # (K,)
    subsidy: float
    responders: np.ndarray  # (K,)
    p_max: float

    def args(self) -> tuple:
        return (
            self.nonprice,
            self.price,
            self.avail,
            self.weights,
            self.mu,
            self.kappa,
            self.margin,
            self.marginal_cost,
            self.subsidy,
            self.responders,
            self.p_max,
        )

    def best_response(self) -> np.ndarray:
        return pricing.best_response_prices(*self.args())

    def cost(self) -> np.ndarray:
        return pricing.effective_cost(self.margin, self.marginal_cost, self.subsidy)


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def markets(
    draw: st.DrawFn,
    max_segments: int = 4,
    max_providers: int = 4,
    mu: tuple[float, float] = (0.2, 30.0),
    kappa: tuple[float, float] = (0.05, 5.0),
) -> Market:
    """Random markets; ``kappa`` is 0 in some segments, weights are 0 in some."""
    runs = draw(st.integers(1, 2))
    n_seg = draw(st.integers(1, max_segments))
    k = draw(st.integers(1, max_providers)) + 1

    def array(shape: tuple[int, ...], elements: st.SearchStrategy) -> np.ndarray:
        return np.array(
            draw(st.lists(elements, min_size=math.prod(shape), max_size=math.prod(shape)))
        ).reshape(shape)

    nonprice = array((runs, n_seg, k), _floats(-3.0, 3.0))
    avail = array((runs, n_seg, k), st.booleans())
    avail[..., -1] = True
    price = array((runs, k), _floats(0.0, 3.0))
    price[:, -1] = 0.0
    raw = array((n_seg,), st.integers(0, 4)).astype(float)
    assume(raw.sum() > 0)
    responders = array((k,), st.booleans())
    responders[-1] = False
    return Market(
        nonprice=nonprice,
        price=price,
        avail=avail,
        weights=raw / raw.sum(),
        mu=array((n_seg,), _floats(*mu)),
        kappa=array((n_seg,), st.one_of(st.just(0.0), _floats(*kappa))),
        margin=array((k,), _floats(0.05, 1.0)),
        marginal_cost=array((k,), _floats(0.0, 2.0)),
        subsidy=draw(st.one_of(st.sampled_from([0.0, 1.0]), _floats(0.0, 1.0))),
        responders=responders,
        p_max=draw(_floats(0.5, 5.0)),
    )


def _own_profit(market: Market, run: int, j: int, prices: np.ndarray, value: float) -> np.ndarray:
    """Full profit ``(m_j p - (1 - sigma) c_j) V D_j`` of provider ``j`` in run ``run`` at each
    of ``prices``, the other prices as in the market."""
    prices = np.atleast_1d(np.asarray(prices, float))
    n = prices.size
    p = np.repeat(market.price[run : run + 1], n, axis=0)
    p[:, j] = prices
    d = pricing.demand(
        np.repeat(market.nonprice[run : run + 1], n, axis=0),
        p,
        np.repeat(market.avail[run : run + 1], n, axis=0),
        market.weights,
        market.mu,
        market.kappa,
    )[:, j]
    unit = market.margin[j] * prices - (1.0 - market.subsidy) * market.marginal_cost[j]
    return unit * value * d


def _brute_force(market: Market, run: int, j: int, value: float) -> tuple[float, float]:
    """Price and profit maximizing ``_own_profit`` on ``[floor, p_max]``: a 20 001-point grid,
    then bounded Brent inside the cells of the three best grid local maxima."""
    floor = float(
        pricing.price_floor(market.margin[j], market.marginal_cost[j], market.subsidy, market.p_max)
    )
    grid = np.linspace(floor, market.p_max, 20_001)
    profit = _own_profit(market, run, j, grid, value)
    peaks = [
        i
        for i in range(grid.size)
        if (i == 0 or profit[i] >= profit[i - 1])
        and (i == grid.size - 1 or profit[i] >= profit[i + 1])
    ]
    peaks = sorted(peaks, key=lambda i: -profit[i])[:3]
    best_p, best = float(grid[peaks[0]]), float(profit[peaks[0]])
    for i in peaks:
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        res = minimize_scalar(
            lambda x: -_own_profit(market, run, j, x, value)[0],
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-12},
        )
        if -res.fun > best:
            best_p, best = float(res.x), float(-res.fun)
    return best_p, best


def _segment_shares(market: Market, price: np.ndarray) -> np.ndarray:
    """Per-segment shares ``(R, S, K)`` from :func:`pricing.demand` one segment at a time."""
    return np.stack(
        [
            pricing.demand(
                market.nonprice[:, s : s + 1],
                price,
                market.avail[:, s : s + 1],
                np.ones(1),
                market.mu[s : s + 1],
                market.kappa[s : s + 1],
            )
            for s in range(market.weights.size)
        ],
        axis=1,
    )


def _fixed_market(seed: int, runs: int = 64, segments: int = 5, options: int = 9) -> Market:
    """A reproducible random market (the benchmark's shape by default), 4 responders."""
    rng = np.random.default_rng(seed)
    price = rng.uniform(0.2, 2.0, (runs, options))
    price[:, -1] = 0.0
    avail = rng.random((runs, segments, options)) < 0.8
    avail[..., -1] = True
    responders = np.zeros(options, bool)
    responders[: min(4, options - 1)] = True
    return Market(
        nonprice=rng.normal(0.0, 1.0, (runs, segments, options)),
        price=price,
        avail=avail,
        weights=rng.dirichlet(np.ones(segments)),
        mu=rng.uniform(1.0, 20.0, segments),
        kappa=rng.uniform(0.0, 2.0, segments),
        margin=rng.uniform(0.2, 1.0, options),
        marginal_cost=rng.uniform(0.0, 1.0, options),
        subsidy=0.1,
        responders=responders,
        p_max=5.0,
    )


def _one_segment(
    quality: float, outside: float, mu: float, kappa: float, n: int, cost: float, p_max: float
) -> Market:
    """``n`` identical providers and an outside option in one segment, one run."""
    nonprice = np.array([[[quality] * n + [outside]]])
    return Market(
        nonprice=nonprice,
        price=np.r_[np.linspace(0.5, 1.5, n), 0.0][None],
        avail=np.ones_like(nonprice, bool),
        weights=np.ones(1),
        mu=np.array([mu]),
        kappa=np.array([kappa]),
        margin=np.full(n + 1, 0.5),
        marginal_cost=np.full(n + 1, 0.5 * cost),
        subsidy=0.0,
        responders=np.r_[np.ones(n, bool), False],
        p_max=p_max,
    )


# --- demand -------------------------------------------------------------------------------


def _slow_demand(market: Market) -> np.ndarray:
    """Loop reference for :func:`pricing.demand`, with ``math.exp`` on shifted values."""
    runs, segments, k = market.nonprice.shape
    out = np.zeros((runs, k))
    for r in range(runs):
        for s in range(segments):
            vals = {
                j: market.mu[s] * (market.nonprice[r, s, j] - market.kappa[s] * market.price[r, j])
                for j in range(k)
                if market.avail[r, s, j]
            }
            top = max(vals.values())
            total = sum(math.exp(v - top) for v in vals.values())
            for j, v in vals.items():
                out[r, j] += market.weights[s] * math.exp(v - top) / total
    return out


@given(markets(mu=(0.0, 1000.0), kappa=(0.0, 10.0)))
def test_demand_rows_sum_to_one_and_match_loop(market: Market) -> None:
    """Over the model's whole ``mu``, ``kappa`` ranges (``mu v`` up to ~4e4: overflow-safe)."""
    d = pricing.demand(*market.args()[:6])
    assert np.isfinite(d).all()
    np.testing.assert_allclose(d.sum(axis=-1), 1.0, atol=1e-12)
    assert (d[:, :-1][~market.avail[:, :, :-1].any(axis=1)] == 0.0).all()
    np.testing.assert_allclose(d, _slow_demand(market), rtol=1e-12, atol=1e-15)


def test_demand_rejects_bad_markets() -> None:
    m = _fixed_market(0, runs=2)
    closed = m.avail.copy()
    closed[0, 0, -1] = False
    with pytest.raises(ValueError, match="outside option"):
        pricing.demand(m.nonprice, m.price, closed, m.weights, m.mu, m.kappa)
    with pytest.raises(ValueError, match="sum to 1"):
        pricing.demand(m.nonprice, m.price, m.avail, 2 * m.weights, m.mu, m.kappa)
    with pytest.raises(ValueError, match="kappa"):
        pricing.demand(m.nonprice, m.price, m.avail, m.weights, m.mu, -m.kappa)
    with pytest.raises(ValueError, match="outside option"):
        replace(m, responders=np.ones(9, bool)).best_response()
    with pytest.raises(ValueError, match="positive margin"):
        replace(m, margin=np.zeros(9)).best_response()


# --- costs ----------------------------------------------------------------------------------


def test_effective_cost_and_floor() -> None:
    margin, cost = np.array([0.5, 1.0, 0.0, 0.0]), np.array([0.4, 0.3, 0.2, 0.0])
    np.testing.assert_allclose(pricing.effective_cost(margin, cost, 0.0)[:2], [0.8, 0.3])
    np.testing.assert_allclose(pricing.effective_cost(margin, cost, 0.25)[:2], [0.6, 0.225])
    assert (pricing.effective_cost(margin, cost, 0.0)[2:] == np.inf).all()  # keeps nothing
    assert (pricing.effective_cost(margin[:2], cost[:2], 1.0) == 0.0).all()  # state pays all
    np.testing.assert_allclose(pricing.price_floor(margin, cost, 0.0, 0.7), [0.7, 0.3, 0.7, 0.7])
    with pytest.raises(ValueError, match="subsidy"):
        pricing.effective_cost(margin, cost, 1.5)


# --- best responses ---------------------------------------------------------------------------


@given(markets(), _floats(1e-3, 1e4))
def test_best_response_matches_brute_force(market: Market, value: float) -> None:
    """Also the argmax's invariance to V: the brute force maximizes the full profit
    ``(m p - (1 - sigma) c) V D``, the best response sees only ``c'`` and never ``V``."""
    out = market.best_response()
    keep = ~market.responders
    np.testing.assert_array_equal(out[:, keep], market.price[:, keep])
    floor = pricing.price_floor(market.margin, market.marginal_cost, market.subsidy, market.p_max)
    for run in range(out.shape[0]):
        for j in np.flatnonzero(market.responders):
            p = out[run, j]
            if not market.avail[run][market.weights > 0][:, j].any():  # nobody can buy: keep
                assert p == market.price[run, j]
                continue
            assert floor[j] <= p <= market.p_max
            if market.cost()[j] >= market.p_max:  # every price loses: the top loses least
                assert p == market.p_max
                continue
            _, best = _brute_force(market, run, j, value)
            ours = _own_profit(market, run, j, p, value)[0]
            assert ours >= best * (1 - PROFIT_RTOL), (run, j, p, ours, best)
            assert ours <= best * (1 + PROFIT_RTOL), (run, j, p, ours, best)  # brute force sane


def test_sharp_steps_against_a_fine_grid() -> None:
    """Segments with ``mu kappa`` up to 1e4 (the model's top), mixed with gentle ones: a grid of
    300 001 points (spacing <= 1.7e-5, 6 points across the sharpest step) plus Brent."""
    rng = np.random.default_rng(7)
    for trial in range(3):
        m = _fixed_market(trial, runs=1, segments=3, options=4)
        m = replace(m, mu=np.array([1000.0, 20.0, 3.0]), kappa=np.array([10.0, 0.5, 0.2]))
        m = replace(m, nonprice=m.nonprice + rng.normal(0, 0.01, m.nonprice.shape))
        out = m.best_response()
        for j in range(3):
            floor = float(pricing.price_floor(m.margin[j], m.marginal_cost[j], m.subsidy, m.p_max))
            grid = np.linspace(floor, m.p_max, 300_001)
            profit = _own_profit(m, 0, j, grid, 1.0)
            i = int(np.argmax(profit))
            res = minimize_scalar(
                lambda x, m=m, j=j: -_own_profit(m, 0, j, x, 1.0)[0],
                bounds=(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]),
                method="bounded",
                options={"xatol": 1e-13},
            )
            best = max(profit[i], -res.fun)
            ours = _own_profit(m, 0, j, out[0, j], 1.0)[0]
            assert ours >= best * (1 - PROFIT_RTOL), (trial, j, out[0, j], grid[i])


@given(
    markets(max_segments=1, mu=(0.01, 1000.0), kappa=(0.01, 10.0)),
    _floats(-50.0, 50.0),
)
def test_one_segment_matches_lambert_w(market: Market, shift: float) -> None:
    """Over the model's whole ``mu`` and ``kappa`` ranges; ``shift`` moves the responders'
    non-price values far up or down (``mu a`` up to 5e4: ``z`` overflows a double)."""
    nonprice = market.nonprice.copy()
    nonprice[..., :-1] += shift * market.responders[:-1]
    market = replace(market, nonprice=nonprice)
    closed = pricing.lambert_w_price(
        market.nonprice[:, 0],
        market.price,
        market.avail[:, 0],
        float(market.mu[0]),
        float(market.kappa[0]),
        market.margin,
        market.marginal_cost,
        market.subsidy,
        market.responders,
        market.p_max,
    )
    np.testing.assert_allclose(
        market.best_response(), closed, rtol=CLOSED_FORM_TOL, atol=CLOSED_FORM_TOL
    )


@given(markets(max_segments=1, kappa=(0.05, 5.0)))
def test_lambert_w_price_solves_the_first_order_condition(market: Market) -> None:
    """At an interior closed-form price ``mu kappa (p - c') (1 - s) = 1``."""
    k = market.nonprice.shape[-1]
    closed = pricing.lambert_w_price(
        market.nonprice[:, 0],
        market.price,
        market.avail[:, 0],
        float(market.mu[0]),
        float(market.kappa[0]),
        market.margin,
        market.marginal_cost,
        market.subsidy,
        market.responders,
        market.p_max,
    )
    cost = market.cost()
    e = market.mu[0] * market.kappa[0]
    for run in range(closed.shape[0]):
        for j in np.flatnonzero(market.responders):
            p = closed[run, j]
            if not market.avail[run, 0, j] or not cost[j] < p < market.p_max:
                continue
            price = market.price.copy()
            price[run, j] = p
            d = pricing.demand(
                market.nonprice, price, market.avail, np.ones(1), market.mu, market.kappa
            )
            rest = d[run, np.arange(k) != j].sum()  # 1 - s without cancellation
            assert e * (p - cost[j]) * rest == pytest.approx(1.0, rel=CLOSED_FORM_TOL)


@given(markets())
def test_first_order_condition_at_interior_optima(market: Market) -> None:
    """``D_j + (p - c') D_j' = 0`` divided by ``D_j``, with ``D_j' = -sum_s w_s mu_s kappa_s
    s_sj (1 - s_sj)`` from per-segment :func:`pricing.demand` shares."""
    out = market.best_response()
    cost = market.cost()
    k = market.nonprice.shape[-1]
    for j in np.flatnonzero(market.responders):
        price = market.price.copy()
        price[:, j] = out[:, j]
        shares = _segment_shares(market, price)  # (R, S, K)
        own = shares[..., j]
        rest = shares[..., np.arange(k) != j].sum(-1)
        d = (market.weights * own).sum(-1)
        slope = -(market.weights * market.mu * market.kappa * own * rest).sum(-1)
        for run in range(out.shape[0]):
            p = out[run, j]
            if d[run] > 1e-250 and cost[j] + 1e-9 < p < market.p_max - 1e-9:
                h = 1.0 + (p - cost[j]) * slope[run] / d[run]
                assert abs(h) <= CLOSED_FORM_TOL * max(1.0, (p - cost[j]) * -slope[run] / d[run])


def test_margin_and_subsidy_enter_only_through_the_effective_cost() -> None:
    m = _fixed_market(1)
    as_cost = replace(m, margin=np.ones(9), marginal_cost=m.cost(), subsidy=0.0)
    np.testing.assert_allclose(m.best_response(), as_cost.best_response(), rtol=1e-12)


def test_batch_equals_runs_alone() -> None:
    """No run affects another: fixed iteration counts and per-run reductions make the batch
    result identical to the runs solved one at a time."""
    m = _fixed_market(2, runs=8)
    alone = [
        replace(
            m, nonprice=m.nonprice[r : r + 1], price=m.price[r : r + 1], avail=m.avail[r : r + 1]
        ).best_response()
        for r in range(8)
    ]
    np.testing.assert_array_equal(m.best_response(), np.concatenate(alone))


def test_permuting_providers_permutes_prices() -> None:
    m = _fixed_market(3)
    perm = np.r_[np.random.default_rng(3).permutation(8), 8]  # the outside option stays last
    shuffled = replace(
        m,
        nonprice=m.nonprice[..., perm],
        price=m.price[:, perm],
        avail=m.avail[..., perm],
        margin=m.margin[perm],
        marginal_cost=m.marginal_cost[perm],
        responders=m.responders[perm],
    )
    np.testing.assert_allclose(shuffled.best_response(), m.best_response()[:, perm], rtol=1e-9)


# --- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mu, kappa", [(20.0, 0.0), (1e-9, 1.0), (20.0, 1e-9), (0.0, 1.0)])
def test_price_insensitive_demand_prices_at_the_top(mu: float, kappa: float) -> None:
    """``mu kappa -> 0``: demand no longer falls with price, so the best response is ``p_max``."""
    m = replace(_fixed_market(4, runs=4), mu=np.full(5, mu), kappa=np.full(5, kappa))
    out = m.best_response()
    sells = m.avail[:, :, :4].any(axis=1)
    assert (out[:, :4][sells] == m.p_max).all()


def test_kappa_falling_to_zero_raises_the_price_to_the_top() -> None:
    m = _one_segment(0.9, 0.0, mu=20.0, kappa=1.0, n=3, cost=0.2, p_max=5.0)
    prices = [
        replace(m, kappa=np.array([k])).best_response()[0, 0]
        for k in (1.0, 0.3, 0.1, 0.03, 0.01, 0.0)
    ]
    assert all(a < b for a, b in itertools.pairwise(prices[:-1])), prices
    assert prices[-1] == prices[-2] == m.p_max


def test_negligible_provider_charges_the_logit_markup() -> None:
    """``z -> 0``: ``p* -> c' + 1 / (mu kappa)`` (monopolistic-competition markup)."""
    m = _one_segment(-40.0, 0.0, mu=2.0, kappa=0.5, n=2, cost=0.3, p_max=10.0)
    out = m.best_response()
    np.testing.assert_allclose(out[0, :2], 0.3 + 1.0, rtol=CLOSED_FORM_TOL)


def test_cost_above_p_max_and_unavailable_providers() -> None:
    m = _fixed_market(5, runs=3)
    pricey = replace(m, marginal_cost=np.full(9, 20.0)).best_response()
    assert (pricey[:, :4][m.avail[:, :, :4].any(axis=1)] == m.p_max).all()
    closed = m.avail.copy()
    closed[:, :, 1] = False
    out = replace(m, avail=closed).best_response()
    np.testing.assert_array_equal(out[:, 1], m.price[:, 1])


def test_lambertw_exp_beyond_overflow() -> None:
    t = np.array([-np.inf, -800.0, -5.0, 0.0, 1.0, 50.0, 699.0])
    np.testing.assert_allclose(
        pricing.lambertw_exp(t), np.real(lambertw(np.exp(t))), rtol=1e-14, atol=1e-300
    )
    big = np.array([700.5, 1e3, 1e5, 1e300])
    w = pricing.lambertw_exp(big)
    np.testing.assert_allclose(w + np.log(w), big, rtol=1e-14)


# --- equilibrium ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_symmetric_bertrand_logit_equilibrium(n: int) -> None:
    """``n`` identical firms and an outside option: ``p = c' + 1 / (mu kappa (1 - s))``."""
    m = _one_segment(0.8, 0.0, mu=10.0, kappa=0.4, n=n, cost=0.3, p_max=50.0)
    result = pricing.nash_prices(*m.args())
    assert result.converged.all() and result.residual.max() < CLOSED_FORM_TOL
    p = result.prices[0, :n]
    np.testing.assert_allclose(p, p[0], rtol=CLOSED_FORM_TOL)
    d = pricing.demand(m.nonprice, result.prices, m.avail, m.weights, m.mu, m.kappa)[0]
    rest = 1.0 - d[0]
    assert p[0] == pytest.approx(0.3 + 1.0 / (4.0 * rest), rel=CLOSED_FORM_TOL)


def test_more_rivals_lower_the_equilibrium_price() -> None:
    prices = [
        pricing.nash_prices(*_one_segment(0.8, 0.0, 10.0, 0.4, n, 0.3, 50.0).args()).prices[0, 0]
        for n in (1, 2, 4, 8)
    ]
    assert all(a > b for a, b in itertools.pairwise(prices)), prices


def test_nash_prices_is_a_fixed_point_or_says_it_is_not() -> None:
    """Several segments: converged runs are fixed points of the best responses. In run 7 of this
    market one provider's profit has two local maxima of nearly equal height (prices about 1.0
    and 1.77), its best response jumps between them and the iteration cycles; the result must
    say so rather than report a fixed point."""
    m = _fixed_market(6, runs=8)
    result = pricing.nash_prices(*m.args(), rate=0.5, max_iter=300)
    np.testing.assert_array_equal(result.converged, np.arange(8) != 7)
    assert (result.iterations[:7] < 300).all() and result.iterations[7] == 300
    at_result = replace(m, price=result.prices).best_response()
    np.testing.assert_allclose(at_result[:7], result.prices[:7], atol=1e-10)
    gap = np.abs(at_result - result.prices).max(axis=-1)
    np.testing.assert_allclose(result.residual, gap, rtol=1e-12)
    assert result.residual[7] > 0.1


# --- price war and adjustment -------------------------------------------------------------------


@st.composite
def wars(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prices at or above their floors ``(R, K)``, floors ``(K,)``, responders ``(K,)``."""
    runs, k = draw(st.integers(1, 3)), draw(st.integers(2, 6))
    floor = np.array(draw(st.lists(_floats(0.0, 1.0), min_size=k, max_size=k)))
    extra = np.array(draw(st.lists(_floats(0.0, 3.0), min_size=runs * k, max_size=runs * k)))
    responders = np.array(draw(st.lists(st.booleans(), min_size=k, max_size=k)))
    return floor + extra.reshape(runs, k), floor, responders


@given(wars(), _floats(0.0, 1.0), _floats(0.0, 1.0))
def test_price_war_never_raises_prices_or_breaks_floors(war, cut: float, rate: float) -> None:
    price, floor, responders = war
    for _ in range(50):
        target = pricing.price_war_targets(price, responders, cut, floor)
        new = pricing.adjust(price, target, rate)
        assert (new <= price).all()
        assert (new >= floor).all()
        np.testing.assert_array_equal(new[:, ~responders], price[:, ~responders])
        price = new


@given(wars(), _floats(0.1, 1.0), _floats(0.3, 1.0))
def test_price_war_reaches_a_common_floor(war, cut: float, rate: float) -> None:
    """Equal floors ``f``, ``cut >= 0.1``, ``rate >= 0.3``: every target is at most
    ``max(f, (1 - cut) M)`` with ``M`` the highest responder price, so ``M - f`` shrinks by a
    factor ``1 - rate cut <= 0.97`` or better each round; from at most 4 above the floor, 800
    rounds bring every responder within 1e-9 (``0.97^800 * 4 < 1e-10``)."""
    price, floor, responders = war
    assume(responders.sum() >= 2)
    floor = np.full(floor.shape, floor[0])
    price = np.maximum(price, floor)
    for _ in range(800):
        price = pricing.adjust(
            price, pricing.price_war_targets(price, responders, cut, floor), rate
        )
    np.testing.assert_allclose(price[:, responders], floor[0], atol=1e-9)


def test_price_war_worked_examples() -> None:
    floor = np.array([0.1, 0.5, 0.0, 0.0])
    responders = np.array([True, True, False, False])
    price = np.array([[1.0, 2.0, 3.0, 0.0]])
    target = pricing.price_war_targets(price, responders, 0.2, floor)
    np.testing.assert_allclose(target, [[1.0, 0.8, 3.0, 0.0]])  # the cheapest stays put
    for _ in range(200):  # unequal floors: the high-floor firm stops at 0.5, the other 20% below
        price = pricing.adjust(price, pricing.price_war_targets(price, responders, 0.2, floor), 0.5)
    np.testing.assert_allclose(price, [[0.4, 0.5, 3.0, 0.0]], atol=1e-12)
    lone = np.array([True, False, False, False])  # nobody to undercut
    np.testing.assert_array_equal(pricing.price_war_targets(price, lone, 0.2, floor), price)
    matched = pricing.price_war_targets(np.array([[0.7, 0.9, 3.0, 0.0]]), responders, 0.0, floor)
    np.testing.assert_array_equal(matched, [[0.7, 0.7, 3.0, 0.0]])  # cut 0: match the cheapest


@given(
    st.lists(_floats(0.0, 10.0), min_size=1, max_size=8),
    st.lists(_floats(0.0, 10.0), min_size=1, max_size=8),
    _floats(0.0, 1.0),
)
def test_adjustment_limits(price: list[float], target: list[float], rate: float) -> None:
    n = min(len(price), len(target))
    p, t = np.array(price[:n]), np.array(target[:n])
    np.testing.assert_array_equal(pricing.adjust(p, t, 0.0), p)
    np.testing.assert_array_equal(pricing.adjust(p, t, 1.0), t)
    mid = pricing.adjust(p, t, rate)
    assert (mid >= np.minimum(p, t) - 1e-15).all() and (mid <= np.maximum(p, t) + 1e-15).all()
    np.testing.assert_allclose(mid - p, rate * (t - p), atol=1e-14)
    with pytest.raises(ValueError, match="rate"):
        pricing.adjust(p, t, 1.5)
