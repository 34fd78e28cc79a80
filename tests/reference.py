r"""A slow, per-agent reference implementation of the engine, in plain Python.

Written from the equations in the module docstrings of :mod:`sim.payoffs`, :mod:`sim.rules`,
:mod:`sim.dynamics`, :mod:`sim.pricing` and :mod:`sim.engine` and in ``docs/ODD.md`` section 7,
with loops over segments, providers and enterprises and the :mod:`math` module only. Nothing
from ``sim`` is called except to read parameters (``Params.schedule``, ``resolved_segments``)
and, at step 0, :func:`sim.network.build` for the enterprises' network: the network is an
input here like the parameters (its generators are checked against closed forms and networkx
in ``tests/test_network.py``). Like EGTTools' analytical tests checking its C++ core against
Python, ``tests/test_reference.py`` asserts the vectorized engine agrees with it.

What one step covers (month ``t`` to ``t + 1``):

* dated events: the parameters in force from month ``t + 1`` and the state that month sets
  (policies, controls, a provider's strategy, quality as a share of the current frontier,
  price, compute), learning memories reset where a rule changed;
* segments ``s`` with their own rationality ``mu_s``, price sensitivity, switching and
  circumvention costs, revision rate, security sensitivity, frontier need and barred channels;
  providers excluding segments; a provider serves a segment unless either rules it out;
* option values ``v_sj = q_j - kappa_s p_j - n_s (1 - q_j) - sigma_s [foreign] - h_j [open]``;
* providers' ALLOW/RESTRICT payoffs at their attainable spend-weighted shares, with licence
  income (a licensor's ALLOW counts its licensees' long-run shares with it reachable, RESTRICT
  without it; under a rival block both without it), the home government's anticipation of best
  responses, the rival government's welfare, the home government's compute controls;
* decisions in the engine's order; domestic prices by the price war or best responses;
* enterprises: revision with their segment's rate, forced moves from options their segment can
  no longer reach, migration offers while a foreign provider restricts, persistent tastes and
  peer effects (spend-weighted shares of their neighbours' options at the start of the step);
* spend-weighted usage, revenue and capability learning; open-weight models (always reachable,
  home origin lagging the frontier, rival origin following the best domestic model); compute
  and export controls; diffusion toward the knowledge pool; discrete frontier releases.

Random draws. Both implementations consume the same numbers in the same order, the order the
engine docstring lists, from each run's own generator. At step 0: spend sizes ``(N,)``
normals when some segment's spend varies, tastes ``(N, 3)`` normals when some segment has
tastes, the network's one integer, adoption uniforms ``(N,)``. Each step: firm revision
``(J_f,)``, firm rule, home revision, home rule, rival revision, rival rule, [controls revision,
controls rule], enterprise revision ``(N,)``, enterprise option ``(N,)``. A rule draws one
uniform per agent (two for Fermi: model, then adoption; none for ``fixed``). A draw from a
discrete distribution with weights ``w_0..w_{A-1}`` uses inverse-CDF sampling: the option is
the number of cumulative sums ``w_0 + .. + w_a`` at or below ``u`` times the total (for
enterprise moves without personal utilities: below ``u``, the last cumulative probability
taken as one).

Conventions shared with the engine and checked elsewhere: action 0 is ALLOW, 1 RESTRICT;
option ``J`` is no provider; enterprises lie in contiguous segment blocks of sizes
``floor(share N)`` plus one for the largest remainders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.engine import State
from sim.params import Params

ALLOW, RESTRICT = 0, 1
CODE = {"allow": ALLOW, "restrict": RESTRICT, "off": 0, "on": 1}
TASTE_KINDS = ("foreign", "domestic", "open")
PRICE_MAX = 10.0  # top of the price range (the schema's range of ``price``)
_TINY = 1e-12  # Roth-Erev propensity floor (rules docstring: propensities stay positive)
INF = math.inf


# --------------------------------------------------------------------------- helpers


def _logit_probabilities(utilities: list[float]) -> list[float]:
    """``exp(u_a) / sum_b exp(u_b)`` over finite utilities; ``-inf`` marks an unavailable
    option (probability 0). Shifted by the maximum for overflow safety."""
    top = max(u for u in utilities if u != -INF)
    weights = [0.0 if u == -INF else math.exp(u - top) for u in utilities]
    total = sum(weights)
    return [w / total for w in weights]


def _inverse_cdf(weights: list[float], u: float, last_is_one: bool = False) -> int:
    """Option drawn by uniform ``u`` from non-negative ``weights`` (see module docstring)."""
    cumulative = []
    running = 0.0
    for w in weights:
        running += w
        cumulative.append(running)
    if last_is_one:
        cumulative[-1] = 1.0
        threshold = u
    else:
        threshold = u * cumulative[-1]
    index = sum(1 for c in cumulative if threshold >= c)
    return min(index, len(weights) - 1)


def _expit(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _log_expit(x: float) -> float:
    """``log(1 / (1 + exp(-x)))`` without underflow."""
    if x >= 0:
        return -math.log1p(math.exp(-x))
    return x - math.log1p(math.exp(x))


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    if top == -INF:
        return -INF
    return top + math.log(sum(math.exp(v - top) for v in values))


def money_scale(params: Params) -> float:
    """A bound on the size of the terms summed into any revenue, payoff or objective ($M/step),
    over every stage of ``params``: results computed with the terms in another order, or from
    spend shares rounded differently, differ by a few ulps of this, not of the result (which
    may be a small difference of large terms)."""
    out = 1.0
    for stage in params.schedule():
        p = stage.params
        provs = p.providers
        revenue = p.market_value * PRICE_MAX * max(1.0 + pr.rival_dependence for pr in provs)
        weights = (
            p.security_weight * 10.0
            + p.home_fine
            + p.home_security_weight * 10.0
            + p.home_rival_growth_weight
            + p.home_enforcement_cost
            + p.export_control_cost
            + p.home_gap_weight
            + max(pr.home_exposure for pr in provs)
        )
        out = max(out, 1.0 + revenue * (1.0 + p.home_revenue_weight) * 2.0 + weights)
    return out


def segment_sizes(shares: list[float], n: int) -> list[int]:
    """Members per segment: ``floor(share n)``, the remainder to the largest fractional parts
    (ties to the earlier segment)."""
    exact = [s * n for s in shares]
    counts = [math.floor(x) for x in exact]
    short = n - sum(counts)
    order = sorted(range(len(shares)), key=lambda k: -(exact[k] - counts[k]))  # stable
    for k in order[:short]:
        counts[k] += 1
    return counts


# --------------------------------------------------------------------------- rules


def rule_step(
    rule: str,
    payoffs: list[list[float]],
    current: list[int],
    memory: list[list[float]],
    t: int,
    rng: np.random.Generator,
    *,
    rationality: float,
    intensity: float,
    forgetting: float,
) -> tuple[list[int], list[list[float]]]:
    """One population of ``n`` agents with ``A`` actions: new actions and memory."""
    n = len(payoffs)
    actions = len(payoffs[0])
    if rule == "fixed":
        return list(current), memory
    if rule == "fermi":
        u_model = rng.random(n).tolist()
        u_adopt = rng.random(n).tolist()
        new = []
        for i in range(n):
            own = payoffs[i][current[i]]
            if n == 1:
                # the model is a uniformly chosen other action of the agent itself
                offset = 1 + math.floor(u_model[i] * (actions - 1))
                model_action = (current[i] + offset) % actions
                model_payoff = payoffs[i][model_action]
            else:
                m = math.floor(u_model[i] * (n - 1))
                if m >= i:
                    m += 1  # uniform over the other n - 1 agents
                model_action = current[m]
                model_payoff = payoffs[m][current[m]]
            adopt = u_adopt[i] < _expit(intensity * (model_payoff - own))
            new.append(model_action if adopt else current[i])
        return new, memory
    if rule == "fictitious_play":
        memory = [
            [memory[i][a] + (payoffs[i][a] - memory[i][a]) / (t + 1) for a in range(actions)]
            for i in range(n)
        ]
        return rule_step(
            "best_response",
            memory,
            current,
            memory,
            t,
            rng,
            rationality=rationality,
            intensity=intensity,
            forgetting=forgetting,
        )
    if rule == "roth_erev":
        updated = []
        for i in range(n):
            reinforcement = payoffs[i][current[i]] - min(payoffs[i])
            updated.append(
                [
                    max(
                        (1.0 - forgetting) * memory[i][a]
                        + (reinforcement if a == current[i] else 0.0),
                        _TINY,
                    )
                    for a in range(actions)
                ]
            )
        u = rng.random(n).tolist()
        return [_inverse_cdf(updated[i], u[i]) for i in range(n)], updated
    u = rng.random(n).tolist()
    new = []
    for i in range(n):
        if rule == "best_response":
            best = max(payoffs[i])
            weights = [1.0 if p >= best else 0.0 for p in payoffs[i]]
        elif rule == "logit":
            weights = _logit_probabilities([rationality * p for p in payoffs[i]])
        else:
            raise ValueError(f"reference: unknown rule {rule!r}")
        new.append(_inverse_cdf(weights, u[i]))
    return new, memory


# --------------------------------------------------------------------------- parameters


class Stage:
    """The parameters in force from one month on, as plain Python values."""

    def __init__(self, params: Params) -> None:
        self.p = p = params
        provs = p.providers
        self.J = J = len(provs)
        self.names = [pr.name for pr in provs]
        self.channel = [pr.channel for pr in provs]
        self.foreign = [c in ("direct", "partner") for c in self.channel]
        self.domestic = [c == "domestic" for c in self.channel]
        self.open = [c == "open" for c in self.channel]
        origin = [
            pr.origin or ("rival" if c == "domestic" else "home")
            for pr, c in zip(provs, self.channel, strict=True)
        ]
        self.home_origin = [o == "home" for o in origin]
        # domestic providers and open models of rival origin
        self.industry = [
            self.domestic[j] or (self.open[j] and not self.home_origin[j]) for j in range(J)
        ]
        self.quality = [pr.quality for pr in provs]  # relative (foreign: constant)
        self.margin = [pr.margin for pr in provs]
        self.cost = [pr.marginal_cost for pr in provs]
        self.exposure = [
            pr.security_exposure if self.home_origin[j] else 0.0 for j, pr in enumerate(provs)
        ]
        self.pressure = [pr.home_exposure if self.foreign[j] else 0.0 for j, pr in enumerate(provs)]
        self.dependence = [
            pr.rival_dependence if self.foreign[j] else 0.0 for j, pr in enumerate(provs)
        ]
        self.coverage = [
            pr.mandate_coverage if self.foreign[j] else 0.0 for j, pr in enumerate(provs)
        ]
        self.hosting = [pr.hosting_cost if self.open[j] else 0.0 for j, pr in enumerate(provs)]
        self.fixed = [CODE.get(pr.fixed_strategy) for pr in provs]  # None: free
        self.licensor = [self.names.index(pr.licensor) if pr.licensor else None for pr in provs]
        self.revenue_share = [pr.revenue_share for pr in provs]
        self.offer = [pr.migration_offer if self.domestic[j] else 0.0 for j, pr in enumerate(provs)]
        self.kind = [0 if self.foreign[j] else 1 if self.domestic[j] else 2 for j in range(J)]
        segs = p.resolved_segments()
        self.S = len(segs)
        self.segment_names = [s.name for s in segs]
        self.share = [s.share for s in segs]
        self.size_mean = [s.size_mean for s in segs]
        self.size_sigma = [s.size_sigma for s in segs]
        self.taste_sd = [s.taste_sd for s in segs]
        self.mu = [s.enterprise_rationality for s in segs]
        self.kappa = [s.price_sensitivity for s in segs]
        self.tau = [s.switching_cost for s in segs]
        self.circ = [s.circumvention_cost for s in segs]
        self.rho = [s.revision_rate for s in segs]
        self.security = [s.security_sensitivity for s in segs]
        self.need = [s.frontier_need for s in segs]
        self.serves = [
            [
                self.channel[j] not in s.barred_channels
                and s.name not in provs[j].excluded_segments
                for j in range(J)
            ]
            for s in segs
        ]
        spend = [s.share * s.size_mean for s in segs]
        self.w = [x / sum(spend) for x in spend] if self.S > 1 else [1.0]
        self.members = segment_sizes(self.share, p.n_enterprises)
        self.segment_of = [s for s, k in enumerate(self.members) for _ in range(k)]
        self.has_licence = any(x is not None for x in self.licensor)
        self.peers = p.network.kind != "none" and p.peer_effect > 0
        self.compute_on = (
            p.compute_effect > 0
            or p.compute_per_revenue > 0
            or p.compute_subsidy > 0
            or any(pr.compute > 0 for pr in provs)
        )

    # ---- the enterprise side
    def values(self, rel: list[float], price: list[float]) -> list[list[float]]:
        """``v_sj`` per segment, ``u_0`` last."""
        out = []
        for s in range(self.S):
            row = []
            for j in range(self.J):
                v = rel[j] - self.kappa[s] * price[j]
                v -= self.need[s] * (1.0 - rel[j])
                v -= self.security[s] * (1.0 if self.foreign[j] else 0.0)
                v -= self.hosting[j]
                row.append(v)
            out.append([*row, self.p.outside_utility])
        return out

    def nonprice(self, rel: list[float]) -> list[list[float]]:
        """``a_sj = v_sj + kappa_s p_j``: the value of each option without its price."""
        return self.values(rel, [0.0] * self.J)

    def accessible(self, strategy: list[int], rival_policy: int) -> list[bool]:
        return [
            not (self.foreign[j] and (strategy[j] == RESTRICT or rival_policy == RESTRICT))
            for j in range(self.J)
        ]

    def available(self, accessible: list[bool]) -> list[list[bool]]:
        return [[accessible[j] and self.serves[s][j] for j in range(self.J)] for s in range(self.S)]

    def shares(self, s: int, values: list[list[float]], available: list[bool]) -> list[float]:
        """Segment ``s``'s long-run logit shares over its available providers and no provider."""
        mu = self.mu[s]
        utilities = [mu * values[s][j] if available[j] else -INF for j in range(self.J)]
        return _logit_probabilities([*utilities, mu * values[s][self.J]])

    def aggregate(self, per_segment: list[list[float]]) -> list[float]:
        """``sum_s w_s x_s`` entry by entry."""
        return [
            sum(self.w[s] * per_segment[s][k] for s in range(self.S))
            for k in range(len(per_segment[0]))
        ]

    def market_shares(self, values, available) -> list[float]:
        return self.aggregate([self.shares(s, values, available[s]) for s in range(self.S)])

    def welfare(self, s: int, values: list[list[float]], available: list[bool]) -> float:
        """Logsum ``(max mu v + log sum exp(mu v - max mu v)) / mu`` over available options."""
        mu = self.mu[s]
        scaled = [mu * values[s][j] for j in range(self.J) if available[j]]
        scaled.append(mu * values[s][self.J])
        top = max(scaled)
        return (top + math.log(sum(math.exp(x - top) for x in scaled))) / mu

    # ---- money
    def revenue(self, j: int, share: float, price: list[float]) -> float:
        """``(m p - c) V s``."""
        return (self.margin[j] * price[j] - self.cost[j]) * self.p.market_value * share

    def licence_income(self, i: int, shares: list[float], price: list[float]) -> float:
        """``sum_{l licensed by i} r_l p_l V s_l``."""
        income = 0.0
        for lic in range(self.J):
            if self.licensor[lic] == i:
                income += shares[lic] * (self.revenue_share[lic] * price[lic] * self.p.market_value)
        return income

    def allow_payoff(self, j, share, rel, home_policy, price) -> float:
        """``(1 + d) revenue - sigma kappa q s - [home restricts] e f c - phi``."""
        p = self.p
        penalty = (p.home_enforcement * p.home_fine) * self.coverage[j] if home_policy else 0.0
        security = p.security_weight * self.exposure[j] * rel[j] * share
        return (
            (1.0 + self.dependence[j]) * self.revenue(j, share, price)
            - security
            - penalty
            - self.pressure[j]
        )


