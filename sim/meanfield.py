r"""Mean-field approximation: the deterministic aggregate dynamics of the full model.

The agent-based model (:mod:`sim.engine`) draws every decision; here each random quantity is
replaced by its expectation, which gives a deterministic map of aggregate state, one step per
model step (one month). It is the large-population limit of the enterprise side (the law of
large numbers over ``N`` enterprises, with fluctuations of order ``1 / sqrt(N)``) and the
independence (mean-field) closure on the strategic side.

State (all expected values)
    s      ``(K,)``   share of enterprises on each option (``K = J + 1``, last = no provider)
    x_i    ``(J_f,)`` probability that foreign provider ``i`` allows
    h, r   scalars    probability that the home / rival government restricts
    q, F   ``(J,)``, scalar   absolute qualities and the frontier

One step, in the engine's order:

1. Strategy profiles ``omega = (a_1..a_Jf, home, rival)`` are weighted by
   ``w(omega) = prod_i x_i^[a_i = ALLOW] (1 - x_i)^[a_i = RESTRICT]``
   ``* h^[home = RESTRICT] (1 - h)^[home = ALLOW] * r^[rival = RESTRICT] (1 - r)^[..]``
   (independence closure). The payoffs of every profile come from the engine's own functions
   :func:`sim.engine.firm_payoffs`, :func:`sim.engine.home_payoffs` and
   :func:`sim.engine.rival_payoffs`, with the profiles laid out on the run axis.
2. Expected revision: ``x_i' = sum_omega w(omega) [(1 - rho_f) [a_i = ALLOW]
   + rho_f P_rule(ALLOW | payoffs(omega))]``, and likewise ``h'``, ``r'`` with ``rho_g``, where
   ``P_rule`` is the rule's choice probability (:func:`sim.rules.choice_probabilities`): logit
   ``softmax(lambda pi)`` (McKelvey & Palfrey 1995), best response ``1/|argmax|`` on the
   maximizers, fixed ``[a = current]``.
   Fixed strategies override. (Fermi imitation, fictitious play and Roth-Erev have no
   memoryless expected update over a single agent and are not supported.)
3. Enterprises: for each profile of the new foreign strategies and rival policy (weights from
   ``x'``, ``r'``), with ``P`` from :func:`sim.payoffs.transition_probabilities` and ``phi`` the
   options whose users are forced to move,
   ``s' = sum_omega w(omega) [(1 - rho) s (1 - phi) + (s (rho (1 - phi) + phi)) P]``,
   the expectation of :func:`sim.dynamics.choose_providers`.
4. Capability: :func:`sim.dynamics.grow_capability` at the expected usage ``s'[:J]``.

Reported quantities are those of :func:`sim.engine.observe` averaged over the profiles with
their weights, at the expected enterprise counts ``N s``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim import engine, payoffs
from sim.params import Params
from sim.rules import choice_probabilities

Float = NDArray[np.float64]

MEANFIELD_RULES = ("logit", "best_response", "fixed")


@dataclass(frozen=True)
class MeanState:
    """Expected aggregate state (see the module docstring)."""

    t: int
    shares: Float  # (K,)
    allow: Float  # (J_f,)
    home_restricts: float
    rival_restricts: float
    quality: Float  # (J,)
    frontier: float


def _check_rules(params: Params) -> None:
    for name in ("firm_rule", "home_rule", "rival_rule"):
        rule = getattr(params, name)
        if rule not in MEANFIELD_RULES:
            raise ValueError(
                f"{name}={rule!r}: the mean field is defined for {', '.join(MEANFIELD_RULES)}"
            )


def _profiles(n_foreign: int, n_policies: int) -> NDArray[np.int8]:
    """Every 0/1 profile of ``n_foreign`` strategies and ``n_policies`` policies, ``(P, n)``."""
    return np.array(list(itertools.product((0, 1), repeat=n_foreign + n_policies)), np.int8)


def _weights(profile: NDArray[np.int8], p_one: Float) -> Float:
    """Independence weights of 0/1 profiles ``(P, n)`` with ``P(entry = 1) = p_one`` ``(n,)``."""
    return np.asarray(np.where(profile == 1, p_one, 1.0 - p_one).prod(axis=-1))


def _profile_state(
    core: engine.Core,
    ms: MeanState,
    foreign_strategy: NDArray[np.int8],
    home: NDArray[np.int8],
    rival: NDArray[np.int8],
) -> engine.State:
    """An engine state with one profile per run (``P`` runs) at the mean qualities and shares."""
    n_prof = len(home)
    strategy = np.zeros((n_prof, len(core.foreign)), np.int8)
    strategy[:, core.foreign_index] = foreign_strategy
    n = core.params.n_enterprises
    return engine.State(
        t=ms.t,
        frontier=np.full(n_prof, ms.frontier),
        quality=np.tile(ms.quality, (n_prof, 1)),
        strategy=strategy,
        home_policy=home,
        rival_policy=rival,
        choice=np.zeros((n_prof, 0), np.int16),
        counts=np.tile(ms.shares * n, (n_prof, 1)),  # expected counts (real numbers)
        firm_memory=np.zeros((n_prof, len(core.foreign_index), 2)),
        home_memory=np.zeros((n_prof, 1, 2)),
        rival_memory=np.zeros((n_prof, 1, 2)),
    )


def _revised(
    rule: str, payoff: Float, current: NDArray[np.int8], rate: float, rationality: float
) -> Float:
    """Probability of RESTRICT after one revision step, per profile and agent ``(P, n)``."""
    if rule == "fixed":
        return current.astype(float)
    restrict = choice_probabilities(rule, payoff, rationality)[..., engine.RESTRICT]
    return np.asarray((1.0 - rate) * current + rate * restrict)


def initial_mean_state(params: Params) -> MeanState:
    """Step 0: the engine's initial profile and the adoption probabilities it draws from."""
    _check_rules(params)
    core = engine.Core.from_params(params)
    start = engine.initial_profile(core)
    return MeanState(
        t=0,
        shares=start.shares,
        allow=(start.strategy[core.foreign_index] == engine.ALLOW).astype(float),
        home_restricts=float(start.home_policy),
        rival_restricts=float(start.rival_policy),
        quality=start.quality,
        frontier=1.0,
    )


