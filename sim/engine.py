r"""The one step function every layer shares: the Mesa model (``R = 1``), the batched engine
and the sweep runner all call :func:`initial_state`, :func:`advance` and :func:`observe`.

One step, data flowing one way (state at ``t`` -> state at ``t + 1``):

1. payoffs at the current state: providers' ALLOW/RESTRICT payoffs at their attainable
   shares under the current home policy; both governments' objectives of each policy
   (evaluated only when some actor revises or a learning rule needs them; pure, so when they
   are computed does not change what they are);
2. decisions, simultaneously: foreign providers, then the home government, then the rival
   government draw from their rules (fixed order of random draws); each agent revises only
   with its revision probability; fixed strategies override;
3. dynamics: reachability follows the new decisions; enterprises choose; domestic capability
   learns from the new usage; the frontier grows;
4. outputs: :func:`observe` reduces the new state to the reported quantities.

Random draws per step, in order, from each run's own generator: firm revision ``(J_f,)``, firm
rule, home revision ``(1,)``, home rule, rival revision ``(1,)``, rival rule, enterprise
revision ``(N,)``, enterprise option ``(N,)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from sim import dynamics, payoffs, rules
from sim.params import Params
from sim.rules import RandomSource

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]
Strategy = NDArray[np.int8]

ALLOW, RESTRICT = payoffs.ALLOW, payoffs.RESTRICT
POLICY_NAMES = ("allow", "restrict")


@dataclass(frozen=True)
class Core:
    """Array form of :class:`~sim.params.Params`, built once per model."""

    params: Params
    foreign: Bool  # (J,)
    domestic: Bool  # (J,)
    foreign_index: NDArray[np.intp]  # (J_f,)
    relative_foreign: Float  # (J,) relative quality of foreign providers, 0 for domestic
    price: Float
    margin: Float
    exposure: Float
    pressure: Float
    dependence: Float
    coverage: Float
    fixed: Strategy  # (J,) -1 none, 0 allow, 1 restrict
    switching: Float  # (K, K)

    @classmethod
    def from_params(cls, params: Params) -> Core:
        provs = params.providers
        foreign = np.array([p.foreign for p in provs])

        def column(name: str) -> Float:
            return np.array([float(getattr(p, name)) for p in provs])

        code = {"": -1, "allow": ALLOW, "restrict": RESTRICT}
        return cls(
            params=params,
            foreign=foreign,
            domestic=~foreign,
            foreign_index=np.flatnonzero(foreign),
            relative_foreign=np.where(foreign, column("quality"), 0.0),
            price=column("price"),
            margin=column("margin"),
            exposure=np.where(foreign, column("security_exposure"), 0.0),
            pressure=np.where(foreign, column("home_exposure"), 0.0),
            dependence=np.where(foreign, column("rival_dependence"), 0.0),
            coverage=np.where(foreign, column("mandate_coverage"), 0.0),
            fixed=np.array([code[p.fixed_strategy] for p in provs], dtype=np.int8),
            switching=payoffs.switching_costs(
                len(provs), ~foreign, params.switching_cost, params.domestic_migration_discount
            ),
        )


@dataclass(frozen=True)
class State:
    """Everything that changes, for ``R`` runs. Arrays are never mutated in place."""

    t: int
    frontier: Float  # (R,)
    quality: Float  # (R, J) absolute; relative quality is quality / frontier
    strategy: Strategy  # (R, J); domestic providers are always ALLOW
    home_policy: Strategy  # (R,)
    rival_policy: Strategy  # (R,)
    choice: NDArray[np.int16]  # (R, N) option index, J = no provider
    counts: NDArray[np.int64]  # (R, K) enterprises on each option
    firm_memory: Float  # (R, J_f, 2)
    home_memory: Float  # (R, 1, 2)
    rival_memory: Float  # (R, 1, 2)

    @property
    def runs(self) -> int:
        return int(self.frontier.shape[0])


def relative_quality(state: State) -> Float:
    return state.quality / state.frontier[:, None]


def reachability(core: Core, strategy: Strategy, rival_policy: Strategy) -> tuple[Bool, Bool]:
    """(accessible, reachable only by circumvention), both ``(R, J)``."""
    blocked = core.foreign & ((strategy == RESTRICT) | (rival_policy[:, None] == RESTRICT))
    accessible = ~blocked
    circumventable = blocked & core.params.circumvention
    return accessible, circumventable


def values_of(core: Core, rel_quality: Float) -> Float:
    p = core.params
    return payoffs.option_values(rel_quality, core.price, p.price_sensitivity, p.outside_utility)


def provider_payoffs(core: Core, share: Float, rel_quality: Float, penalty: Float) -> Float:
    """:func:`sim.payoffs.provider_payoffs` with this model's provider terms, ``(R, J, 2)``."""
    p = core.params
    return payoffs.provider_payoffs(
        share,
        rel_quality,
        penalty,
        price=core.price,
        margin=core.margin,
        dependence=core.dependence,
        exposure=core.exposure,
        pressure=core.pressure,
        market_value=p.market_value,
        security_weight=p.security_weight,
    )


