r"""The one step function every layer shares: the Mesa model (``R = 1``), the batched engine
and the sweep runner all call :func:`initial_state` and :func:`advance` on a
:class:`~sim.core.Plan` (the parameters bound into arrays, one stage per event month) and
:func:`observe` on the month's :class:`~sim.core.Core`.

One step, data flowing one way (state at ``t`` -> state at ``t + 1``):

0. events: the stage starting at month ``t + 1`` (if any) comes into force and sets the state
   its events name (policies, a provider's strategy, quality, price or compute);
1. payoffs at the current state: providers' ALLOW/RESTRICT payoffs at their attainable
   shares under the current home policy; both governments' objectives of each policy
   (evaluated only when some actor revises or a learning rule needs them; pure, so when they
   are computed does not change what they are);
2. decisions, simultaneously: foreign providers, then the home government's mandate, then the
   rival government, then (when it decides them) the home government's compute controls draw
   from their rules (fixed order of random draws); each revises only with its revision
   probability; fixed strategies override; domestic providers set prices by their price rule
   (deterministic);
3. dynamics: reachability follows the new decisions; enterprises choose; capability, compute
   and open models grow from the new usage; the frontier grows;
4. outputs: :func:`observe` reduces the new state to the reported quantities.

Random draws per run, in order, from each run's own generator. At step 0: spend sizes
``(N,)`` normals if any segment's spend varies, tastes ``(N, 3)`` normals if any segment has
tastes, the network's draws if there is one, then adoption ``(N,)``. Each step: firm revision
``(J_f,)``, firm rule, home revision ``(1,)``, home rule, rival revision ``(1,)``, rival rule,
[controls revision ``(1,)``, controls rule, when the home government decides controls],
enterprise revision ``(N,)``, enterprise option ``(N,)``. A mechanism that is off draws
nothing, so the ``classic`` scenario draws exactly what the first version drew.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim import dynamics, payoffs, rules
from sim.core import ALLOW, CODE, RESTRICT, TASTES, Core, Plan, StageCore
from sim.rules import RandomSource

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]
Strategy = NDArray[np.int8]

POLICY_NAMES = ("allow", "restrict")


@dataclass(frozen=True)
class Population:
    """What is drawn once per run and never changes: spend per enterprise ``size (R, N)``,
    persistent tastes ``taste (R N, T)`` (or None), the stacked network (or None)."""

    size: Float
    taste: Float | None
    graph: object | None
    total_spend: Float  # (R,)
    personal: dynamics.Personal | None
    unit_sizes: bool  # every enterprise spends 1: spend equals counts
    agreement: Agreement | None = None  # edge arrays for local_agreement (with a network)


@dataclass(frozen=True)
class Agreement:
    """The undirected edges ``u < v`` of the stacked network, for :func:`local_agreement`:
    their ends (int32, as the graph's indices), the weight ``1/d_u + 1/d_v`` each contributes
    when both ends hold the same option, each run's first edge ``bounds (R + 1,)`` and each
    run's number of enterprises with neighbours ``members (R,)``. Measured in a running step,
    this flat edge list is read faster than the CSR rows (``docs/performance.md``)."""

    first: NDArray[np.integer[Any]]
    second: NDArray[np.integer[Any]]
    weight: Float
    bounds: NDArray[np.int64]
    members: NDArray[np.int64]

    @classmethod
    def of(
        cls, indptr: NDArray[np.int64], indices: NDArray[np.integer[Any]], runs: int
    ) -> Agreement:
        degree = np.diff(indptr)
        source = np.repeat(np.arange(len(degree), dtype=indices.dtype), degree)
        keep = source < indices
        first, second = source[keep], indices[keep]
        inverse = np.divide(1.0, degree, out=np.zeros(len(degree)), where=degree > 0)
        n = len(degree) // max(runs, 1)
        bounds = np.searchsorted(first, np.arange(runs + 1, dtype=np.int64) * n)
        members = (degree.reshape(runs, n) > 0).sum(-1)
        return cls(first, second, inverse[first] + inverse[second], bounds, members)


@dataclass(frozen=True)
class State:
    """Everything that changes, for ``R`` runs. Arrays are never mutated in place."""

    t: int
    frontier: Float  # (R,)
    quality: Float  # (R, J) absolute; relative quality is quality / frontier
    strategy: Strategy  # (R, J); domestic providers and open models are always ALLOW
    home_policy: Strategy  # (R,)
    rival_policy: Strategy  # (R,)
    controls: Strategy  # (R,) compute export controls off (0) / on (1)
    price: Float  # (R, J)
    compute: Float  # (R, J) relative to the frontier lab's compute (domestic providers)
    choice: NDArray[np.int16]  # (R, N) option index, J = no provider
    counts: NDArray[np.int64]  # (R, S, K) enterprises on each option by segment
    spend: Float  # (R, S, K) their spend
    firm_memory: Float  # (R, J_f, 2)
    home_memory: Float  # (R, 1, 2)
    rival_memory: Float  # (R, 1, 2)
    controls_memory: Float  # (R, 1, 2)
    population: Population

    @property
    def runs(self) -> int:
        return int(self.frontier.shape[0])


def relative_quality(state: State) -> Float:
    return state.quality / state.frontier[:, None]


def reachability(core: Core, strategy: Strategy, rival_policy: Strategy) -> tuple[Bool, Bool]:
    """(accessible, reachable only by circumvention), both ``(R, J)``: a foreign provider is
    accessible when it allows and the rival does not block; domestic and open always are."""
    blocked = core.foreign & ((strategy == RESTRICT) | (rival_policy[:, None] == RESTRICT))
    accessible = ~blocked
    circumventable = blocked & core.params.circumvention
    return accessible, circumventable


def values_of(core: Core, state: State) -> Float:
    """Option values ``(R, S, K)`` at the current qualities and prices."""
    return payoffs.option_values(core, relative_quality(state), state.price)


def _licence(core: Core, values: Float, available: Bool, price: Float) -> tuple[Float, Float]:
    """Licence income of each provider with it allowing and with it restricting, ``(R, J)``."""
    out = []
    for opened in (True, False):
        shares = payoffs.shares_if(values, available, core.mu, core.serves, opened)
        income = payoffs.licence_income(core, payoffs.aggregate(shares, core.weight), price)
        out.append(np.diagonal(income, axis1=-2, axis2=-1))  # (R, J): row j's own income
    return out[0], out[1]


def firm_payoffs(core: Core, state: State, values: Float, home_policy: Strategy) -> Float:
    """ALLOW/RESTRICT payoffs of every provider at its attainable share, ``(R, J, 2)``."""
    accessible, _ = reachability(core, state.strategy, state.rival_policy)
    available = payoffs.segment_available(core, accessible)
    # While the rival government blocks foreign services, allowing earns nothing there.
    rival_allows = (state.rival_policy == ALLOW)[:, None]
    attainable = payoffs.attainable_shares(values, available, core.mu, core.serves)
    share = payoffs.aggregate(attainable, core.weight) * rival_allows
    penalty = payoffs.expected_penalty(core, home_policy)
    licence = None
    if core.flags.licence:
        opened, closed = _licence(core, values, available, state.price)
        # While the rival blocks, a licensor allowing is no more reachable than restricting:
        # its licensees' shares, so its licence income, are those with it closed either way.
        licence = (np.where(rival_allows, opened, closed), closed)
    return payoffs.provider_payoffs(
        core, share, relative_quality(state), penalty, state.price, licence
    )


def home_payoffs(core: Core, state: State, values: Float) -> Float:
    """``W_home`` of ALLOW and RESTRICT, anticipating providers' best responses, ``(R, 1, 2)``."""
    out = []
    for policy in (ALLOW, RESTRICT):
        policy_vec = np.full(state.runs, policy, dtype=np.int8)
        predicted = payoffs.predicted_strategies(
            firm_payoffs(core, state, values, policy_vec), core.fixed
        )
        accessible, _ = reachability(core, predicted, state.rival_policy)
        available = payoffs.segment_available(core, accessible)
        shares = payoffs.aggregate(payoffs.logit_shares(values, available, core.mu), core.weight)
        out.append(
            payoffs.home_objective(core, shares, relative_quality(state), policy, state.price)
        )
    return np.stack(out, axis=-1)[:, None, :]


def rival_payoffs(core: Core, state: State, values: Float) -> Float:
    """``W_rival`` of ALLOW and RESTRICT at the providers' current strategies, ``(R, 1, 2)``."""
    out = []
    for policy in (ALLOW, RESTRICT):
        accessible, _ = reachability(core, state.strategy, np.full(state.runs, policy, np.int8))
        available = payoffs.segment_available(core, accessible)
        out.append(payoffs.rival_objective(core, values, available, policy))
    return np.stack(out, axis=-1)[:, None, :]


def controls_payoffs(core: Core, state: State) -> Float:
    """The home government's value of compute controls off and on, ``(R, 1, 2)``:
    ``w_gap x*(xi) - cost [on]`` with ``x*`` the best domestic provider's steady-state gap
    (:func:`sim.dynamics.steady_state_gap`) at the current spend shares and revenues, compute at
    its steady state under each setting."""
    p = core.params
    usage = spend_usage(core, state)
    accessible, _ = reachability(core, state.strategy, state.rival_policy)
    revenue = payoffs.provider_revenue(core, np.where(accessible, usage, 0.0), state.price)
    base = dynamics.base_catch_up(core, usage)
    decay = p.frontier_compute_growth + p.compute_depreciation
    current_gap = 1.0 - relative_quality(state)
    out = []
    for on in (0, 1):
        invest = dynamics.compute_bought(core, revenue, np.full(state.runs, on))
        if decay > 0:
            compute = dynamics.steady_state_compute(
                invest, p.frontier_compute_growth, p.compute_depreciation
            )
        else:  # nothing decays: compute grows without bound while invested, else stays put
            compute = np.where(invest != 0, np.copysign(np.inf, invest), state.compute)
        gain = p.compute_effect * compute if p.compute_effect > 0 else 0.0
        rate = np.clip(base + gain, 0.0, 1.0)
        # no frontier growth and no catch-up: the gap stays where it is
        moving = p.frontier_growth + rate > 0
        steady = dynamics.steady_state_gap(p.frontier_growth, np.where(moving, rate, 1.0))
        gap = np.where(core.domestic, np.where(moving, steady, current_gap), np.inf)
        out.append(p.home_gap_weight * gap.min(-1) - on * p.export_control_cost)
    return np.stack(out, axis=-1)[:, None, :]


def _revise(
    rule: str,
    payoff: Callable[[NDArray[np.intp] | None], Float],
    current: Strategy,
    memory: Float,
    t: int,
    revision_rate: float,
    knobs: rules.RuleKnobs,
    rng: RandomSource,
) -> tuple[Strategy, Float]:
    """Draw who revises, then apply the rule; learning memory updates every step.

    ``payoff(runs)`` gives the payoffs of the listed runs (``None``: all) and is evaluated
    only when needed, which is most of a step's fixed cost. A memoryless rule skips the runs in
    which nobody revises: they draw the uniforms the rule would have drawn (so every run's
    stream advances exactly as when it runs alone), and the payoffs and the rule are computed
    for the other runs only. A learning rule needs every run's payoffs every step.
    """
    spec = rules.spec_of(rule)
    revise = rules.uniform(rng, current.shape) < revision_rate
    revising = revise.any(axis=-1)
    if spec.memoryless and not revising.all():
        if isinstance(rng, np.random.Generator) or not revising.any():
            for _ in range(spec.uniform_blocks):
                rules.uniform(rng, current.shape)
            return current.astype(np.int8), memory
        runs = np.flatnonzero(revising)
        idle = [rng[r] for r in np.flatnonzero(~revising).tolist()]
        for _ in range(spec.uniform_blocks):
            rules.uniform(idle, (len(idle), *current.shape[1:]))
        chosen_runs, memory_runs = spec.apply(
            payoff(runs), current[runs], memory[runs], t, [rng[r] for r in runs.tolist()], knobs
        )
        chosen, memory = current.copy(), memory.copy()
        chosen[runs], memory[runs] = chosen_runs, memory_runs
    else:
        chosen, memory = spec.apply(payoff(None), current, memory, t, rng, knobs)
    return np.where(revise, chosen, current).astype(np.int8), memory


def switching_costs(core: Core, strategy: Strategy) -> Float:
    """Switching costs ``(S, K, K)``, or ``(R, S, K, K)`` with migration offers: the offered
    costs in the runs where a foreign provider restricts (``strategy`` ``(R, J)``)."""
    if core.switching_offer is None:
        return core.switching
    restricting = ((strategy == RESTRICT) & core.foreign).any(-1)
    return np.where(
        restricting[:, None, None, None], core.switching_offer[None], core.switching[None]
    )


def forced_moves(core: Core, accessible: Bool, circumventable: Bool) -> Bool:
    """Options whose users in each segment must move, ``(R, S, K)``: those a segment can no
    longer reach (with circumvention on, a blocked provider stays reachable, at its cost,
    until its users next revise); never the outside option."""
    reach = payoffs.segment_available(core, accessible | circumventable)
    ones = np.ones((*reach.shape[:-1], 1), bool)
    return ~np.concatenate([reach, ones], axis=-1)


def select_runs(state: State, runs: NDArray[np.intp]) -> State:
    """The listed runs of ``state``: every per-run array, and of the population only what the
    payoffs read (spend sizes and totals; no tastes or network)."""
    pop = state.population
    light = Population(
        pop.size[runs], None, None, pop.total_spend[runs], None, pop.unit_sizes, None
    )
    per_run = {
        f.name: getattr(state, f.name)[runs]
        for f in fields(State)
        if f.name not in ("t", "population")  # every other field is a per-run array
    }
    return replace(state, population=light, **per_run)


@dataclass(frozen=True)
class InitialProfile:
    """What every run starts from: qualities ``(J,)``, strategies ``(J,)``, both policies,
    controls, prices ``(J,)``, compute ``(J,)`` and the long-run logit shares ``(S, K)`` that
    step-0 adoption draws from (before tastes)."""

    quality: Float
    strategy: Strategy
    home_policy: int
    rival_policy: int
    controls: int
    price: Float
    compute: Float
    values: Float  # (S, K)
    available: Bool  # (S, J)
    shares: Float  # (S, K)


def initial_profile(core: Core) -> InitialProfile:
    """Step 0 from the parameters (fixed strategies override the initial ones)."""
    p = core.params
    quality = np.array([pr.quality for pr in p.providers])
    strategy = np.array(
        [CODE[pr.initial_strategy] if pr.foreign else ALLOW for pr in p.providers], dtype=np.int8
    )
    strategy = np.where(core.fixed >= 0, core.fixed, strategy).astype(np.int8)
    rival = CODE[p.rival_policy]
    price = np.array([pr.price for pr in p.providers])
    accessible, _ = reachability(core, strategy[None], np.array([rival], np.int8))
    available = payoffs.segment_available(core, accessible)
    values = payoffs.option_values(core, quality[None], price[None])
    shares = payoffs.logit_shares(values, available, core.mu)[0]
    return InitialProfile(
        quality=quality,
        strategy=strategy,
        home_policy=CODE[p.home_policy],
        rival_policy=rival,
        controls=CODE[p.home_controls],
        price=price,
        compute=np.array([pr.compute for pr in p.providers]),
        values=values[0],
        available=available[0],
        shares=shares,
    )


def _per_run(rngs: RandomSource, runs: int, draw: Callable[[np.random.Generator], Float]) -> Float:
    """``draw(generator)`` for each run's generator, stacked ``(R, ...)``."""
    if isinstance(rngs, np.random.Generator):
        if runs != 1:
            raise ValueError(f"rng: one generator for {runs} runs; expected one per run")
        return draw(rngs)[None]
    return np.stack([draw(g) for g in rngs])


def draw_population(core: Core, rngs: RandomSource, runs: int) -> Population:
    """Spend sizes, tastes and the network of every run (drawn only when a mechanism needs
    them, in that order)."""
    p = core.params
    segs = p.resolved_segments()
    n = p.n_enterprises
    seg_of = core.segment_of
    mean = np.array([s.size_mean for s in segs])[seg_of]
    sigma = np.array([s.size_sigma for s in segs])[seg_of]
    if (sigma > 0).any():
        # lognormal with the segment's mean: size = mean exp(sigma z - sigma^2 / 2)
        z = _per_run(rngs, runs, lambda g: g.standard_normal(n))
        size = mean * np.exp(sigma * z - 0.5 * sigma**2)
    else:
        size = np.broadcast_to(mean, (runs, n)).copy()
    taste = None
    if core.flags.tastes:
        sd = np.array([s.taste_sd for s in segs])[seg_of]
        z = _per_run(rngs, runs, lambda g: g.standard_normal((n, TASTES)))
        taste = (z * sd[None, :, None]).reshape(runs * n, TASTES)
    graph = None
    if core.flags.network:
        from sim import network

        net = p.network
        generators = [rngs] if isinstance(rngs, np.random.Generator) else list(rngs)
        built = [
            network.build(net.kind, n, net.mean_degree, net.clustering, net.homophily, seg_of, g)
            for g in generators
        ]
        graph = network.stack([g for g in built if g is not None])
    personal = None
    if taste is not None or core.flags.peers:
        personal = dynamics.Personal(taste, graph, size, core.taste_kind)
    unit = bool(np.all(size == 1.0))
    agreement = None
    if graph is not None:
        agreement = Agreement.of(graph.indptr, graph.indices, runs)
    return Population(size, taste, graph, size.sum(-1), personal, unit, agreement)


def adoption_probabilities(core: Core, start: InitialProfile, population: Population) -> Float:
    """Step-0 adoption probabilities, broadcastable to ``(R, N, K)``: the segment's long-run
    logit shares, or each enterprise's own when it has tastes."""
    if population.taste is None:
        if core.n_segments == 1:
            return start.shares[None, :, :]  # (1, 1, K)
        return start.shares[core.segment_of][None]  # (1, N, K)
    runs = len(population.total_spend)
    n = core.params.n_enterprises
    seg = np.tile(core.segment_of, runs)
    extra = np.zeros((runs * n, core.n_options))
    extra[:, :-1] = population.taste[:, core.taste_kind]
    utility = core.mu[seg][:, None] * (start.values[seg] + extra)
    available = np.concatenate([start.available, np.ones((core.n_segments, 1), bool)], -1)
    utility = np.where(available[seg], utility, -np.inf)
    return dynamics.logit_rows(utility).reshape(runs, n, core.n_options)


def initial_state(plan: Plan, rngs: RandomSource, runs: int) -> State:
    """State at step 0 for ``runs`` runs: :func:`initial_profile` in every run, the population
    drawn, enterprises adopting from their long-run logit probabilities (one uniform each)."""
    core = plan.first
    n = core.params.n_enterprises
    start = initial_profile(core)
    population = draw_population(core, rngs, runs)
    probabilities = adoption_probabilities(core, start, population)
    choice = dynamics.draw_initial(probabilities, runs, n, rngs)
    counts = np.asarray(
        dynamics.segment_totals(choice, core.segment_of, core.n_segments, core.n_options),
        dtype=np.int64,
    )
    n_foreign = len(core.foreign_index)
    p = core.params
    return State(
        t=0,
        frontier=np.ones(runs),
        quality=np.tile(start.quality, (runs, 1)),
        strategy=np.tile(start.strategy, (runs, 1)),
        home_policy=np.full(runs, start.home_policy, np.int8),
        rival_policy=np.full(runs, start.rival_policy, np.int8),
        controls=np.full(runs, start.controls, np.int8),
        price=np.tile(start.price, (runs, 1)),
        compute=np.tile(start.compute, (runs, 1)),
        choice=choice,
        counts=counts,
        spend=_spend(core, choice, counts, population),
        firm_memory=rules.initial_memory(p.firm_rule, (runs, n_foreign, 2)),
        home_memory=rules.initial_memory(p.home_rule, (runs, 1, 2)),
        rival_memory=rules.initial_memory(p.rival_rule, (runs, 1, 2)),
        controls_memory=rules.initial_memory(p.home_controls_rule, (runs, 1, 2)),
        population=population,
    )


def _spend(
    core: Core, choice: NDArray[np.int16], counts: NDArray[np.int64], pop: Population
) -> Float:
    if pop.unit_sizes:
        return counts.astype(float)
    return np.asarray(
        dynamics.segment_totals(
            choice, core.segment_of, core.n_segments, core.n_options, weight=pop.size
        )
    )


def count_usage(core: Core, state: State) -> Float:
    """Fraction of enterprises on each provider, ``(R, J)``."""
    return np.asarray(state.counts.sum(1)[:, :-1] / core.params.n_enterprises)


def spend_usage(core: Core, state: State) -> Float:
    """Share of the rival region's spend on each provider, ``(R, J)``."""
    return np.asarray(state.spend.sum(1)[:, :-1] / state.population.total_spend[:, None])


def enter_stage(stage: StageCore, previous: Core, state: State) -> State:
    """Apply the state an event month sets, and reset the memory of a rule that changed."""
    p = stage.core.params
    changes: dict[str, object] = {}
    arrays: dict[str, NDArray[np.generic]] = {
        "strategy": state.strategy.copy(),
        "quality": state.quality.copy(),
        "price": state.price.copy(),
        "compute": state.compute.copy(),
    }
    for a in stage.assignments:
        if a.provider is None:  # a policy or the controls, in every run
            changes[a.target] = np.full(state.runs, int(a.value), np.int8)
        elif a.target == "quality":
            arrays["quality"][:, a.provider] = a.value * state.frontier
        else:
            arrays[a.target][:, a.provider] = a.value
    changes.update(arrays)
    old, new = previous.params, p
    runs = state.runs
    if new.firm_rule != old.firm_rule:
        changes["firm_memory"] = rules.initial_memory(new.firm_rule, state.firm_memory.shape)
    if new.home_rule != old.home_rule:
        changes["home_memory"] = rules.initial_memory(new.home_rule, (runs, 1, 2))
    if new.rival_rule != old.rival_rule:
        changes["rival_memory"] = rules.initial_memory(new.rival_rule, (runs, 1, 2))
    if new.home_controls_rule != old.home_controls_rule:
        changes["controls_memory"] = rules.initial_memory(new.home_controls_rule, (runs, 1, 2))
    return replace(state, **changes)  # type: ignore[arg-type]


def update_prices(core: Core, state: State, values: Float) -> Float:
    """Domestic providers' prices after this step's price decision, ``(R, J)`` (deterministic;
    :mod:`sim.pricing`)."""
    from sim import pricing

    p = core.params
    accessible, _ = reachability(core, state.strategy, state.rival_policy)
    available = np.concatenate(
        [
            payoffs.segment_available(core, accessible),
            np.ones((state.runs, core.n_segments, 1), bool),
        ],
        axis=-1,
    )
    nonprice = (
        values
        + core.kappa[None, :, None]
        * np.concatenate([state.price, np.zeros((state.runs, 1))], axis=-1)[:, None, :]
    )
    price = np.concatenate([state.price, np.zeros((state.runs, 1))], axis=-1)
    margin = np.concatenate([core.margin, [1.0]])
    cost = np.concatenate([core.marginal_cost, [0.0]])
    # A provider keeping no margin earns nothing at any price: it keeps its price (the price
    # rules need a positive margin). Floors stay in the price range, as best responses do.
    responders = np.concatenate([core.domestic & (core.margin > 0), [False]])
    floor = pricing.price_floor(margin, cost, p.price_subsidy, PRICE_MAX)
    if p.price_rule == "best_response":
        target = pricing.best_response_prices(
            nonprice,
            price,
            available,
            core.weight,
            core.mu,
            core.kappa,
            margin,
            cost,
            p.price_subsidy,
            responders,
            PRICE_MAX,
        )
    else:
        target = pricing.price_war_targets(price, responders, p.price_war_cut, floor)
    new = pricing.adjust(price, target, p.price_adjustment)
    return np.where(core.domestic, new[:, :-1], state.price)


PRICE_MAX = 10.0
"""Upper end of the price range (the schema's range of ``price``)."""


@dataclass(frozen=True)
class Decisions:
    """The first half of a step (:func:`decide`): the state as the month's events left it,
    what the providers and governments chose, and the market the enterprises face, for ``R``
    runs: ``utilities`` ``(R, S, K, K)`` (:func:`sim.payoffs.transition_utilities`),
    ``forced`` ``(R, S, K)`` (options whose users in that segment must move), ``accessible``
    ``(R, J)``."""

    month: int
    core: Core
    state: State
    strategy: Strategy
    home_policy: Strategy
    rival_policy: Strategy
    controls: Strategy
    price: Float
    firm_memory: Float
    home_memory: Float
    rival_memory: Float
    controls_memory: Float
    accessible: Bool
    utilities: Float
    forced: Bool


def advance(plan: Plan, state: State, rngs: RandomSource) -> State:
    """One step for all runs; ``rngs`` is one generator per run (or one ``Generator`` for a
    single run): :func:`decide`, the enterprises' choice
    (:func:`sim.dynamics.choose_providers`), :func:`settle`."""
    decided = decide(plan, state, rngs)
    before = decided.state
    choice, counts, moved, old, new = dynamics.choose_providers(
        decided.core,
        before.choice,
        before.counts,
        decided.utilities,
        decided.forced,
        rngs,
        before.population.personal,
    )
    spend = _moved_spend(decided.core, before, choice, counts, moved, old, new)
    return settle(decided, choice, counts, spend)


def decide(plan: Plan, state: State, rngs: RandomSource) -> Decisions:
    """The month's events, then the providers' and governments' decisions (in this order:
    foreign providers, home government, rival government, export controls, prices), then the
    enterprises' market. Draws each decision rule's uniforms from ``rngs``."""
    month = state.t + 1
    core = plan.core_at(month)
    stage = plan.stage_at(month)
    if stage is not None:
        state = enter_stage(stage, plan.core_at(month - 1), state)
    p = core.params
    values = values_of(core, state)

    # 1. payoffs at the current state, of all runs or of those listed (evaluated by _revise)
    def of_runs(runs: NDArray[np.intp] | None) -> tuple[State, Float]:
        return (state, values) if runs is None else (select_runs(state, runs), values[runs])

    def firm(runs: NDArray[np.intp] | None) -> Float:
        s, v = of_runs(runs)
        return firm_payoffs(core, s, v, s.home_policy)[:, core.foreign_index, :]

    def home(runs: NDArray[np.intp] | None) -> Float:
        return home_payoffs(core, *of_runs(runs))

    def rival(runs: NDArray[np.intp] | None) -> Float:
        return rival_payoffs(core, *of_runs(runs))

    def controls_of(runs: NDArray[np.intp] | None) -> Float:
        return controls_payoffs(core, of_runs(runs)[0])

    # 2. decisions
    current = state.strategy[:, core.foreign_index]
    new_foreign, firm_memory = _revise(
        p.firm_rule,
        firm,
        current,
        state.firm_memory,
        state.t,
        p.firm_revision_rate,
        core.firm_knobs,
        rngs,
    )
    fixed_foreign = core.fixed[core.foreign_index]
    new_foreign = np.where(fixed_foreign >= 0, fixed_foreign, new_foreign).astype(np.int8)
    strategy = state.strategy.copy()
    strategy[:, core.foreign_index] = new_foreign
    new_home, home_memory = _revise(
        p.home_rule,
        home,
        state.home_policy[:, None],
        state.home_memory,
        state.t,
        p.gov_revision_rate,
        rules.RuleKnobs(p.home_rationality, p.imitation_intensity, p.roth_erev_forgetting),
        rngs,
    )
    new_rival, rival_memory = _revise(
        p.rival_rule,
        rival,
        state.rival_policy[:, None],
        state.rival_memory,
        state.t,
        p.gov_revision_rate,
        rules.RuleKnobs(p.rival_rationality, p.imitation_intensity, p.roth_erev_forgetting),
        rngs,
    )
    rival_policy = new_rival[:, 0]
    controls, controls_memory = state.controls, state.controls_memory
    if core.flags.controls_decided:
        new_controls, controls_memory = _revise(
            p.home_controls_rule,
            controls_of,
            state.controls[:, None],
            state.controls_memory,
            state.t,
            p.gov_revision_rate,
            rules.RuleKnobs(p.home_rationality, p.imitation_intensity, p.roth_erev_forgetting),
            rngs,
        )
        controls = new_controls[:, 0]
    price = update_prices(core, state, values) if core.flags.prices else state.price

    # 3. the market the enterprises face
    accessible, circumventable = reachability(core, strategy, rival_policy)
    if price is not state.price:
        values = payoffs.option_values(core, relative_quality(state), price)
    utilities = payoffs.transition_utilities(
        core, values, accessible, circumventable, switching_costs(core, strategy)
    )
    forced = forced_moves(core, accessible, circumventable)
    return Decisions(
        month=month,
        core=core,
        state=state,
        strategy=strategy,
        home_policy=new_home[:, 0],
        rival_policy=rival_policy,
        controls=controls,
        price=price,
        firm_memory=firm_memory,
        home_memory=home_memory,
        rival_memory=rival_memory,
        controls_memory=controls_memory,
        accessible=accessible,
        utilities=utilities,
        forced=forced,
    )


def settle(
    decided: Decisions, choice: NDArray[np.int16], counts: NDArray[np.int64], spend: Float
) -> State:
    """The second half of a step: the enterprises' new ``choice`` ``(R, N)``, ``counts`` and
    ``spend`` ``(R, S, K)``, then revenue and capability growth; the state at the new month."""
    core, state, month = decided.core, decided.state, decided.month
    moved_state = replace(state, choice=choice, counts=counts, spend=spend)
    usage = spend_usage(core, moved_state)
    paying = np.where(decided.accessible, usage, 0.0)
    revenue = payoffs.provider_revenue(core, paying, decided.price)
    quality, frontier, compute = dynamics.grow_capability(
        core, state.quality, state.frontier, state.compute, usage, revenue, decided.controls, month
    )
    return replace(
        moved_state,
        t=month,
        frontier=frontier,
        quality=quality,
        strategy=decided.strategy,
        home_policy=decided.home_policy,
        rival_policy=decided.rival_policy,
        controls=decided.controls,
        price=decided.price,
        compute=compute,
        firm_memory=decided.firm_memory,
        home_memory=decided.home_memory,
        rival_memory=decided.rival_memory,
        controls_memory=decided.controls_memory,
    )


def _moved_spend(
    core: Core,
    state: State,
    choice: NDArray[np.int16],
    counts: NDArray[np.int64],
    moved: NDArray[np.intp],
    old: NDArray[np.intp],
    new: NDArray[np.intp],
) -> Float:
    """Spend by segment and option after the moves: the counts when every enterprise spends
    1, else the previous spend with each mover's size moved from ``old`` to ``new`` (an
    option nobody holds is set to exactly 0, so rounding never leaves a ghost share)."""
    pop = state.population
    if pop.unit_sizes:
        return counts.astype(float)
    runs, n = choice.shape
    n_segments, n_options = counts.shape[1], counts.shape[2]
    run_of = moved // n
    seg = core.segment_of[moved % n].astype(np.intp)
    size = pop.size.ravel()[moved]
    cell = (run_of * n_segments + seg) * n_options
    total = runs * n_segments * n_options
    delta = np.bincount(cell + new, weights=size, minlength=total) - np.bincount(
        cell + old, weights=size, minlength=total
    )
    spend = state.spend + delta.reshape(state.spend.shape)
    return np.where(counts > 0, spend, 0.0)


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
    "open_share",
    "no_provider_share",
    "foreign_spend_share",
    "local_agreement",
    "export_controls",
    "open_capability_gap",
    "mean_domestic_price",
)
PROVIDER_COLUMNS = ("strategy", "revenue", "payoff", "quality", "share", "spend_share", "price")
SEGMENT_COLUMNS = (
    "foreign_share",
    "domestic_share",
    "open_share",
    "no_provider_share",
    "foreign_spend_share",
)