@dataclass
class RunState:
    """One run's state as plain Python values; the population never changes."""

    t: int
    frontier: float
    quality: list[float]  # absolute
    strategy: list[int]
    home_policy: int
    rival_policy: int
    controls: int
    price: list[float]
    compute: list[float]
    choice: list[int]
    firm_memory: list[list[float]]
    home_memory: list[list[float]]
    rival_memory: list[list[float]]
    controls_memory: list[list[float]]
    size: list[float] = field(repr=False)
    taste: list[list[float]] | None = field(repr=False)
    neighbours: list[list[int]] | None = field(repr=False)

    @property
    def rel(self) -> list[float]:
        return [q / self.frontier for q in self.quality]


def run_state(state: State, r: int) -> RunState:
    """Run ``r`` of an engine state, copied into plain Python values."""
    pop = state.population
    n = state.choice.shape[1]
    taste = None
    if pop.taste is not None:
        taste = [[float(x) for x in row] for row in pop.taste[r * n : (r + 1) * n]]
    neighbours = None
    if pop.graph is not None:
        indptr, indices = pop.graph.indptr, pop.graph.indices  # type: ignore[attr-defined]
        neighbours = [
            [int(m) - r * n for m in indices[indptr[r * n + i] : indptr[r * n + i + 1]]]
            for i in range(n)
        ]
    return RunState(
        t=state.t,
        frontier=float(state.frontier[r]),
        quality=[float(x) for x in state.quality[r]],
        strategy=[int(x) for x in state.strategy[r]],
        home_policy=int(state.home_policy[r]),
        rival_policy=int(state.rival_policy[r]),
        controls=int(state.controls[r]),
        price=[float(x) for x in state.price[r]],
        compute=[float(x) for x in state.compute[r]],
        choice=[int(x) for x in state.choice[r]],
        firm_memory=[[float(x) for x in row] for row in state.firm_memory[r]],
        home_memory=[[float(x) for x in row] for row in state.home_memory[r]],
        rival_memory=[[float(x) for x in row] for row in state.rival_memory[r]],
        controls_memory=[[float(x) for x in row] for row in state.controls_memory[r]],
        size=[float(x) for x in pop.size[r]],
        taste=taste,
        neighbours=neighbours,
    )