def _weighted_profiles(
    core: engine.Core, ms: MeanState
) -> tuple[Float, NDArray[np.int8], engine.State]:
    """Every strategy/policy profile, its probability under independence and the engine state
    it describes (one profile per run)."""
    n_f = len(core.foreign_index)
    profile = _profiles(n_f, 2)
    weight = _weights(
        profile, np.concatenate([1.0 - ms.allow, [ms.home_restricts, ms.rival_restricts]])
    )
    state = _profile_state(core, ms, profile[:, :n_f], profile[:, n_f], profile[:, n_f + 1])
    return weight, profile, state


def step(core: engine.Core, ms: MeanState) -> MeanState:
    """One step of the expected-value map (module docstring, items 1 to 4)."""
    p = core.params
    n_f = len(core.foreign_index)
    weight, profile, state = _weighted_profiles(core, ms)
    foreign_now, home_now, rival_now = profile[:, :n_f], profile[:, n_f], profile[:, n_f + 1]
    values = engine.values_of(core, engine.relative_quality(state))

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
    new_restrict = weight @ restrict_firm
    new_home, new_rival = float(weight @ home), float(weight @ rival)

    # 3. enterprises over the profiles of the new foreign strategies and rival policy
    access_profile = _profiles(n_f, 1)
    access_weight = _weights(access_profile, np.concatenate([new_restrict, [new_rival]]))
    n_acc = len(access_profile)
    strategy = np.zeros((n_acc, len(core.foreign)), np.int8)
    strategy[:, core.foreign_index] = access_profile[:, :n_f]
    accessible, circumventable = engine.reachability(core, strategy, access_profile[:, n_f])
    transition = payoffs.transition_probabilities(
        np.broadcast_to(values[:1], (n_acc, values.shape[1])),
        accessible,
        circumventable,
        core.switching,
        rationality=p.enterprise_rationality,
        circumvention_cost=p.circumvention_cost,
    )  # (P, K, K)
    forced = ~np.concatenate([accessible, np.ones((n_acc, 1), bool)], axis=-1)  # (P, K)
    staying = (1.0 - p.revision_rate) * ms.shares * ~forced
    moving = ms.shares * np.where(forced, 1.0, p.revision_rate)
    shares = access_weight @ (staying + np.einsum("pk,pkj->pj", moving, transition))

    # 4. capability at the expected usage
    quality, frontier = engine.grow_capability(
        core, ms.quality[None], np.array([ms.frontier]), shares[None, :-1]
    )
    return MeanState(
        t=ms.t + 1,
        shares=shares,
        allow=1.0 - new_restrict,
        home_restricts=new_home,
        rival_restricts=new_rival,
        quality=quality[0],
        frontier=float(frontier[0]),
    )


def observe(core: engine.Core, ms: MeanState) -> dict[str, float]:
    """Expected :data:`sim.engine.MODEL_COLUMNS` of a mean state (profile-weighted)."""
    weight, _, state = _weighted_profiles(core, ms)
    obs = engine.observe(core, state)
    return {c: float(weight @ obs.model[c]) for c in engine.MODEL_COLUMNS}


def trajectory(params: Params, steps: int) -> pd.DataFrame:
    """Mean-field trajectory: ``step`` and :data:`sim.engine.MODEL_COLUMNS`, ``steps + 1`` rows
    (row 0 the initial state), the deterministic counterpart of ``run_batch``'s run average."""
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps={steps!r}: expected a whole number >= 0")
    core = engine.Core.from_params(params)
    ms = initial_mean_state(params)
    rows = [{"step": 0, **observe(core, ms)}]
    for _ in range(steps):
        ms = step(core, ms)
        rows.append({"step": ms.t, **observe(core, ms)})
    return pd.DataFrame(rows)
