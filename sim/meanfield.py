r"""Mean-field approximation: the deterministic aggregate dynamics of the full model.

The agent-based model (:mod:`sim.engine`) draws every decision; here each random quantity is
replaced by its expectation, which gives a deterministic map of aggregate state, one step per
model step (one month). On the enterprise side it is exact in expectation when enterprises do
not interact (no peer effect): enterprises then move independently given the providers' and
governments' choices, so the expected share vector of each *class* of enterprises follows a
linear map. A class is a segment and, when the segment has tastes, one node of a Gauss-Hermite
quadrature of its normal taste distribution (``TASTE_NODES`` points per taste kind present):
the quadrature replaces the integral over tastes, exact for polynomials of degree
``2 TASTE_NODES - 1``. On the strategic side it is the independence (mean-field) closure; with
peer effects it adds a homogeneous-mixing closure (below).

State (all expected values)
    s_c    ``(C, K)`` share of class ``c``'s enterprises on each option (``K = J + 1``)
    x_i    ``(J_f,)`` probability that foreign provider ``i`` allows
    h, r   probability that the home / rival government restricts; ``z`` that compute
           controls are on
    q, F, p, c   absolute qualities, the frontier, prices and compute

One step, in the engine's order:

1. Strategy profiles ``omega = (a_1..a_Jf, home, rival[, controls])`` are weighted by the
   product of their marginal probabilities (independence closure). The payoffs of every
   profile come from the engine's own functions with the profiles laid out on the run axis.
2. Expected revision: ``x_i' = sum_omega w(omega) [(1 - rho_f) [a_i = ALLOW]
   + rho_f P_rule(ALLOW | payoffs(omega))]``, and likewise for the governments, where
   ``P_rule`` is the rule's action probability (:data:`sim.rules.REGISTRY` ``expected``):
   logit ``softmax(lambda pi)`` (McKelvey & Palfrey 1995), best response ``1/|argmax|`` on the
   maximizers; fixed strategies keep their action. Prices follow the price rule, averaged over
   the profiles. (Fermi imitation, fictitious play and Roth-Erev have no memoryless expected
   update over a single agent and are not supported.)
3. Enterprises: for each profile of the new foreign strategies and rival policy, with ``U``
   from :func:`sim.payoffs.transition_utilities`, class ``c`` (segment ``s``, taste node
   ``e``) moves by ``P_c = softmax(U_s + mu_s (e_kind + beta_peer xbar_s))`` and
   ``s_c' = sum_omega w(omega) [(1 - rho_s) s_c (1 - phi) + (s_c (rho_s (1 - phi) + phi)) P_c]``
   with ``phi`` the options its users must leave: the expectation of
   :func:`sim.dynamics.choose_providers`. The peer term is the homogeneous-mixing closure:
   ``xbar_s = sum_b M_sb sbar_b`` where ``sbar_b`` is segment ``b``'s spend share on each
   option and ``M_sb`` the expected share of a segment-``s`` member's neighbours' spend in
   segment ``b`` (:func:`mixing_matrix`): every neighbourhood looks like the population.
4. Capability, compute and open models: :func:`sim.dynamics.grow_capability` at the expected
   spend shares and revenues.

Reported quantities are those of :func:`sim.engine.observe` averaged over the profiles with
their weights, at the expected enterprise counts and spend.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import NDArray

from sim import dynamics, engine, network, payoffs, rules
from sim.batch import warn_late_events, whole_number
from sim.core import Core, Plan, segment_sizes
from sim.errors import field_error
from sim.params import TASTE_KINDS, Params

Float = NDArray[np.float64]

TASTE_NODES = 4
"""Gauss-Hermite nodes per taste kind in the mean field's enterprise classes."""


def supported(rule: str) -> bool:
    """Whether the mean field has an expected update for ``rule``."""
    spec = rules.spec_of(rule)
    return spec.expected is not None or spec.keeps_action