def grow_capability(
    core: Core, quality: Float, frontier: Float, usage: Float
) -> tuple[Float, Float]:
    """:func:`sim.dynamics.grow_capability` with this model's learning parameters."""
    p = core.params
    return dynamics.grow_capability(
        quality,
        frontier,
        usage,
        domestic=core.domestic,
        relative_foreign=core.relative_foreign,
        learning_rate=p.learning_rate,
        subsidy=p.rival_subsidy,
        spillover=p.spillover_rate,
        growth=p.frontier_growth,
    )


def firm_payoffs(core: Core, state: State, values: Float, home_policy: Strategy) -> Float:
    """ALLOW/RESTRICT payoffs of every provider at its attainable share, ``(R, J, 2)``."""
    p = core.params
    accessible, _ = reachability(core, state.strategy, state.rival_policy)
    # While the rival government blocks foreign services, allowing earns nothing there.
    rival_allows = (state.rival_policy == ALLOW)[:, None]
    share = payoffs.attainable_shares(values, accessible, p.enterprise_rationality) * rival_allows
    penalty = payoffs.expected_penalty(home_policy, p.home_enforcement, p.home_fine, core.coverage)
    return provider_payoffs(core, share, relative_quality(state), penalty)


def home_payoffs(core: Core, state: State, values: Float) -> Float:
    """``W_home`` of ALLOW and RESTRICT, anticipating providers' best responses, ``(R, 1, 2)``."""
    p = core.params
    out = []
    for policy in (ALLOW, RESTRICT):
        policy_vec = np.full(state.runs, policy, dtype=np.int8)
        predicted = payoffs.predicted_strategies(
            firm_payoffs(core, state, values, policy_vec), core.fixed
        )
        accessible, _ = reachability(core, predicted, state.rival_policy)
        shares = payoffs.logit_shares(values, accessible, p.enterprise_rationality)
        out.append(
            payoffs.home_objective(
                shares,
                relative_quality(state),
                policy,
                foreign=core.foreign,
                price=core.price,
                margin=core.margin,
                dependence=core.dependence,
                exposure=core.exposure,
                market_value=p.market_value,
                revenue_weight=p.home_revenue_weight,
                security_weight=p.home_security_weight,
                rival_growth_weight=p.home_rival_growth_weight,
                enforcement_cost=p.home_enforcement_cost,
            )
        )
    return np.stack(out, axis=-1)[:, None, :]


def rival_payoffs(core: Core, state: State, values: Float) -> Float:
    """``W_rival`` of ALLOW and RESTRICT at the providers' current strategies, ``(R, 1, 2)``."""
    p = core.params
    out = []
    for policy in (ALLOW, RESTRICT):
        accessible, _ = reachability(core, state.strategy, np.full(state.runs, policy, np.int8))
        out.append(
            payoffs.rival_objective(
                values,
                accessible,
                foreign=core.foreign,
                rationality=p.enterprise_rationality,
                domestic_weight=p.rival_domestic_weight,
                dependence_weight=p.rival_dependence_weight,
                control_value=p.rival_control_value,
                restricts=policy,
            )
        )
    return np.stack(out, axis=-1)[:, None, :]


