r"""A slow, per-agent reference implementation of one engine step, in plain Python.

Written from the equations in the module docstrings of :mod:`sim.payoffs`, :mod:`sim.rules`,
:mod:`sim.dynamics` and :mod:`sim.engine` and in ``docs/ODD.md`` section 7, with loops over
providers and enterprises and the :mod:`math` module only; nothing from ``sim`` is called
except to read parameters (and the ``State`` container, to hand results back for comparison).
Like EGTTools' analytical tests checking its C++ core against Python, the tests assert the
vectorized engine agrees with it.

Random draws. Both implementations consume the same uniforms in the same order, the order the
engine docstring lists, from each run's own generator: firm revision ``(J_f,)``, firm rule,
home revision, home rule, rival revision, rival rule, enterprise revision ``(N,)``, enterprise
option ``(N,)``. A rule draws one uniform per agent (two for Fermi: model, then adoption;
none for ``fixed``). A draw from a discrete distribution with probabilities ``P_0..P_{A-1}``
uses inverse-CDF sampling: the action is the number of cumulative sums ``P_0 + .. + P_a`` not
above ``u`` (the last cumulative sum taken as one for enterprise moves).

Conventions shared with the engine and checked elsewhere: action 0 is ALLOW, 1 RESTRICT;
option ``J`` is no provider.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.engine import State
from sim.params import Params

ALLOW, RESTRICT = 0, 1
_TINY = 1e-12  # Roth-Erev propensity floor (rules docstring: propensities stay positive)


# --------------------------------------------------------------------------- helpers


def _logit_probabilities(utilities: list[float]) -> list[float]:
    """``exp(u_a) / sum_b exp(u_b)`` over finite utilities; ``-inf`` marks an unavailable
    option (probability 0). Shifted by the maximum for overflow safety."""
    top = max(u for u in utilities if u != -math.inf)
    weights = [0.0 if u == -math.inf else math.exp(u - top) for u in utilities]
    total = sum(weights)
    return [w / total for w in weights]


def _inverse_cdf(weights: list[float], u: float, last_is_one: bool = False) -> int:
    """Action drawn by uniform ``u`` from non-negative ``weights`` (see module docstring)."""
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


# --------------------------------------------------------------------------- the step


@dataclass
class RunState:
    """One run's state as plain Python values."""

    t: int
    frontier: float
    quality: list[float]  # absolute
    strategy: list[int]
    home_policy: int
    rival_policy: int
    choice: list[int]
    firm_memory: list[list[float]]
    home_memory: list[list[float]]
    rival_memory: list[list[float]]


def run_state(state: State, r: int) -> RunState:
    """Run ``r`` of an engine state, copied into plain Python values."""
    return RunState(
        t=state.t,
        frontier=float(state.frontier[r]),
        quality=[float(x) for x in state.quality[r]],
        strategy=[int(x) for x in state.strategy[r]],
        home_policy=int(state.home_policy[r]),
        rival_policy=int(state.rival_policy[r]),
        choice=[int(x) for x in state.choice[r]],
        firm_memory=[[float(x) for x in row] for row in state.firm_memory[r]],
        home_memory=[[float(x) for x in row] for row in state.home_memory[r]],
        rival_memory=[[float(x) for x in row] for row in state.rival_memory[r]],
    )