def _memory(rule: str, rows: int) -> list[list[float]]:
    """Learning memory at step 0: one payoff unit of propensity per action for Roth-Erev, zero
    payoff means otherwise."""
    fill = 1.0 if rule == "roth_erev" else 0.0
    return [[fill, fill] for _ in range(rows)]


class Reference:
    """The model's equations for one run, segment by segment, provider by provider and
    enterprise by enterprise, with the dated stages of ``params``."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.stages = [
            (stage.month, Stage(stage.params), stage.state) for stage in params.schedule()
        ]

    def stage(self, month: int) -> Stage:
        """The parameters in force at ``month``."""
        current = self.stages[0][1]
        for start, stage, _ in self.stages:
            if start <= month:
                current = stage
        return current

    # ---- payoffs
    def firm_payoffs(self, g: Stage, s: RunState, values, home_policy: int) -> list[list[float]]:
        """ALLOW/RESTRICT of every provider at its attainable spend-weighted share."""
        accessible = g.accessible(s.strategy, s.rival_policy)
        available = g.available(accessible)
        rel = s.rel
        out = []
        for j in range(g.J):
            per_segment = []
            for seg in range(g.S):
                if not g.serves[seg][j]:
                    per_segment.append(0.0)
                    continue
                with_j = list(available[seg])
                with_j[j] = True
                per_segment.append(g.shares(seg, values, with_j)[j])
            share = sum(g.w[seg] * per_segment[seg] for seg in range(g.S))
            if s.rival_policy == RESTRICT:
                share = 0.0  # ODD 7.3: while the rival blocks, allowing earns nothing there
            allow = g.allow_payoff(j, share, rel, home_policy, s.price)
            restrict = 0.0
            if g.has_licence:
                closed = self._licence(g, j, values, available, s.price, opened=False)
                opened_income = closed
                if s.rival_policy == ALLOW:
                    opened_income = self._licence(g, j, values, available, s.price, opened=True)
                allow += opened_income
                restrict = closed
            out.append([allow, restrict])
        return out

    def _licence(self, g: Stage, i: int, values, available, price, opened: bool) -> float:
        """Provider ``i``'s licence income at the long-run shares with it reachable (where it
        serves) or not, the others as they are."""
        per_segment = []
        for seg in range(g.S):
            choice = list(available[seg])
            choice[i] = g.serves[seg][i] if opened else False
            per_segment.append(g.shares(seg, values, choice))
        return g.licence_income(i, g.aggregate(per_segment), price)

    def home_payoffs(self, g: Stage, s: RunState, values) -> list[float]:
        """``W_home`` of ALLOW and RESTRICT, anticipating providers' myopic best responses."""
        p = g.p
        rel = s.rel
        out = []
        for policy in (ALLOW, RESTRICT):
            firm = self.firm_payoffs(g, s, values, policy)
            predicted = []
            for j in range(g.J):
                if g.fixed[j] is not None:
                    predicted.append(g.fixed[j])
                else:  # myopic best response, ALLOW on ties
                    predicted.append(RESTRICT if firm[j][RESTRICT] > firm[j][ALLOW] else ALLOW)
            available = g.available(g.accessible(predicted, s.rival_policy))
            shares = g.market_shares(values, available)
            revenue = security = industry = 0.0
            for j in range(g.J):
                if g.foreign[j]:
                    revenue += (1.0 + g.dependence[j]) * g.revenue(j, shares[j], s.price)
                if g.home_origin[j]:
                    security += g.exposure[j] * rel[j] * shares[j]
                if g.industry[j]:
                    industry += shares[j]
            if g.has_licence:
                revenue += sum(g.licence_income(i, shares, s.price) for i in range(g.J))
            out.append(
                p.home_revenue_weight * revenue
                - p.home_security_weight * security
                - p.home_rival_growth_weight * industry
                - policy * p.home_enforcement_cost
            )
        return out

    def rival_payoffs(self, g: Stage, s: RunState, values) -> list[float]:
        """``W_rival`` of ALLOW and RESTRICT at the providers' current strategies."""
        p = g.p
        out = []
        for policy in (ALLOW, RESTRICT):
            available = g.available(g.accessible(s.strategy, policy))
            shares = g.market_shares(values, available)
            welfare = sum(g.w[seg] * g.welfare(seg, values, available[seg]) for seg in range(g.S))
            industry = sum(shares[j] for j in range(g.J) if g.industry[j])
            foreign = sum(shares[j] for j in range(g.J) if g.foreign[j])
            out.append(
                welfare
                + p.rival_domestic_weight * industry
                - p.rival_dependence_weight * foreign
                + policy * p.rival_control_value
            )
        return out

    def controls_payoffs(self, g: Stage, s: RunState) -> list[float]:
        """The home government's ``w_gap x*(xi) - cost [on]``: ``x* = g / (g + r*)`` of the best
        domestic provider at the current spend shares, compute at its steady state
        ``c* = (1 - xi [on]) (kappa_c R + b_c) / (gamma_F + delta)`` (unbounded while
        invested when nothing decays); with no frontier growth and no catch-up the gap stays
        where it is."""
        p = g.p
        usage = self.spend_usage(g, s)
        accessible = g.accessible(s.strategy, s.rival_policy)
        revenue = [g.revenue(j, usage[j] if accessible[j] else 0.0, s.price) for j in range(g.J)]
        foreign_usage = sum(usage[j] for j in range(g.J) if g.foreign[j])
        decay = p.frontier_compute_growth + p.compute_depreciation
        rel = s.rel
        out = []
        for on in (0, 1):
            best = INF
            for j in range(g.J):
                if not g.domestic[j]:
                    continue
                invest = (1.0 - p.export_control_strength * on) * (
                    p.compute_per_revenue * revenue[j] + p.compute_subsidy
                )
                if decay > 0:
                    compute = invest / decay
                else:
                    compute = math.copysign(INF, invest) if invest != 0 else s.compute[j]
                rate = (
                    p.learning_rate * usage[j]
                    + p.rival_subsidy
                    + p.spillover_rate * (foreign_usage)
                )
                if p.compute_effect > 0:
                    rate += p.compute_effect * compute
                rate = min(max(rate, 0.0), 1.0)
                if p.frontier_growth + rate > 0:
                    gap = p.frontier_growth / (p.frontier_growth + rate)
                else:
                    gap = 1.0 - rel[j]
                best = min(best, gap)
            out.append(p.home_gap_weight * best - on * p.export_control_cost)
        return out

    # ---- prices
    def prices(self, g: Stage, s: RunState, values) -> list[float]:
        """Domestic prices after this month's price decision: each domestic provider keeping a
        margin moves a share ``alpha`` of the way to its target (price war or best response)."""
        p = g.p
        responders = [g.domestic[j] and g.margin[j] > 0 for j in range(g.J)]
        floor = [
            min((1.0 - p.price_subsidy) * g.cost[j] / g.margin[j], PRICE_MAX)
            if responders[j]
            else 0.0
            for j in range(g.J)
        ]
        if p.price_rule == "price_war":
            target = list(s.price)
            for j in range(g.J):
                others = [s.price[k] for k in range(g.J) if responders[k] and k != j]
                if responders[j] and others:
                    undercut = min(s.price[j], (1.0 - p.price_war_cut) * min(others))
                    target[j] = max(floor[j], undercut)
        else:
            target = self._best_responses(g, s, responders, floor)
        alpha = p.price_adjustment
        new = list(s.price)
        for j in range(g.J):
            if not g.domestic[j]:
                continue
            if alpha == 1.0:
                new[j] = target[j]
            else:
                step = s.price[j] + alpha * (target[j] - s.price[j])
                new[j] = min(max(step, min(s.price[j], target[j])), max(s.price[j], target[j]))
        return new

    def _best_responses(self, g: Stage, s: RunState, responders, floor) -> list[float]:
        """Each responder's profit-maximizing price on ``[floor, 10]``, the others' fixed:
        ``max (p - c') D_j(p)``, ``D_j = sum_s w_s s_sj(p)``, ``s_sj`` segment ``s``'s logit
        share of ``j`` at its own price ``p``. Found by brute force: a dense grid (with extra
        points around every segment's demand step, where narrow local maxima live), then
        bisection on the sign of the first-order condition between the best point's
        neighbours."""
        p = g.p
        a = g.nonprice(s.rel)
        available = g.available(g.accessible(s.strategy, s.rival_policy))
        target = list(s.price)
        for j in range(g.J):
            if not responders[j]:
                continue
            cost = (1.0 - p.price_subsidy) * g.cost[j] / g.margin[j]
            # log of segment s's weight on everything but j, and j's log weight at price 0
            parts = []
            for seg in range(g.S):
                if not available[seg][j] or g.w[seg] <= 0:
                    continue
                mu, kappa = g.mu[seg], g.kappa[seg]
                rest = [
                    mu * (a[seg][k] - kappa * s.price[k])
                    for k in range(g.J)
                    if k != j and available[seg][k]
                ]
                rest.append(mu * a[seg][g.J])
                top = max(rest)
                log_rest = top + math.log(sum(math.exp(x - top) for x in rest))
                parts.append((g.w[seg], mu * a[seg][j] - log_rest, mu * kappa))
            if not parts:
                continue  # nobody can buy from it: it keeps its price
            if cost >= PRICE_MAX:
                target[j] = PRICE_MAX  # no price covers the cost: the top loses least
                continue

            def log_weights(price: float, parts=parts) -> list[float]:
                """``log(w_s s_sj(p))`` per segment (logs: demand may be far below the
                smallest double)."""
                return [math.log(w) + _log_expit(y - e * price) for w, y, e in parts]

            def log_profit(price: float, parts=parts, cost=cost) -> float:
                """``log((p - c') D_j(p))``."""
                if price <= cost:
                    return -INF
                return math.log(price - cost) + _logsumexp(log_weights(price))

            def foc(price: float, parts=parts, cost=cost) -> float:
                """``1 - (p - c') sum_s omega_s e_s (1 - s_sj)``, the sign of d profit / dp, with
                ``omega_s`` segment ``s``'s part of ``j``'s demand."""
                logs = log_weights(price)
                total = _logsumexp(logs)
                slope = sum(
                    math.exp(lw - total) * e * _expit(-(y - e * price))
                    for lw, (_, y, e) in zip(logs, parts, strict=True)
                )
                return 1.0 - (price - cost) * slope

            lo_end, hi_end = floor[j], PRICE_MAX
            grid = {lo_end + (hi_end - lo_end) * k / 4000 for k in range(4001)}
            for _, y, e in parts:
                if e > 0:
                    for m in range(-40, 81):
                        q = y / e + (m / 4.0) / e
                        if lo_end < q < hi_end:
                            grid.add(q)
            points = sorted(grid)
            profits = [log_profit(x) for x in points]
            k = max(range(len(points)), key=lambda i: (profits[i], -i))
            best = points[k]
            lo = points[k - 1] if k > 0 else best
            hi = points[k + 1] if k + 1 < len(points) else best
            if foc(best) > 0:
                lo = best
            else:
                hi = best
            if lo < hi and foc(lo) > 0 >= foc(hi):
                for _ in range(200):
                    mid = 0.5 * (lo + hi)
                    if mid <= lo or mid >= hi:
                        break
                    if foc(mid) > 0:
                        lo = mid
                    else:
                        hi = mid
                root = hi if abs(foc(hi)) < abs(foc(lo)) else lo
                if log_profit(root) >= log_profit(best) - 1e-12 * abs(log_profit(best)):
                    best = root
            target[j] = best
        return target

    # ---- usage
    def counts(self, g: Stage, s: RunState) -> list[list[int]]:
        """Enterprises on each option by segment."""
        out = [[0] * (g.J + 1) for _ in range(g.S)]
        for i, c in enumerate(s.choice):
            out[g.segment_of[i]][c] += 1
        return out

    def spend(self, g: Stage, s: RunState) -> list[list[float]]:
        """Their spend: the sum of the members' sizes on each option."""
        out = [[0.0] * (g.J + 1) for _ in range(g.S)]
        for i, c in enumerate(s.choice):
            out[g.segment_of[i]][c] += s.size[i]
        return out

    def spend_usage(self, g: Stage, s: RunState) -> list[float]:
        """Share of all spend on each provider."""
        total = sum(s.size)
        on = [0.0] * (g.J + 1)
        for i, c in enumerate(s.choice):
            on[c] += s.size[i]
        return [on[j] / total for j in range(g.J)]

    # ---- step 0
    def initial(self, rng: np.random.Generator) -> RunState:
        """Step 0: the month-0 parameters' qualities, strategies (fixed ones override), policies,
        prices and compute; spend sizes, tastes and the network drawn; enterprises adopting
        from their long-run logit probabilities (their own, with tastes), one uniform each."""
        g = self.stage(0)
        p = g.p
        n = p.n_enterprises
        seg = g.segment_of
        if any(x > 0 for x in g.size_sigma):
            z = rng.standard_normal(n).tolist()
            size = [
                g.size_mean[seg[i]]
                * math.exp(g.size_sigma[seg[i]] * z[i] - 0.5 * g.size_sigma[seg[i]] ** 2)
                for i in range(n)
            ]
        else:
            size = [float(g.size_mean[seg[i]]) for i in range(n)]
        taste = None
        if any(x > 0 for x in g.taste_sd):
            z3 = rng.standard_normal((n, 3)).tolist()
            taste = [[z3[i][k] * g.taste_sd[seg[i]] for k in range(3)] for i in range(n)]
        neighbours = None
        if p.network.kind != "none":
            from sim import network  # an input, like the parameters (module docstring)

            net = p.network
            graph = network.build(
                net.kind,
                n,
                net.mean_degree,
                net.clustering,
                net.homophily,
                np.array(seg, np.int16),
                rng,
            )
            assert graph is not None
            neighbours = [
                graph.indices[graph.indptr[i] : graph.indptr[i + 1]].tolist() for i in range(n)
            ]
        strategy = [
            g.fixed[j]
            if g.fixed[j] is not None
            else CODE[pr.initial_strategy]
            if g.foreign[j]
            else ALLOW
            for j, pr in enumerate(p.providers)
        ]
        rival = CODE[p.rival_policy]
        quality = [float(x) for x in g.quality]
        price = [pr.price for pr in p.providers]
        values = g.values(quality, price)
        available = g.available(g.accessible(strategy, rival))
        u = rng.random(n).tolist()
        choice = []
        for i in range(n):
            sg = seg[i]
            if taste is None:
                weights = g.shares(sg, values, available[sg])
            else:
                mu = g.mu[sg]
                utilities = [
                    mu * (values[sg][j] + taste[i][g.kind[j]]) if available[sg][j] else -INF
                    for j in range(g.J)
                ]
                weights = _logit_probabilities([*utilities, mu * (values[sg][g.J] + 0.0)])
            choice.append(_inverse_cdf(weights, u[i], last_is_one=True))
        n_foreign = sum(g.foreign)
        return RunState(
            t=0,
            frontier=1.0,
            quality=quality,
            strategy=strategy,
            home_policy=CODE[p.home_policy],
            rival_policy=rival,
            controls=CODE[p.home_controls],
            price=price,
            compute=[pr.compute for pr in p.providers],
            choice=choice,
            firm_memory=_memory(p.firm_rule, n_foreign),
            home_memory=_memory(p.home_rule, 1),
            rival_memory=_memory(p.rival_rule, 1),
            controls_memory=_memory(p.home_controls_rule, 1),
            size=size,
            taste=taste,
            neighbours=neighbours,
        )

    # ---- events
    def enter(self, s: RunState, month: int) -> RunState:
        """The state the stage starting at ``month`` sets (if one does)."""
        for start, g, sets in self.stages:
            if start != month or start == 0:
                continue
            previous = self.stage(month - 1)
            s = RunState(**{**s.__dict__})
            s.strategy, s.quality = list(s.strategy), list(s.quality)
            s.price, s.compute = list(s.price), list(s.compute)
            for key, value in sets.items():
                if key == "home_policy":
                    s.home_policy = CODE[value]
                elif key == "rival_policy":
                    s.rival_policy = CODE[value]
                elif key == "home_controls":
                    s.controls = CODE[value]
                else:
                    name, _, what = key.partition(".")
                    j = g.names.index(name)
                    if what in ("initial_strategy", "fixed_strategy") and g.foreign[j] and value:
                        s.strategy[j] = CODE[value]
                    elif what == "quality":
                        s.quality[j] = float(value) * s.frontier
                    elif what == "price":
                        s.price[j] = float(value)
                    elif what == "compute":
                        s.compute[j] = float(value)
            old, new = previous.p, g.p
            if new.firm_rule != old.firm_rule:
                s.firm_memory = _memory(new.firm_rule, len(s.firm_memory))
            if new.home_rule != old.home_rule:
                s.home_memory = _memory(new.home_rule, 1)
            if new.rival_rule != old.rival_rule:
                s.rival_memory = _memory(new.rival_rule, 1)
            if new.home_controls_rule != old.home_controls_rule:
                s.controls_memory = _memory(new.home_controls_rule, 1)
        return s

    # ---- the step
    def step(
        self, s: RunState, rng: np.random.Generator, prices: list[float] | None = None
    ) -> RunState:
        """State at ``t + 1`` from state ``s`` at ``t``, drawing from ``rng``.

        Under the best-response price rule the prices this step computes are kept in
        ``self.best_response_prices``; ``prices``, if given, replaces them for the rest of the
        step (to continue from another solver's answer once it is checked against them)."""
        month = s.t + 1
        s = self.enter(s, month)
        g = self.stage(month)
        p = g.p
        values = g.values(s.rel, s.price)
        foreign_idx = [j for j in range(g.J) if g.foreign[j]]

        def revise(rule, payoff, current, memory, rate, rationality):
            revising = [u < rate for u in rng.random(len(current)).tolist()]
            chosen, memory = rule_step(
                rule,
                payoff(),
                current,
                memory,
                s.t,
                rng,
                rationality=rationality,
                intensity=p.imitation_intensity,
                forgetting=p.roth_erev_forgetting,
            )
            new = [c if r else old for c, r, old in zip(chosen, revising, current, strict=True)]
            return new, memory

        # 1-2. payoffs at the current state and decisions: firms, home, rival, controls
        def firm():
            payoffs = self.firm_payoffs(g, s, values, s.home_policy)
            return [payoffs[j] for j in foreign_idx]

        new_foreign, firm_memory = revise(
            p.firm_rule,
            firm,
            [s.strategy[j] for j in foreign_idx],
            s.firm_memory,
            p.firm_revision_rate,
            p.firm_rationality,
        )
        strategy = list(s.strategy)
        for k, j in enumerate(foreign_idx):
            strategy[j] = g.fixed[j] if g.fixed[j] is not None else new_foreign[k]
        (home_policy,), home_memory = revise(
            p.home_rule,
            lambda: [self.home_payoffs(g, s, values)],
            [s.home_policy],
            s.home_memory,
            p.gov_revision_rate,
            p.home_rationality,
        )
        (rival_policy,), rival_memory = revise(
            p.rival_rule,
            lambda: [self.rival_payoffs(g, s, values)],
            [s.rival_policy],
            s.rival_memory,
            p.gov_revision_rate,
            p.rival_rationality,
        )
        controls, controls_memory = s.controls, s.controls_memory
        if p.home_controls_rule != "fixed":
            (controls,), controls_memory = revise(
                p.home_controls_rule,
                lambda: [self.controls_payoffs(g, s)],
                [s.controls],
                s.controls_memory,
                p.gov_revision_rate,
                p.home_rationality,
            )
        price = s.price
        self.best_response_prices: list[float] | None = None
        if p.price_rule != "fixed":
            price = self.prices(g, s, values)
            if p.price_rule == "best_response":
                self.best_response_prices = price
                price = list(prices) if prices is not None else price
            values = g.values(s.rel, price)

        # 3. enterprises choose among the options their segment can reach
        accessible = g.accessible(strategy, rival_policy)
        circumventable = [(not accessible[j]) and p.circumvention for j in range(g.J)]
        offer = any(strategy[j] == RESTRICT for j in foreign_idx) and any(g.offer)

        def tau(seg: int, c: int, j: int) -> float:
            if c == g.J or j == g.J or j == c:
                return 0.0
            cost = g.tau[seg] * ((1.0 - p.domestic_migration_discount) if g.domestic[j] else 1.0)
            if offer and g.foreign[c]:
                cost = max(cost - g.tau[seg] * g.offer[j], 0.0)
            return cost

        rows: dict[tuple[int, int], list[float]] = {}

        def utilities(seg: int, c: int) -> list[float]:
            """``mu_s (v_sj - tau_scj - c_s [circumventing])``, shifted so the best is 0."""
            if (seg, c) not in rows:
                mu = g.mu[seg]
                out = []
                for j in range(g.J + 1):
                    if j < g.J and not ((accessible[j] or circumventable[j]) and g.serves[seg][j]):
                        out.append(-INF)
                        continue
                    option = values[seg][j]
                    if j < g.J and circumventable[j]:
                        option -= g.circ[seg]
                    out.append(mu * (option - tau(seg, c, j)))
                top = max(out)
                rows[seg, c] = [u - top for u in out]
            return rows[seg, c]

        personal = s.taste is not None or (g.peers and s.neighbours is not None)
        u_revise = rng.random(len(s.choice)).tolist()
        u_option = rng.random(len(s.choice)).tolist()
        choice = []
        for i, c in enumerate(s.choice):
            seg = g.segment_of[i]
            # forced migration: the option is out of the segment's reach (ODD 7.1)
            forced = c < g.J and not ((accessible[c] or circumventable[c]) and g.serves[seg][c])
            if not (u_revise[i] < g.rho[seg] or forced):
                choice.append(c)
                continue
            base = utilities(seg, c)
            if not personal:
                probabilities = [math.exp(u) for u in base]
                total = sum(probabilities)
                choice.append(
                    _inverse_cdf([x / total for x in probabilities], u_option[i], last_is_one=True)
                )
                continue
            peer = [0.0] * (g.J + 1)
            if g.peers and s.neighbours is not None and s.neighbours[i]:
                spent, total = [0.0] * (g.J + 1), 0.0
                for m in s.neighbours[i]:  # neighbours' options at the start of the step
                    spent[s.choice[m]] += s.size[m]
                    total += s.size[m]
                if total > 0:
                    scale = 1.0 / total
                    peer = [p.peer_effect * (x * scale) for x in spent]
            extra = [
                peer[j] + (s.taste[i][g.kind[j]] if s.taste is not None and j < g.J else 0.0)
                for j in range(g.J + 1)
            ]
            utility = [base[j] + extra[j] * g.mu[seg] for j in range(g.J + 1)]
            top = max(utility)
            choice.append(_inverse_cdf([math.exp(u - top) for u in utility], u_option[i]))

        # 4. spend-weighted usage and revenue; capability, compute, open models, the frontier
        moved = RunState(**{**s.__dict__, "choice": choice})
        usage = self.spend_usage(g, moved)
        revenue = [g.revenue(j, usage[j] if accessible[j] else 0.0, price) for j in range(g.J)]
        foreign_usage = sum(usage[j] for j in range(g.J) if g.foreign[j])
        F = s.frontier
        k = p.frontier_release_interval
        if k > 0:
            frontier = F * (1.0 + p.frontier_growth) ** k if month % k == 0 else F
        else:
            frontier = F * (1.0 + p.frontier_growth)
        pool = max(s.quality[j] for j in range(g.J) if g.domestic[j] or g.open[j])
        best_domestic = max(s.quality[j] for j in range(g.J) if g.domestic[j])
        quality, compute = [], list(s.compute)
        for j in range(g.J):
            q = s.quality[j]
            if g.foreign[j]:
                quality.append(g.quality[j] * frontier)
            elif g.domestic[j]:
                rate = (
                    p.learning_rate * usage[j]
                    + p.rival_subsidy
                    + p.spillover_rate * (foreign_usage)
                )
                if g.compute_on:
                    rate += p.compute_effect * s.compute[j]
                rate = min(max(rate, 0.0), 1.0)
                step = q + rate * (F - q)
                if p.diffusion_rate > 0:
                    step += p.diffusion_rate * max(pool - q, 0.0)
                quality.append(min(step, F))
                if g.compute_on:
                    cut = 1.0 - p.export_control_strength * controls
                    bought = cut * (p.compute_per_revenue * revenue[j] + p.compute_subsidy)
                    compute[j] = (s.compute[j] * (1.0 - p.compute_depreciation) + bought) / (
                        1.0 + p.frontier_compute_growth
                    )
            else:  # open weights
                if g.home_origin[j]:
                    lagged = q + (F - q) / p.open_weight_lag
                else:
                    lagged = q + p.open_release_rate * max(best_domestic - q, 0.0)
                quality.append(max(min(lagged, F), q))
        return RunState(
            t=month,
            frontier=frontier,
            quality=quality,
            strategy=strategy,
            home_policy=home_policy,
            rival_policy=rival_policy,
            controls=controls,
            price=list(price),
            compute=compute,
            choice=choice,
            firm_memory=firm_memory,
            home_memory=home_memory,
            rival_memory=rival_memory,
            controls_memory=controls_memory,
            size=s.size,
            taste=s.taste,
            neighbours=s.neighbours,
        )

    # ---- outputs
    def observe(self, s: RunState) -> dict[str, Any]:
        """Reported quantities (engine docstring step 4; ``docs/ODD.md`` outputs): model
        columns as floats, provider columns and segment columns as lists."""
        g = self.stage(s.t)
        p = g.p
        n = p.n_enterprises
        J = g.J
        counts = self.counts(g, s)
        spend_by = self.spend(g, s)
        usage = [sum(counts[seg][j] for seg in range(g.S)) / n for j in range(J)]
        spend = self.spend_usage(g, s)
        rel = s.rel
        accessible = g.accessible(s.strategy, s.rival_policy)
        paying = [spend[j] if accessible[j] else 0.0 for j in range(J)]  # circumventers pay
        revenue, payoff = [], []  # intermediaries, not the provider
        for j in range(J):
            income = g.licence_income(j, paying, s.price) if g.has_licence else 0.0
            revenue.append(g.revenue(j, paying[j], s.price) + income)
            allow = g.allow_payoff(j, paying[j], rel, s.home_policy, s.price) + income
            payoff.append(allow if s.strategy[j] == ALLOW else income)
        foreign = [j for j in range(J) if g.foreign[j]]
        domestic = [j for j in range(J) if g.domestic[j]]
        opened = [j for j in range(J) if g.open[j]]
        users = sum(spend)
        hhi = sum((x / users) ** 2 for x in spend) if users > 0 else 0.0
        agreement = math.nan
        if s.neighbours is not None:
            linked = [i for i in range(n) if s.neighbours[i]]
            if linked:
                agreement = sum(
                    sum(1 for m in s.neighbours[i] if s.choice[m] == s.choice[i])
                    / len(s.neighbours[i])
                    for i in linked
                ) / len(linked)
        model = {
            "frac_foreign_allowing": sum(1 for j in foreign if s.strategy[j] == ALLOW)
            / len(foreign),
            "home_restricts": float(s.home_policy),
            "rival_restricts": float(s.rival_policy),
            "foreign_share": sum(usage[j] for j in foreign),
            "domestic_share": sum(usage[j] for j in domestic),
            "capability_gap": 1.0 - max(rel[j] for j in range(J) if g.industry[j]),
            "foreign_revenue": sum(revenue[j] for j in foreign),
            "domestic_revenue": sum(revenue[j] for j in domestic),
            "security_risk": sum(g.exposure[j] * rel[j] * spend[j] for j in range(J)),
            "enterprise_welfare": sum(usage[j] * rel[j] for j in range(J)),
            "hhi": hhi,
            "open_share": sum(usage[j] for j in opened),
            "no_provider_share": sum(counts[seg][J] for seg in range(g.S)) / n,
            "foreign_spend_share": sum(spend[j] for j in foreign),
            "local_agreement": agreement,
            "export_controls": float(s.controls),
            "open_capability_gap": 1.0 - max(rel[j] for j in opened) if opened else math.nan,
            "mean_domestic_price": sum(s.price[j] for j in domestic) / len(domestic),
        }
        provider = {
            "strategy": [float(x) for x in s.strategy],
            "revenue": revenue,
            "payoff": payoff,
            "quality": rel,
            "share": usage,
            "spend_share": spend,
            "price": list(s.price),
        }
        segment: dict[str, list[float]] = {
            name: []
            for name in (
                "foreign_share",
                "domestic_share",
                "open_share",
                "no_provider_share",
                "foreign_spend_share",
            )
        }
        for seg in range(g.S):
            members = max(sum(counts[seg]), 1)
            total = max(sum(spend_by[seg]), 1e-300)
            segment["foreign_share"].append(sum(counts[seg][j] for j in foreign) / members)
            segment["domestic_share"].append(sum(counts[seg][j] for j in domestic) / members)
            segment["open_share"].append(sum(counts[seg][j] for j in opened) / members)
            segment["no_provider_share"].append(counts[seg][J] / members)
            segment["foreign_spend_share"].append(sum(spend_by[seg][j] for j in foreign) / total)
        return {
            "model": model,
            "provider": provider,
            "segment": segment,
            "counts": counts,
            "spend": spend_by,
        }