def _revise(
    params: Params,
    rule: str,
    payoff: Callable[[], Float],
    current: Strategy,
    memory: Float,
    t: int,
    revision_rate: float,
    rationality: float,
    rng: RandomSource,
) -> tuple[Strategy, Float]:
    """Draw who revises, then apply the rule; learning memory updates every step.

    ``payoff`` is evaluated only when needed: a memoryless rule with nobody revising in any
    run draws its uniforms (so every run's stream advances exactly as always) and skips the
    payoff computation, which is most of a step's fixed cost.
    """
    revise = rules.uniform(rng, current.shape) < revision_rate
    if rule in rules.MEMORYLESS and not revise.any():
        for _ in range(rules.UNIFORM_BLOCKS[rule]):
            rules.uniform(rng, current.shape)
        return current.astype(np.int8), memory
    chosen, memory = rules.decide(
        rule,
        payoff(),
        current,
        memory,
        t,
        rng,
        rationality=rationality,
        intensity=params.imitation_intensity,
        forgetting=params.roth_erev_forgetting,
    )
    return np.where(revise, chosen, current).astype(np.int8), memory


@dataclass(frozen=True)
class InitialProfile:
    """What every run starts from: qualities ``(J,)``, strategies ``(J,)``, both policies and
    the long-run logit shares ``(K,)`` that step-0 adoption draws from."""

    quality: Float
    strategy: Strategy
    home_policy: int
    rival_policy: int
    shares: Float


def initial_profile(core: Core) -> InitialProfile:
    """Step 0 from the parameters (fixed strategies override the initial ones)."""
    p = core.params
    code = {"allow": ALLOW, "restrict": RESTRICT}
    quality = np.array([pr.quality for pr in p.providers])
    strategy = np.array([code[pr.initial_strategy] for pr in p.providers], dtype=np.int8)
    strategy = np.where(core.fixed >= 0, core.fixed, strategy).astype(np.int8)
    rival = code[p.rival_policy]
    accessible, _ = reachability(core, strategy[None], np.array([rival], np.int8))
    shares = payoffs.logit_shares(
        values_of(core, quality[None]), accessible, p.enterprise_rationality
    )[0]
    return InitialProfile(quality, strategy, code[p.home_policy], rival, shares)


def initial_state(core: Core, rngs: RandomSource, runs: int) -> State:
    """State at step 0 for ``runs`` runs: :func:`initial_profile` in every run, enterprises
    adopting from its long-run logit shares (one uniform each)."""
    p = core.params
    start = initial_profile(core)
    choice = dynamics.initial_choices(np.tile(start.shares, (runs, 1)), p.n_enterprises, rngs)
    n_foreign = int(core.foreign.sum())
    return State(
        t=0,
        frontier=np.ones(runs),
        quality=np.tile(start.quality, (runs, 1)),
        strategy=np.tile(start.strategy, (runs, 1)),
        home_policy=np.full(runs, start.home_policy, np.int8),
        rival_policy=np.full(runs, start.rival_policy, np.int8),
        choice=choice,
        counts=dynamics.option_counts(choice, len(p.providers) + 1),
        firm_memory=rules.initial_memory(p.firm_rule, (runs, n_foreign, 2)),
        home_memory=rules.initial_memory(p.home_rule, (runs, 1, 2)),
        rival_memory=rules.initial_memory(p.rival_rule, (runs, 1, 2)),
    )