def _check_rules(params: Params) -> None:
    valid = [r for r in rules.RULES if supported(r)]
    for name in ("firm_rule", "home_rule", "rival_rule", "home_controls_rule"):
        rule = getattr(params, name)
        if not supported(rule):
            raise field_error(
                name, rule, f"the mean field is defined for {', '.join(map(repr, valid))}"
            )


@dataclass(frozen=True)
class Classes:
    """The mean field's enterprise classes: segment ``segment (C,)``, share of all enterprises
    ``weight (C,)``, expected spend weight ``spend (C,)`` (sums to one) and taste ``(C, T)``."""

    segment: NDArray[np.intp]
    weight: Float
    spend: Float
    taste: Float

    @classmethod
    def of(cls, core: Core) -> Classes:
        segs = core.params.resolved_segments()
        present = [k for k in range(len(TASTE_KINDS)) if (core.taste_kind == k).any()]
        nodes, probs = hermegauss(TASTE_NODES)
        probs = probs / probs.sum()
        seg_idx, weight, taste = [], [], []
        for s, seg in enumerate(segs):
            if seg.taste_sd > 0 and present:
                for combo in itertools.product(range(TASTE_NODES), repeat=len(present)):
                    point = np.zeros(len(TASTE_KINDS))
                    point[present] = seg.taste_sd * nodes[list(combo)]
                    seg_idx.append(s)
                    weight.append(core.segment_share[s] * np.prod(probs[list(combo)]))
                    taste.append(point)
            else:
                seg_idx.append(s)
                weight.append(1.0 if len(segs) == 1 else core.segment_share[s])
                taste.append(np.zeros(len(TASTE_KINDS)))
        index = np.array(seg_idx, dtype=np.intp)
        w = np.array(weight)
        size = np.array([s.size_mean for s in segs])[index]
        spend = w * size / (w * size).sum() if len(w) > 1 else np.ones(1)
        return cls(index, w, spend, np.array(taste))


@dataclass(frozen=True)
class MeanState:
    """Expected aggregate state (see the module docstring)."""

    t: int
    shares: Float  # (C, K)
    allow: Float  # (J_f,)
    home_restricts: float
    rival_restricts: float
    controls_on: float
    quality: Float  # (J,)
    frontier: float
    price: Float  # (J,)
    compute: Float  # (J,)


def mixing_matrix(core: Core) -> Float:
    """``M (S, S)``: expected share of a segment-``s`` member's neighbours' spend that lies in
    segment ``b``: the tie ends of :func:`mixing_matrix_counts` weighted by each segment's mean
    spend."""
    mean_size = np.array([s.size_mean for s in core.params.resolved_segments()])
    spend = mixing_matrix_counts(core) * mean_size[None, :]
    return np.asarray(spend / spend.sum(-1, keepdims=True))


def _profiles(n: int) -> NDArray[np.int8]:
    """Every 0/1 profile of ``n`` binary choices, ``(2^n, n)``."""
    return np.array(list(itertools.product((0, 1), repeat=n)), np.int8).reshape(-1, n)


def _weights(profile: NDArray[np.int8], p_one: Float) -> Float:
    """Independence weights of 0/1 profiles ``(P, n)`` with ``P(entry = 1) = p_one`` ``(n,)``."""
    return np.asarray(np.where(profile == 1, p_one, 1.0 - p_one).prod(axis=-1))


def _segment_totals(core: Core, classes: Classes, shares: Float) -> tuple[Float, Float]:
    """Expected enterprises and spend on each option by segment, ``(S, K)`` each."""
    n = core.params.n_enterprises
    sizes = np.array([s.size_mean for s in core.params.resolved_segments()])
    counts = np.zeros((core.n_segments, core.n_options))
    np.add.at(counts, classes.segment, shares * (classes.weight * n)[:, None])
    return counts, counts * sizes[:, None]