class Reference:
    """The model's equations for one run, provider by provider and enterprise by enterprise."""

    def __init__(self, params: Params) -> None:
        self.p = params
        self.provs = params.providers
        self.J = len(self.provs)
        self.foreign = [pr.channel != "domestic" for pr in self.provs]
        self.fixed = [
            {"": None, "allow": ALLOW, "restrict": RESTRICT}[pr.fixed_strategy] for pr in self.provs
        ]

    # ---- values and shares
    def values(self, s: RunState) -> list[float]:
        """``v_j = q_j / F - kappa_p p_j``, plus ``u_0`` for no provider."""
        p = self.p
        vals = [
            s.quality[j] / s.frontier - p.price_sensitivity * self.provs[j].price
            for j in range(self.J)
        ]
        return [*vals, p.outside_utility]

    def accessible(self, strategy: list[int], rival_policy: int) -> list[bool]:
        return [
            not (self.foreign[j] and (strategy[j] == RESTRICT or rival_policy == RESTRICT))
            for j in range(self.J)
        ]

    def shares(self, values: list[float], accessible: list[bool]) -> list[float]:
        """Long-run logit shares over accessible providers and no provider, ``J + 1``."""
        mu = self.p.enterprise_rationality
        utilities = [mu * values[j] if accessible[j] else -math.inf for j in range(self.J)]
        return _logit_probabilities([*utilities, mu * values[self.J]])

    def attainable(self, values: list[float], accessible: list[bool], j: int) -> float:
        """Share ``j`` would have if accessible, the others as they are."""
        with_j = list(accessible)
        with_j[j] = True
        return self.shares(values, with_j)[j]

    def welfare(self, values: list[float], accessible: list[bool]) -> float:
        """Logsum ``log(sum exp(mu v)) / mu`` over accessible options and no provider."""
        mu = self.p.enterprise_rationality
        available = [values[j] for j in range(self.J) if accessible[j]] + [values[self.J]]
        top = max(available)
        return top + math.log(sum(math.exp(mu * (v - top)) for v in available)) / mu

    # ---- payoffs
    def allow_payoff(self, j: int, share: float, rel_quality: float, home_policy: int) -> float:
        """``(1 + d) m p V s - sigma kappa q s - [home restricts] e f c - phi`` (foreign);
        a domestic provider has no exposure, pressure, coverage or dependence."""
        p, pr = self.p, self.provs[j]
        revenue = pr.margin * pr.price * p.market_value * share
        if not self.foreign[j]:
            return revenue
        security = p.security_weight * pr.security_exposure * rel_quality * share
        penalty = (p.home_enforcement * p.home_fine * pr.mandate_coverage) if home_policy else 0.0
        return (1.0 + pr.rival_dependence) * revenue - security - penalty - pr.home_exposure

    def firm_payoffs(self, s: RunState, values: list[float], home_policy: int) -> list[list[float]]:
        accessible = self.accessible(s.strategy, s.rival_policy)
        out = []
        for j in range(self.J):
            share = self.attainable(values, accessible, j)
            if self.foreign[j] and s.rival_policy == RESTRICT:
                share = 0.0  # ODD 7.3: while the rival blocks, allowing earns nothing there
            rel = s.quality[j] / s.frontier
            out.append([self.allow_payoff(j, share, rel, home_policy), 0.0])
        return out

    def home_payoffs(self, s: RunState, values: list[float]) -> list[float]:
        p = self.p
        out = []
        for policy in (ALLOW, RESTRICT):
            firm = self.firm_payoffs(s, values, policy)
            predicted = []
            for j in range(self.J):
                if self.fixed[j] is not None:
                    predicted.append(self.fixed[j])
                else:  # myopic best response, ALLOW on ties
                    predicted.append(RESTRICT if firm[j][RESTRICT] > firm[j][ALLOW] else ALLOW)
            shares = self.shares(values, self.accessible(predicted, s.rival_policy))
            revenue = security = domestic = 0.0
            for j, pr in enumerate(self.provs):
                if self.foreign[j]:
                    revenue += (
                        (1.0 + pr.rival_dependence)
                        * pr.margin
                        * pr.price
                        * p.market_value
                        * shares[j]
                    )
                    security += pr.security_exposure * (s.quality[j] / s.frontier) * shares[j]
                else:
                    domestic += shares[j]
            out.append(
                p.home_revenue_weight * revenue
                - p.home_security_weight * security
                - p.home_rival_growth_weight * domestic
                - policy * p.home_enforcement_cost
            )
        return out

    def rival_payoffs(self, s: RunState, values: list[float]) -> list[float]:
        p = self.p
        out = []
        for policy in (ALLOW, RESTRICT):
            accessible = self.accessible(s.strategy, policy)
            shares = self.shares(values, accessible)
            domestic = sum(shares[j] for j in range(self.J) if not self.foreign[j])
            foreign = sum(shares[j] for j in range(self.J) if self.foreign[j])
            out.append(
                self.welfare(values, accessible)
                + p.rival_domestic_weight * domestic
                - p.rival_dependence_weight * foreign
                + policy * p.rival_control_value
            )
        return out

    # ---- step 0
    def initial(self, rng: np.random.Generator) -> RunState:
        """Step 0: parameters' qualities and strategies (fixed ones override), enterprises
        adopting from the long-run logit shares, one uniform each."""
        p = self.p
        code = {"allow": ALLOW, "restrict": RESTRICT}
        strategy = [
            self.fixed[j] if self.fixed[j] is not None else code[pr.initial_strategy]
            for j, pr in enumerate(self.provs)
        ]
        s = RunState(
            t=0,
            frontier=1.0,
            quality=[pr.quality for pr in self.provs],
            strategy=strategy,
            home_policy=code[p.home_policy],
            rival_policy=code[p.rival_policy],
            choice=[],
            firm_memory=[],
            home_memory=[],
            rival_memory=[],
        )
        shares = self.shares(self.values(s), self.accessible(strategy, s.rival_policy))
        s.choice = [
            _inverse_cdf(shares, u, last_is_one=True) for u in rng.random(p.n_enterprises).tolist()
        ]
        return s

    # ---- the step
    def step(self, s: RunState, rng: np.random.Generator) -> RunState:
        """State at ``t + 1`` from state ``s`` at ``t``, drawing from ``rng``."""
        p = self.p
        values = self.values(s)
        foreign_idx = [j for j in range(self.J) if self.foreign[j]]

        # 1. payoffs at the current state
        firm_all = self.firm_payoffs(s, values, s.home_policy)
        firm = [firm_all[j] for j in foreign_idx]
        home = self.home_payoffs(s, values)
        rival = self.rival_payoffs(s, values)

        def revise(rule, payoff, current, memory, rate, rationality):
            revising = [u < rate for u in rng.random(len(current)).tolist()]
            chosen, memory = rule_step(
                rule,
                payoff,
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

        # 2. decisions: firms, then home, then rival
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
            strategy[j] = self.fixed[j] if self.fixed[j] is not None else new_foreign[k]
        (home_policy,), home_memory = revise(
            p.home_rule,
            [home],
            [s.home_policy],
            s.home_memory,
            p.gov_revision_rate,
            p.home_rationality,
        )
        (rival_policy,), rival_memory = revise(
            p.rival_rule,
            [rival],
            [s.rival_policy],
            s.rival_memory,
            p.gov_revision_rate,
            p.rival_rationality,
        )

        # 3. enterprises choose among reachable options
        accessible = self.accessible(strategy, rival_policy)
        circumventable = [(not accessible[j]) and p.circumvention for j in range(self.J)]
        mu = p.enterprise_rationality
        rows = []
        for c in range(self.J + 1):
            utilities = []
            for j in range(self.J + 1):
                if j < self.J and not (accessible[j] or circumventable[j]):
                    utilities.append(-math.inf)
                    continue
                option = values[j]
                if j < self.J and circumventable[j]:
                    option -= p.circumvention_cost
                tau = 0.0
                if c < self.J and j < self.J and j != c:
                    discount = 0.0 if self.foreign[j] else p.domestic_migration_discount
                    tau = p.switching_cost * (1.0 - discount)
                utilities.append(mu * (option - tau))
            rows.append(_logit_probabilities(utilities))
        u_revise = rng.random(len(s.choice)).tolist()
        u_option = rng.random(len(s.choice)).tolist()
        choice = []
        for k, c in enumerate(s.choice):
            # forced migration: the current provider is neither accessible nor reachable by
            # circumvention (ODD 7.1)
            forced = c < self.J and not (accessible[c] or circumventable[c])
            if u_revise[k] < p.revision_rate or forced:
                choice.append(_inverse_cdf(rows[c], u_option[k], last_is_one=True))
            else:
                choice.append(c)

        # 4. capability: domestic learning by doing, then the frontier
        n = p.n_enterprises
        usage = [sum(1 for c in choice if c == j) / n for j in range(self.J)]
        foreign_usage = sum(usage[j] for j in range(self.J) if self.foreign[j])
        frontier = s.frontier * (1.0 + p.frontier_growth)
        quality = []
        for j, pr in enumerate(self.provs):
            if self.foreign[j]:
                quality.append(pr.quality * frontier)
            else:
                rate = (
                    p.learning_rate * usage[j] + p.rival_subsidy + p.spillover_rate * foreign_usage
                )
                rate = min(max(rate, 0.0), 1.0)
                quality.append(s.quality[j] + rate * (s.frontier - s.quality[j]))
        return RunState(
            t=s.t + 1,
            frontier=frontier,
            quality=quality,
            strategy=strategy,
            home_policy=home_policy,
            rival_policy=rival_policy,
            choice=choice,
            firm_memory=firm_memory,
            home_memory=home_memory,
            rival_memory=rival_memory,
        )

    # ---- outputs
    def observe(self, s: RunState) -> dict[str, float | list[float]]:
        """Reported quantities (engine docstring step 4; ``docs/ODD.md`` outputs)."""
        p = self.p
        n = p.n_enterprises
        usage = [sum(1 for c in s.choice if c == j) / n for j in range(self.J)]
        rel = [q / s.frontier for q in s.quality]
        accessible = self.accessible(s.strategy, s.rival_policy)
        revenue, payoff = [], []
        for j, pr in enumerate(self.provs):
            paying = usage[j] if accessible[j] else 0.0  # circumventing users pay intermediaries
            revenue.append(pr.margin * pr.price * p.market_value * paying)
            allow = self.allow_payoff(j, paying, rel[j], s.home_policy)
            payoff.append(allow if s.strategy[j] == ALLOW else 0.0)
        foreign_idx = [j for j in range(self.J) if self.foreign[j]]
        users = sum(usage)
        hhi = sum((x / users) ** 2 for x in usage) if users > 0 else 0.0
        return {
            "frac_foreign_allowing": sum(1 for j in foreign_idx if s.strategy[j] == ALLOW)
            / len(foreign_idx),
            "home_restricts": float(s.home_policy),
            "rival_restricts": float(s.rival_policy),
            "foreign_share": sum(usage[j] for j in foreign_idx),
            "domestic_share": sum(usage[j] for j in range(self.J) if not self.foreign[j]),
            "capability_gap": 1.0 - max(rel[j] for j in range(self.J) if not self.foreign[j]),
            "foreign_revenue": sum(revenue[j] for j in foreign_idx),
            "domestic_revenue": sum(revenue[j] for j in range(self.J) if not self.foreign[j]),
            "security_risk": sum(
                self.provs[j].security_exposure * rel[j] * usage[j] for j in foreign_idx
            ),
            "enterprise_welfare": sum(usage[j] * rel[j] for j in range(self.J)),
            "hhi": hhi,
            "strategy": [float(x) for x in s.strategy],
            "revenue": revenue,
            "payoff": payoff,
            "quality": rel,
            "share": usage,
        }