@dataclass(frozen=True)
class Observation:
    """Reported quantities of a state: model-level ``(R,)`` arrays, per-provider ``(R, J)`` and
    per-segment ``(R, S)``."""

    model: dict[str, Float]
    provider: dict[str, NDArray[np.generic]]
    segment: dict[str, Float]


def local_agreement(state: State) -> Float:
    """Mean over enterprises with neighbours of the share of their neighbours on their own
    option, ``(R,)``; NaN without a network. One pass over the undirected edges
    (:func:`sim.kernels.agreeing_weight`): an edge whose ends hold the same option adds
    ``1/d_u + 1/d_v``."""
    edges = state.population.agreement
    if edges is None:
        return np.full(state.runs, np.nan)
    from sim.kernels import agreeing_weight

    total = agreeing_weight(
        edges.first, edges.second, edges.weight, edges.bounds, state.choice.ravel()
    )
    return np.where(edges.members > 0, total / np.maximum(edges.members, 1), np.nan)


def observe(core: Core, state: State) -> Observation:
    """Reduce a state to the outputs the DataCollector and the batch engine report."""
    p = core.params
    rel = relative_quality(state)
    usage = count_usage(core, state)
    spend = spend_usage(core, state)
    accessible, _ = reachability(core, state.strategy, state.rival_policy)
    paying = np.where(accessible, spend, 0.0)  # circumventing users pay intermediaries
    revenue = payoffs.provider_revenue(core, paying, state.price)
    penalty = payoffs.expected_penalty(core, state.home_policy)
    licence = None
    if core.flags.licence:
        options = np.concatenate([paying, np.zeros((state.runs, 1))], axis=-1)
        income = payoffs.licence_income(core, options, state.price)
        licence = (income, income)
        revenue = revenue + income
    realized = payoffs.provider_payoffs(core, paying, rel, penalty, state.price, licence)
    payoff = np.where(state.strategy == ALLOW, realized[..., ALLOW], realized[..., RESTRICT])
    foreign_f = core.foreign.astype(float)
    domestic_f = core.domestic.astype(float)
    open_f = core.open.astype(float)
    best_rival = np.where(payoffs.rival_industry(core), rel, -np.inf).max(-1)
    model = {
        "frac_foreign_allowing": (state.strategy[:, core.foreign_index] == ALLOW).mean(-1),
        "home_restricts": state.home_policy.astype(float),
        "rival_restricts": state.rival_policy.astype(float),
        "foreign_share": (usage * foreign_f).sum(-1),
        "domestic_share": (usage * domestic_f).sum(-1),
        "capability_gap": 1.0 - best_rival,
        "foreign_revenue": (revenue * foreign_f).sum(-1),
        "domestic_revenue": (revenue * domestic_f).sum(-1),
        "security_risk": payoffs.security_cost(spend, rel, core.exposure, 1.0).sum(-1),
        "enterprise_welfare": (usage * rel).sum(-1),
        "hhi": payoffs.herfindahl(spend),
        "open_share": (usage * open_f).sum(-1),
        "no_provider_share": state.counts.sum(1)[:, -1] / p.n_enterprises,
        "foreign_spend_share": (spend * foreign_f).sum(-1),
        "local_agreement": local_agreement(state),
        "export_controls": state.controls.astype(float),
        "open_capability_gap": 1.0 - np.where(core.open, rel, -np.inf).max(-1)
        if core.flags.open_models
        else np.full(state.runs, np.nan),
        "mean_domestic_price": state.price[:, core.domestic_index].mean(-1),
    }
    provider: dict[str, NDArray[np.generic]] = {
        "strategy": state.strategy,
        "revenue": revenue,
        "payoff": payoff,
        "quality": rel,
        "share": usage,
        "spend_share": spend,
        "price": state.price,
    }
    members = np.maximum(state.counts.sum(-1), 1)  # (R, S)
    seg_spend = np.maximum(state.spend.sum(-1), 1e-300)
    by_kind = state.counts[..., :-1]
    segment = {
        "foreign_share": (by_kind * foreign_f).sum(-1) / members,
        "domestic_share": (by_kind * domestic_f).sum(-1) / members,
        "open_share": (by_kind * open_f).sum(-1) / members,
        "no_provider_share": state.counts[..., -1] / members,
        "foreign_spend_share": (state.spend[..., :-1] * foreign_f).sum(-1) / seg_spend,
    }
    return Observation(model=model, provider=provider, segment=segment)