def _profile_state(
    core: Core,
    classes: Classes,
    ms: MeanState,
    strategy_f: NDArray[np.int8],
    home: NDArray[np.int8],
    rival: NDArray[np.int8],
    controls: NDArray[np.int8],
) -> engine.State:
    """An engine state with one profile per run (``P`` runs) at the mean qualities and shares."""
    n_prof = len(home)
    strategy = np.zeros((n_prof, len(core.foreign)), np.int8)
    strategy[:, core.foreign_index] = strategy_f
    counts, spend = _segment_totals(core, classes, ms.shares)
    sizes = np.array([s.size_mean for s in core.params.resolved_segments()])
    total = core.params.n_enterprises * float((classes.weight * sizes[classes.segment]).sum())
    population = engine.Population(
        size=np.ones((n_prof, 0)),
        taste=None,
        graph=None,
        total_spend=np.full(n_prof, total),
        personal=None,
        unit_sizes=False,
    )
    return engine.State(
        t=ms.t,
        frontier=np.full(n_prof, ms.frontier),
        quality=np.tile(ms.quality, (n_prof, 1)),
        strategy=strategy,
        home_policy=home,
        rival_policy=rival,
        controls=controls,
        price=np.tile(ms.price, (n_prof, 1)),
        compute=np.tile(ms.compute, (n_prof, 1)),
        choice=np.zeros((n_prof, 0), np.int16),
        counts=np.tile(counts, (n_prof, 1, 1)),  # expected counts (real numbers)
        spend=np.tile(spend, (n_prof, 1, 1)),
        firm_memory=np.zeros((n_prof, len(core.foreign_index), 2)),
        home_memory=np.zeros((n_prof, 1, 2)),
        rival_memory=np.zeros((n_prof, 1, 2)),
        controls_memory=np.zeros((n_prof, 1, 2)),
        population=population,
    )


def _revised(rule: str, payoff: Float, current: NDArray[np.int8], rate: float, lam: float) -> Float:
    """Probability of action 1 (RESTRICT, controls on) after one revision step, ``(P, n)``."""
    spec = rules.spec_of(rule)
    if spec.keeps_action:
        return current.astype(float)
    assert spec.expected is not None
    restrict = spec.expected(payoff, lam)[..., engine.RESTRICT]
    return np.asarray((1.0 - rate) * current + rate * restrict)


def _class_start(core: Core, classes: Classes) -> Float:
    """Step-0 adoption probabilities of every class, ``(C, K)``."""
    start = engine.initial_profile(core)
    seg = classes.segment
    if not classes.taste.any():
        return start.shares[seg]
    extra = np.zeros((len(seg), core.n_options))
    extra[:, :-1] = classes.taste[:, core.taste_kind]
    utility = core.mu[seg][:, None] * (start.values[seg] + extra)
    available = np.concatenate([start.available, np.ones((core.n_segments, 1), bool)], -1)
    return dynamics.logit_rows(np.where(available[seg], utility, -np.inf))


def initial_mean_state(params: Params) -> MeanState:
    """Step 0: the engine's initial profile and the adoption probabilities it draws from."""
    _check_rules(params)
    core = Plan.from_params(params).first
    start = engine.initial_profile(core)
    classes = Classes.of(core)
    return MeanState(
        t=0,
        shares=_class_start(core, classes),
        allow=(start.strategy[core.foreign_index] == engine.ALLOW).astype(float),
        home_restricts=float(start.home_policy),
        rival_restricts=float(start.rival_policy),
        controls_on=float(start.controls),
        quality=start.quality,
        frontier=1.0,
        price=start.price,
        compute=start.compute,
    )