def advance(core: Core, state: State, rngs: RandomSource) -> State:
    """One step for all runs; ``rngs`` is one generator per run (or one ``Generator`` for a
    single run)."""
    p = core.params
    values = values_of(core, relative_quality(state))

    # 1. payoffs at the current state (evaluated lazily by _revise)
    def firm() -> Float:
        return firm_payoffs(core, state, values, state.home_policy)[:, core.foreign_index, :]

    def home() -> Float:
        return home_payoffs(core, state, values)

    def rival() -> Float:
        return rival_payoffs(core, state, values)

    # 2. decisions
    current = state.strategy[:, core.foreign_index]
    new_foreign, firm_memory = _revise(
        p,
        p.firm_rule,
        firm,
        current,
        state.firm_memory,
        state.t,
        p.firm_revision_rate,
        p.firm_rationality,
        rngs,
    )
    fixed_foreign = core.fixed[core.foreign_index]
    new_foreign = np.where(fixed_foreign >= 0, fixed_foreign, new_foreign).astype(np.int8)
    strategy = state.strategy.copy()
    strategy[:, core.foreign_index] = new_foreign
    new_home, home_memory = _revise(
        p,
        p.home_rule,
        home,
        state.home_policy[:, None],
        state.home_memory,
        state.t,
        p.gov_revision_rate,
        p.home_rationality,
        rngs,
    )
    new_rival, rival_memory = _revise(
        p,
        p.rival_rule,
        rival,
        state.rival_policy[:, None],
        state.rival_memory,
        state.t,
        p.gov_revision_rate,
        p.rival_rationality,
        rngs,
    )
    rival_policy = new_rival[:, 0]

    # 3. dynamics
    accessible, circumventable = reachability(core, strategy, rival_policy)
    transition = payoffs.transition_probabilities(
        values,
        accessible,
        circumventable,
        core.switching,
        rationality=p.enterprise_rationality,
        circumvention_cost=p.circumvention_cost,
    )
    # Users of a provider they can no longer reach must move; with circumvention on they may
    # stay (paying its cost) until they next revise.
    ones = np.ones((state.runs, 1), bool)
    forced = ~np.concatenate([accessible | circumventable, ones], axis=-1)
    choice, counts = dynamics.choose_providers(
        state.choice, state.counts, transition, forced, p.revision_rate, rngs
    )
    usage = counts[:, :-1] / p.n_enterprises
    quality, frontier = grow_capability(core, state.quality, state.frontier, usage)
    return replace(
        state,
        t=state.t + 1,
        frontier=frontier,
        quality=quality,
        strategy=strategy,
        home_policy=new_home[:, 0],
        rival_policy=rival_policy,
        choice=choice,
        counts=counts,
        firm_memory=firm_memory,
        home_memory=home_memory,
        rival_memory=rival_memory,
    )


MODEL_COLUMNS = (
    "frac_foreign_allowing",
    "home_restricts",
    "rival_restricts",
    "foreign_share",
    "domestic_share",
    "capability_gap",
    "foreign_revenue",
    "domestic_revenue",
    "security_risk",
    "enterprise_welfare",
    "hhi",
)
PROVIDER_COLUMNS = ("strategy", "revenue", "payoff", "quality", "share")


@dataclass(frozen=True)
class Observation:
    """Reported quantities of a state: model-level ``(R,)`` arrays and per-provider ``(R, J)``."""

    model: dict[str, Float]
    provider: dict[str, NDArray[np.generic]]


def observe(core: Core, state: State) -> Observation:
    """Reduce a state to the outputs the DataCollector and the batch engine report."""
    p = core.params
    rel = relative_quality(state)
    usage = state.counts[:, :-1] / p.n_enterprises
    accessible, _ = reachability(core, state.strategy, state.rival_policy)
    paying = np.where(accessible, usage, 0.0)  # circumventing users pay intermediaries
    revenue = payoffs.provider_revenue(paying, core.price, core.margin, p.market_value)
    penalty = payoffs.expected_penalty(
        state.home_policy, p.home_enforcement, p.home_fine, core.coverage
    )
    realized = provider_payoffs(core, paying, rel, penalty)
    payoff = np.where(state.strategy == ALLOW, realized[..., ALLOW], realized[..., RESTRICT])
    foreign_f = core.foreign.astype(float)
    best_domestic = np.where(core.domestic, rel, -np.inf).max(-1)
    model = {
        "frac_foreign_allowing": (state.strategy[:, core.foreign_index] == ALLOW).mean(-1),
        "home_restricts": state.home_policy.astype(float),
        "rival_restricts": state.rival_policy.astype(float),
        "foreign_share": (usage * foreign_f).sum(-1),
        "domestic_share": (usage * (1.0 - foreign_f)).sum(-1),
        "capability_gap": 1.0 - best_domestic,
        "foreign_revenue": (revenue * foreign_f).sum(-1),
        "domestic_revenue": (revenue * (1.0 - foreign_f)).sum(-1),
        "security_risk": payoffs.security_cost(usage, rel, core.exposure, 1.0).sum(-1),
        "enterprise_welfare": (usage * rel).sum(-1),
        "hhi": payoffs.herfindahl(usage),
    }
    provider: dict[str, NDArray[np.generic]] = {
        "strategy": state.strategy,
        "revenue": revenue,
        "payoff": payoff,
        "quality": rel,
        "share": usage,
    }
    return Observation(model=model, provider=provider)
