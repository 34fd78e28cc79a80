r"""Parameters bound once into the arrays the pure core computes with, and the plan of a run.

:class:`Core` is the array form of one :class:`~sim.params.Params`: per-provider vectors
``(J,)``, per-segment vectors ``(S,)`` and matrices ``(S, J)``, ``(S, K, K)``, and flags that
say which mechanisms are on (so a mechanism that is off costs nothing and changes nothing).
Every payoff, decision and dynamics function takes a ``Core``; none reads ``Params`` field by
field or takes a dozen keywords.

:class:`Plan` is a run's timeline: the ``Core`` in force from each event month on (stage 0 is
month 0) and the state each event month sets (:meth:`sim.params.Params.schedule`).

Index conventions: ``j = 0..J-1`` providers in the scenario's order, option ``J`` (last) is no
provider, ``K = J + 1``; ``s = 0..S-1`` segments in the scenario's order (one segment ``all``
when none are declared); enterprises ``0..N-1`` are laid out in contiguous segment blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim import rules
from sim.params import TASTE_KINDS, Params, Stage

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]
Index = NDArray[np.intp]

ALLOW, RESTRICT = 0, 1
CODE = {"allow": ALLOW, "restrict": RESTRICT, "off": 0, "on": 1, "": -1}


def segment_sizes(shares: Float, n: int) -> NDArray[np.int64]:
    """Members per segment: ``floor(share * n)``, the remainder given to the largest fractional
    parts (ties to the earlier segment), so the counts sum to ``n``."""
    exact = np.asarray(shares, dtype=float) * n
    counts = np.floor(exact).astype(np.int64)
    short = int(n - counts.sum())
    if short > 0:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


@dataclass(frozen=True)
class Core:
    """Array form of one :class:`~sim.params.Params` (see the module docstring)."""

    params: Params
    # providers (J,)
    foreign: Bool  # direct or partner: decide allow/restrict, reachable only if allowed
    domestic: Bool
    open: Bool
    home_origin: Bool
    foreign_index: Index  # (J_f,)
    domestic_index: Index
    relative_foreign: Float  # relative quality of foreign API providers, 0 elsewhere
    margin: Float
    marginal_cost: Float
    exposure: Float  # kappa on home-origin models, 0 elsewhere
    pressure: Float
    dependence: Float
    coverage: Float
    hosting: Float
    fixed: NDArray[np.int8]  # -1 none, 0 allow, 1 restrict
    licensor: Index  # index of the licensor, -1 none
    revenue_share: Float
    migration_offer: Float
    taste_kind: Index  # (J,) index into TASTE_KINDS
    # segments (S,) and (S, J), (S, K, K)
    segment_names: tuple[str, ...]
    segment_share: Float
    weight: Float  # expected spend weight of each segment (sums to 1)
    mu: Float
    kappa: Float
    tau: Float
    circumvention_cost: Float
    revision_rate: Float
    security_sensitivity: Float
    frontier_need: Float
    serves: Bool  # (S, J): not barred by the segment's rules, not excluded by the provider
    switching: Float  # (S, K, K)
    switching_offer: Float | None  # (S, K, K) while migration offers run, else None
    # enterprises
    segment_of: NDArray[np.int16]  # (N,)
    revision_threshold: Float | float  # (N,) or one value for all
    # flags
    flags: Flags = field(repr=False)

    @property
    def n_segments(self) -> int:
        return len(self.segment_names)

    @property
    def n_options(self) -> int:
        return len(self.foreign) + 1

    @cached_property
    def firm_knobs(self) -> rules.RuleKnobs:
        p = self.params
        return rules.RuleKnobs(p.firm_rationality, p.imitation_intensity, p.roth_erev_forgetting)

    @classmethod
    def from_params(cls, params: Params) -> Core:
        provs = params.providers
        names = [p.name for p in provs]
        segs = params.resolved_segments()

        def column(name: str) -> Float:
            return np.array([float(getattr(p, name)) for p in provs])

        foreign = np.array([p.foreign for p in provs])
        domestic = np.array([p.channel == "domestic" for p in provs])
        is_open = np.array([p.channel == "open" for p in provs])
        home = np.array([p.home_origin for p in provs])
        seg_names = tuple(s.name for s in segs)
        serves = np.array(
            [
                [
                    p.channel not in s.barred_channels and s.name not in p.excluded_segments
                    for p in provs
                ]
                for s in segs
            ]
        )
        share = np.array([s.share for s in segs])
        spend = share * np.array([s.size_mean for s in segs])
        weight = spend / spend.sum() if len(segs) > 1 else np.ones(1)

        def seg_column(name: str) -> Float:
            return np.array([float(getattr(s, name)) for s in segs])

        tau = seg_column("switching_cost")
        switching = np.stack(
            [_switching_costs(domestic, t, params.domestic_migration_discount) for t in tau]
        )
        offer = column("migration_offer") * domestic
        switching_offer = None
        if offer.any():
            from_foreign = np.concatenate([foreign, [False]])
            cut = np.concatenate([offer, [0.0]])
            discount = tau[:, None, None] * from_foreign[None, :, None] * cut[None, None, :]
            switching_offer = np.maximum(switching - discount, 0.0)
        counts = segment_sizes(share, params.n_enterprises)
        segment_of = np.repeat(np.arange(len(segs), dtype=np.int16), counts)
        rho = seg_column("revision_rate")
        threshold: Float | float = float(rho[0]) if np.all(rho == rho[0]) else rho[segment_of]
        licensor = np.array(
            [names.index(p.licensor) if p.licensor is not None else -1 for p in provs],
            dtype=np.intp,
        )
        core = cls(
            params=params,
            foreign=foreign,
            domestic=domestic,
            open=is_open,
            home_origin=home,
            foreign_index=np.flatnonzero(foreign),
            domestic_index=np.flatnonzero(domestic),
            relative_foreign=np.where(foreign, column("quality"), 0.0),
            margin=column("margin"),
            marginal_cost=column("marginal_cost"),
            exposure=np.where(home, column("security_exposure"), 0.0),
            pressure=np.where(foreign, column("home_exposure"), 0.0),
            dependence=np.where(foreign, column("rival_dependence"), 0.0),
            coverage=np.where(foreign, column("mandate_coverage"), 0.0),
            hosting=np.where(is_open, column("hosting_cost"), 0.0),
            fixed=np.array([CODE[p.fixed_strategy] for p in provs], dtype=np.int8),
            licensor=licensor,
            revenue_share=column("revenue_share"),
            migration_offer=offer,
            taste_kind=np.array([p.taste_kind for p in provs], dtype=np.intp),
            segment_names=seg_names,
            segment_share=share,
            weight=weight,
            mu=seg_column("enterprise_rationality"),
            kappa=seg_column("price_sensitivity"),
            tau=tau,
            circumvention_cost=seg_column("circumvention_cost"),
            revision_rate=rho,
            security_sensitivity=seg_column("security_sensitivity"),
            frontier_need=seg_column("frontier_need"),
            serves=serves,
            switching=switching,
            switching_offer=switching_offer,
            segment_of=segment_of,
            revision_threshold=threshold,
            flags=Flags.of(params, serves, licensor, segs),
        )
        return core


@dataclass(frozen=True)
class Flags:
    """Which mechanisms are on; each off mechanism is skipped entirely (no cost, no draws)."""

    all_served: bool  # every segment may use every provider
    need: bool
    security: bool
    hosting: bool
    licence: bool
    offer: bool
    tastes: bool
    sizes: bool
    network: bool
    peers: bool
    diffusion: bool
    compute: bool
    open_models: bool
    prices: bool
    controls_decided: bool
    releases: bool

    @classmethod
    def of(cls, params: Params, serves: Bool, licensor: Index, segs: Any) -> Flags:
        p = params
        network = p.network.kind != "none"
        return cls(
            all_served=bool(serves.all()),
            need=any(s.frontier_need > 0 for s in segs),
            security=any(s.security_sensitivity > 0 for s in segs),
            hosting=any(pr.hosting_cost > 0 for pr in p.providers if pr.channel == "open"),
            licence=bool((licensor >= 0).any()),
            offer=any(pr.migration_offer > 0 for pr in p.providers if pr.channel == "domestic"),
            tastes=any(s.taste_sd > 0 for s in segs),
            sizes=any(s.size_sigma > 0 for s in segs) or len({s.size_mean for s in segs}) > 1,
            network=network,
            peers=network and p.peer_effect > 0,
            diffusion=p.diffusion_rate > 0,
            compute=p.compute_effect > 0
            or p.compute_per_revenue > 0
            or p.compute_subsidy > 0
            or any(pr.compute > 0 for pr in p.providers),
            open_models=any(pr.channel == "open" for pr in p.providers),
            prices=p.price_rule != "fixed",
            controls_decided=p.home_controls_rule != "fixed",
            releases=p.frontier_release_interval > 0,
        )


def _switching_costs(domestic: Bool, switching_cost: float, migration_discount: float) -> Float:
    """``tau_cj`` for current option ``c`` (rows, ``K``) and new option ``j`` (columns): ``tau``
    for a move, ``(1 - delta) tau`` into a domestic provider, nothing to stay, to adopt from no
    provider or to drop AI use."""
    k = len(domestic) + 1
    to_domestic = np.concatenate([domestic, [False]])
    cost = np.full((k, k), switching_cost) * np.where(to_domestic, 1.0 - migration_discount, 1.0)
    np.fill_diagonal(cost, 0.0)
    cost[-1, :] = 0.0
    cost[:, -1] = 0.0
    return cost


@dataclass(frozen=True)
class Assignment:
    """One piece of state an event month sets: ``target`` is ``home_policy``, ``rival_policy``,
    ``controls`` (codes 0/1), or a provider's ``strategy`` (code), ``quality`` (as a fraction of
    the frontier), ``price`` or ``compute``; ``provider`` its index (None for the others)."""

    target: str
    provider: int | None
    value: float


def assignments(core: Core, state: dict[str, Any]) -> tuple[Assignment, ...]:
    """The state an event month sets (:data:`sim.params.STATE_KEYS` by name) as assignments,
    read once for the engine and the mean field. A strategy set on a provider that does not
    decide (domestic, open), or an emptied ``fixed_strategy``, sets nothing."""
    names = [p.name for p in core.params.providers]
    out = []
    for key, value in state.items():
        if key in ("home_policy", "rival_policy"):
            out.append(Assignment(key, None, float(CODE[str(value)])))
        elif key == "home_controls":
            out.append(Assignment("controls", None, float(CODE[str(value)])))
        else:
            name, _, field_name = key.partition(".")
            j = names.index(name)
            if field_name in ("initial_strategy", "fixed_strategy"):
                if core.foreign[j] and value:
                    out.append(Assignment("strategy", j, float(CODE[str(value)])))
            else:  # quality, price, compute
                out.append(Assignment(field_name, j, float(str(value))))
    return tuple(out)


@dataclass(frozen=True)
class StageCore:
    """One stage of a :class:`Plan`: the ``Core`` in force from ``month`` on, and the state the
    month's events set (by parameter name, see :data:`sim.params.STATE_KEYS`, and read as
    :class:`Assignment`)."""

    month: int
    core: Core
    state: dict[str, Any]
    labels: tuple[str, ...]

    @cached_property
    def assignments(self) -> tuple[Assignment, ...]:
        return assignments(self.core, self.state)


@dataclass(frozen=True)
class Plan:
    """A run's timeline of :class:`StageCore` (stage 0 at month 0)."""

    stages: tuple[StageCore, ...]

    @classmethod
    def from_params(cls, params: Params) -> Plan:
        return cls(tuple(_bind(stage) for stage in params.schedule()))

    @property
    def first(self) -> Core:
        return self.stages[0].core

    def stage_at(self, month: int) -> StageCore | None:
        """The stage that starts exactly at ``month``, or None."""
        for stage in self.stages:
            if stage.month == month:
                return stage
        return None

    def core_at(self, month: int) -> Core:
        """The ``Core`` in force at ``month``."""
        current = self.stages[0].core
        for stage in self.stages:
            if stage.month <= month:
                current = stage.core
        return current

    @property
    def event_months(self) -> tuple[int, ...]:
        return tuple(s.month for s in self.stages if s.month > 0)


def _bind(stage: Stage) -> StageCore:
    return StageCore(stage.month, Core.from_params(stage.params), stage.state, stage.labels)


TASTES = len(TASTE_KINDS)