def _weighted_profiles(
    core: Core, classes: Classes, ms: MeanState
) -> tuple[Float, NDArray[np.int8], engine.State]:
    """Every strategy/policy profile, its probability under independence and the engine state
    it describes (one profile per run)."""
    n_f = len(core.foreign_index)
    decided = core.flags.controls_decided
    profile = _profiles(n_f + 2 + int(decided))
    p_one = [1.0 - ms.allow, np.array([ms.home_restricts, ms.rival_restricts])]
    if decided:
        p_one.append(np.array([ms.controls_on]))
    weight = _weights(profile, np.concatenate(p_one))
    controls = profile[:, n_f + 2] if decided else np.full(len(profile), ms.controls_on > 0.5)
    state = _profile_state(
        core,
        classes,
        ms,
        profile[:, :n_f],
        profile[:, n_f],
        profile[:, n_f + 1],
        np.asarray(controls, np.int8),
    )
    return weight, profile, state


def _apply_stage(plan: Plan, ms: MeanState, month: int) -> MeanState:
    """The state an event month sets (:class:`sim.core.Assignment`), in expectation."""
    stage = plan.stage_at(month)
    if stage is None:
        return ms
    core = stage.core
    vectors = {
        "quality": ms.quality.copy(),
        "price": ms.price.copy(),
        "compute": ms.compute.copy(),
        "allow": ms.allow.copy(),
    }
    changes: dict[str, object] = {}
    position = {int(j): k for k, j in enumerate(core.foreign_index)}
    scalar = {
        "home_policy": "home_restricts",
        "rival_policy": "rival_restricts",
        "controls": "controls_on",
    }
    for a in stage.assignments:
        if a.provider is None:
            changes[scalar[a.target]] = a.value
        elif a.target == "strategy":
            vectors["allow"][position[a.provider]] = 1.0 - a.value
        elif a.target == "quality":
            vectors["quality"][a.provider] = a.value * ms.frontier
        else:
            vectors[a.target][a.provider] = a.value
    return replace(ms, **vectors, **changes)  # type: ignore[arg-type]


def step(plan: Plan, ms: MeanState) -> MeanState:
    """One step of the expected-value map (module docstring, items 1 to 4)."""
    month = ms.t + 1
    ms = _apply_stage(plan, ms, month)
    core = plan.core_at(month)
    p = core.params
    classes = Classes.of(core)
    n_f = len(core.foreign_index)
    weight, profile, state = _weighted_profiles(core, classes, ms)
    foreign_now, home_now, rival_now = profile[:, :n_f], profile[:, n_f], profile[:, n_f + 1]
    values = engine.values_of(core, state)

    # 1-2. payoffs of every profile and the expected revision of every decision maker
    firm = engine.firm_payoffs(core, state, values, home_now)[:, core.foreign_index, :]
    restrict_firm = _revised(
        p.firm_rule, firm, foreign_now, p.firm_revision_rate, p.firm_rationality
    )
    fixed = core.fixed[core.foreign_index]
    restrict_firm = np.where(fixed >= 0, fixed, restrict_firm)
    home = _revised(
        p.home_rule,
        engine.home_payoffs(core, state, values)[:, 0],
        home_now,
        p.gov_revision_rate,
        p.home_rationality,
    )
    rival = _revised(
        p.rival_rule,
        engine.rival_payoffs(core, state, values)[:, 0],
        rival_now,
        p.gov_revision_rate,
        p.rival_rationality,
    )
    # averages of probabilities with weights summing to one up to rounding: kept in [0, 1]
    new_restrict = _probability(weight @ restrict_firm)
    new_home, new_rival = float(_probability(weight @ home)), float(_probability(weight @ rival))
    new_controls = ms.controls_on
    if core.flags.controls_decided:
        on = _revised(
            p.home_controls_rule,
            engine.controls_payoffs(core, state)[:, 0],
            profile[:, n_f + 2],
            p.gov_revision_rate,
            p.home_rationality,
        )
        new_controls = float(_probability(weight @ on))
    price = ms.price
    if core.flags.prices:
        price = weight @ engine.update_prices(core, state, values)

    # 3. enterprises over the profiles of the new foreign strategies and rival policy
    access_profile = _profiles(n_f + 1)
    access_weight = _weights(access_profile, np.concatenate([new_restrict, [new_rival]]))
    n_acc = len(access_profile)
    strategy = np.zeros((n_acc, len(core.foreign)), np.int8)
    strategy[:, core.foreign_index] = access_profile[:, :n_f]
    accessible, circumventable = engine.reachability(core, strategy, access_profile[:, n_f])
    row = replace(state, price=np.tile(price, (len(profile), 1)))
    values = engine.values_of(core, row)[:1]
    utilities = payoffs.transition_utilities(
        core,
        np.broadcast_to(values, (n_acc, *values.shape[1:])),
        accessible,
        circumventable,
        engine.switching_costs(core, strategy),
    )  # (P, S, K, K)
    seg = classes.segment
    transition = _class_transitions(core, classes, ms, utilities)  # (P, C, K, K)
    forced = engine.forced_moves(core, accessible, circumventable)
    forced_c = forced[:, seg, :]  # (P, C, K)
    rho = core.revision_rate[seg][None, :, None]
    staying = (1.0 - rho) * ms.shares * ~forced_c
    moving = ms.shares * np.where(forced_c, 1.0, rho)
    flat_moving = moving.reshape(-1, core.n_options)
    flat_transition = transition.reshape(-1, core.n_options, core.n_options)
    moved = np.einsum("pk,pkj->pj", flat_moving, flat_transition).reshape(staying.shape)
    shares = (access_weight @ (staying + moved).reshape(n_acc, -1)).reshape(ms.shares.shape)

    # 4. capability, compute and open models at the expected spend shares
    usage = payoffs.aggregate(shares[None], classes.spend)[:, :-1]  # (1, J)
    paying = usage * _open_probability(core, new_restrict, new_rival)
    revenue = payoffs.provider_revenue(core, paying, np.asarray(price)[None])
    quality, frontier, compute = dynamics.grow_capability(
        core,
        ms.quality[None],
        np.array([ms.frontier]),
        ms.compute[None],
        usage,
        revenue,
        np.array([new_controls]),
        month,
    )
    return MeanState(
        t=month,
        shares=shares,
        allow=1.0 - new_restrict,
        home_restricts=new_home,
        rival_restricts=new_rival,
        controls_on=new_controls,
        quality=quality[0],
        frontier=float(frontier[0]),
        price=np.asarray(price),
        compute=compute[0],
    )


def _probability(p: Float) -> Float:
    """``p`` clipped to [0, 1] (a weighted mean of probabilities can miss by an ulp)."""
    return np.asarray(np.clip(p, 0.0, 1.0))


def _open_probability(core: Core, restrict: Float, rival: float) -> Float:
    """Probability that each provider is accessible (its users pay it), ``(1, J)``."""
    out = np.ones((1, len(core.foreign)))
    out[0, core.foreign_index] = (1.0 - restrict) * (1.0 - rival)
    return out


def _class_transitions(core: Core, classes: Classes, ms: MeanState, utilities: Float) -> Float:
    """``(P, C, K, K)`` transition probabilities of every class: its segment's utilities plus
    its taste and the mixing-closure peer term."""
    seg = classes.segment
    base = utilities[:, seg]  # (P, C, K, K)
    extra = np.zeros((len(seg), core.n_options))
    if classes.taste.any():
        extra[:, :-1] = classes.taste[:, core.taste_kind]
    if core.flags.peers:
        extra = extra + core.params.peer_effect * peer_shares(core, classes, ms.shares)[seg]
    if not extra.any():
        return payoffs.transition_probabilities(base)
    shifted = base + (core.mu[seg][:, None] * extra)[None, :, None, :]
    return dynamics.logit_rows(shifted)


def peer_shares(core: Core, classes: Classes, shares: Float) -> Float:
    """Homogeneous-mixing closure of the neighbours' spend share on each option by segment,
    ``(S, K)``: ``xbar_s = sum_b M_sb sbar_b``."""
    _, spend = _segment_totals(core, classes, shares)
    within = spend / np.maximum(spend.sum(-1, keepdims=True), 1e-300)
    return np.asarray(mixing_matrix(core) @ within)


def observe(plan: Plan, ms: MeanState) -> dict[str, float]:
    """Expected :data:`sim.engine.MODEL_COLUMNS` of a mean state (profile-weighted)."""
    core = plan.core_at(ms.t)
    classes = Classes.of(core)
    weight, _, state = _weighted_profiles(core, classes, ms)
    obs = engine.observe(core, state)
    out = {c: float(weight @ obs.model[c]) for c in engine.MODEL_COLUMNS if c != "local_agreement"}
    out["local_agreement"] = _agreement(core, classes, ms)
    return {c: out[c] for c in engine.MODEL_COLUMNS}


def _agreement(core: Core, classes: Classes, ms: MeanState) -> float:
    """Expected share of an enterprise's neighbours on its own option under the mixing
    closure (count-weighted neighbours); NaN without a network."""
    if not core.flags.network:
        return float("nan")
    counts, _ = _segment_totals(core, classes, ms.shares)
    within = counts / np.maximum(counts.sum(-1, keepdims=True), 1e-300)
    ties = mixing_matrix_counts(core)
    neighbour = ties @ within  # (S, K)
    own = np.zeros((core.n_segments, core.n_options))
    np.add.at(own, classes.segment, ms.shares * classes.weight[:, None])
    members = own.sum(-1, keepdims=True)
    return float((own * neighbour).sum() / max(members.sum(), 1e-300))


def mixing_matrix_counts(core: Core) -> Float:
    """Expected share of a segment-``s`` member's neighbours in segment ``b`` (by count),
    ``(S, S)``, for the network :func:`sim.network.build` makes:

    * block model: ``p_b (n_b - 1)`` ties inside, ``q n_c`` to each other segment ``c``
      (:func:`sim.network.block_probabilities`); with unequal segments the share inside is not
      ``homophily`` itself (:func:`sim.network.block_expectations`);
    * small world and scale free: the graph is placed on the enterprises in a random order, so
      a member's neighbours are a random draw of the other enterprises: ``n_b - [b = s]`` out
      of ``N - 1``.
    """
    net = core.params.network
    n = core.params.n_enterprises
    sizes = segment_sizes(core.segment_share, n).astype(float)
    n_seg = len(sizes)
    if n_seg == 1:
        return np.ones((1, 1))
    if net.kind == "block":
        present = sizes >= 1
        p = np.zeros(n_seg)
        p[present], q = network.block_probabilities(sizes[present], net.mean_degree, net.homophily)
        ties = q * np.tile(sizes, (n_seg, 1))
        np.fill_diagonal(ties, p * np.maximum(sizes - 1.0, 0.0))
    else:  # random placement, or no network: neighbours are a draw of everyone else
        ties = np.tile(sizes, (n_seg, 1)) - np.eye(n_seg)
    ties = np.maximum(ties, 0.0)
    total = ties.sum(-1, keepdims=True)
    fallback = np.tile(core.segment_share, (n_seg, 1))  # a segment without members or ties
    return np.asarray(np.where(total > 0, ties / np.where(total > 0, total, 1.0), fallback))


def trajectory(params: Params, steps: int) -> pd.DataFrame:
    """Mean-field trajectory: ``step`` and :data:`sim.engine.MODEL_COLUMNS`, ``steps + 1`` rows
    (row 0 the initial state), the deterministic counterpart of ``run_batch``'s run average.
    Events dated after ``steps`` are warned about, as in the model and the batch engine."""
    steps = whole_number("steps", steps, 0)
    warn_late_events(params, steps)
    plan = Plan.from_params(params)
    ms = initial_mean_state(params)
    rows = [{"step": 0, **observe(plan, ms)}]
    for _ in range(steps):
        ms = step(plan, ms)
        rows.append({"step": ms.t, **observe(plan, ms)})
    return pd.DataFrame(rows)
