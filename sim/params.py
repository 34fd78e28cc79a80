"""The model's inputs, declared once: providers, enterprise segments, the enterprise network,
dated events and the scalar parameters, as frozen pydantic models (see :mod:`sim.schema`).

Units used throughout (see ``docs/ODD.md``):

* one step is one month;
* money is in US$ million (``$M``);
* quality is relative to the technology frontier, so the frontier model has quality 1;
* prices are an index where 1 is the reference price of frontier-model access; enterprise
  utility converts price to quality units through ``price_sensitivity``;
* shares are fractions of the rival region's enterprises (``*_spend_share``: of their spend).

``Params()`` is a minimal market (one foreign lab, one domestic provider) built from the
schema's defaults and never reads a file; named scenarios are TOML data in
``sim/scenarios/``. Every mechanism added after the first version defaults to off, so the
``classic`` scenario (the first version's ``seed``) is the schema's defaults plus its providers.

Overrides name a provider's or a segment's field by ``<name>.<field>`` and the network's by
``network.<field>``, the same in :meth:`Params.replace`, ``--set`` on the command line, sweep
dimensions and events::

    params.replace(**{"partner-cloud.margin": 0.2, "developers.revision_rate": 0.3})
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import ValidationError, model_validator

from sim.errors import (
    InputError,
    field_error,
    format_validation_error,
    parse_toml,
    read_toml,
    short_repr,
    unknown_choice,
)
from sim.rules import Rule
from sim.schema import (
    FieldDoc,
    Flag,
    Frozen,
    Name,
    Number,
    Whole,
    describe,
    file_form,
    param,
)

Channel = Literal["direct", "partner", "domestic", "open"]
Origin = Literal["", "home", "rival"]
Strategy = Literal["allow", "restrict"]
FixedChoice = Literal["", "allow", "restrict"]
Controls = Literal["off", "on"]
PriceRule = Literal["fixed", "best_response", "price_war"]
NetworkKind = Literal["none", "small_world", "scale_free", "block"]

CHANNELS: tuple[str, ...] = get_args(Channel)
API_FOREIGN_CHANNELS = ("direct", "partner")
ORIGINS = ("home", "rival")
STRATEGIES: tuple[str, ...] = get_args(Strategy)
FIXED_CHOICES: tuple[str, ...] = get_args(FixedChoice)
CONTROLS: tuple[str, ...] = get_args(Controls)
PRICE_RULES: tuple[str, ...] = get_args(PriceRule)
NETWORK_KINDS: tuple[str, ...] = get_args(NetworkKind)
TASTE_KINDS = ("foreign", "domestic", "open")
"""Kinds of option an enterprise has a persistent taste for (section 7.1 of the ODD)."""


class Provider(Frozen):
    """One AI model provider. Foreign API providers (``direct``/``partner``) choose to allow or
    restrict rival-region access; ``domestic`` providers always serve the rival region;
    ``open`` models are self-hosted by enterprises and reachable whatever anyone decides."""

    name: Name = param(..., unit="-", meaning="label shown in outputs", source="scenario")
    channel: Channel = param(
        ...,
        unit="-",
        meaning="direct: the lab's own API; partner: served through a rival-region joint "
        "venture; domestic: a rival-region provider; open: open-weight models self-hosted by "
        "enterprises",
        source="model brief (the lab's API vs the cloud's China region run by 21Vianet; "
        "Llama, Qwen and DeepSeek open weights)",
    )
    origin: Origin = param(
        "",
        unit="-",
        meaning="region the model comes from; direct and partner are home, domestic is rival, "
        "open must say (empty: taken from the channel)",
        source="model brief (Llama home origin; Qwen, DeepSeek rival origin)",
    )
    quality: Number = param(
        1.0,
        low=0.0,
        high=1.0,
        unit="frontier = 1",
        meaning="foreign: quality relative to the frontier (constant); domestic and open: "
        "initial relative quality, which then grows; an event sets the current quality",
        source="assumption: foreign labs at the frontier",
    )
    price: Number = param(
        1.0,
        low=0.0,
        high=10.0,
        unit="price index",
        meaning="price of access (domestic providers: the starting price when a price rule "
        "is on; open models: 0, their cost is hosting_cost)",
        source="reference price = 1",
    )
    margin: Number = param(
        0.6,
        low=0.0,
        high=1.0,
        unit="fraction",
        meaning="share of revenue the provider keeps as profit, after what a joint venture "
        "and a licensor take",
        source="assumption",
    )
    security_exposure: Number = param(
        1.0,
        low=0.0,
        high=10.0,
        unit="multiplier",
        meaning="kappa: how much serving the rival region through this channel (or its use "
        "of a home-origin open model) exposes capability to misuse or transfer",
        source="assumption: the direct API is the reference",
    )
    home_exposure: Number = param(
        0.0,
        low=0.0,
        high=1e6,
        unit="$M/step",
        meaning="phi: political and reputational cost to the provider of allowing access",
        source="assumption",
    )
    rival_dependence: Number = param(
        0.0,
        low=0.0,
        high=100.0,
        unit="multiple of AI revenue",
        meaning="d: rival-region business tied to AI access (cloud bundles, contracts), lost "
        "with it when access is restricted",
        source="assumption",
    )
    mandate_coverage: Number = param(
        1.0,
        low=0.0,
        high=1.0,
        unit="fraction",
        meaning="c: how far a home mandate legally reaches this channel",
        source="assumption: a locally operated joint venture is partly outside its reach",
    )
    initial_strategy: Strategy = param(
        "allow",
        unit="-",
        meaning="strategy at step 0 (an event sets the strategy at its month)",
        source="the state before 9 July 2024",
    )
    fixed_strategy: FixedChoice = param(
        "",
        unit="-",
        meaning="if set, the provider always plays this (counterfactuals)",
        source="none by default",
    )
    excluded_segments: tuple[Name, ...] = param(
        (),
        unit="-",
        meaning="segments this provider does not serve (their members must use another)",
        source="model brief: the partner cloud ended service to individual developers in "
        "October 2024 (press)",
    )
    hosting_cost: Number = param(
        0.0,
        low=0.0,
        high=10.0,
        unit="quality",
        meaning="open models: utility cost of self-hosting (hardware, operations)",
        source="assumption",
    )
    compute: Number = param(
        0.0,
        low=0.0,
        high=10.0,
        unit="frontier lab's compute = 1",
        meaning="domestic providers: effective training compute relative to the frontier "
        "lab's at step 0 (an event sets the current value)",
        source="assumption; Epoch AI (2025): rival-region training compute grew about 3x a "
        "year against 5x at the frontier",
    )
    marginal_cost: Number = param(
        0.0,
        low=0.0,
        high=10.0,
        unit="price index",
        meaning="domestic providers: cost of serving one unit of demand, the floor of the "
        "price rules (before any price subsidy)",
        source="assumption",
    )
    licensor: Name | None = param(
        None,
        unit="-",
        meaning="provider whose models this one serves under licence, and who receives "
        "revenue_share of this provider's AI revenue",
        source="model brief: the lab licenses its models to the partner cloud",
    )
    revenue_share: Number = param(
        0.0,
        low=0.0,
        high=1.0,
        unit="fraction of AI revenue",
        meaning="share of this provider's gross AI revenue paid to its licensor",
        source="press, unconfirmed: about 20% of the cloud's revenue from the lab's models",
    )
    migration_offer: Number = param(
        0.0,
        low=0.0,
        high=1.0,
        unit="fraction of switching cost",
        meaning="domestic providers: share of the switching cost they pay for users leaving "
        "a foreign provider, offered while some foreign provider restricts",
        source="model brief: free-migration offers to developers cut off in July 2024 (press)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Provider:
        if self.channel == "domestic":
            for name in ("initial_strategy", "fixed_strategy"):
                if getattr(self, name) == "restrict":
                    raise field_error(
                        name,
                        "restrict",
                        "domestic providers always serve the rival region; expected 'allow' "
                        "or unset",
                    )
        expected = {"direct": "home", "partner": "home", "domestic": "rival"}.get(self.channel)
        if self.channel == "open" and self.origin == "":
            raise field_error("origin", "", "an open provider needs origin 'home' or 'rival'")
        if expected is not None and self.origin not in ("", expected):
            raise field_error(
                "origin", self.origin, f"a {self.channel} provider has origin {expected!r}"
            )
        if self.channel == "open" and self.fixed_strategy == "restrict":
            raise field_error("fixed_strategy", "restrict", "open weights cannot be withdrawn")
        if self.revenue_share > 0 and self.licensor is None:
            raise field_error("revenue_share", self.revenue_share, "needs a licensor")
        return self

    @property
    def foreign(self) -> bool:
        """A home-region API provider (``direct`` or ``partner``): the providers that decide."""
        return self.channel in API_FOREIGN_CHANNELS

    @property
    def home_origin(self) -> bool:
        """Its models come from the home region (foreign API, or home-origin open weights)."""
        return self.resolved_origin == "home"

    @property
    def resolved_origin(self) -> str:
        if self.origin:
            return self.origin
        return "rival" if self.channel == "domestic" else "home"

    @property
    def taste_kind(self) -> int:
        """Index into :data:`TASTE_KINDS`."""
        if self.foreign:
            return 0
        return 1 if self.channel == "domestic" else 2


class Segment(Frozen):
    """A group of rival-region enterprises sharing behaviour. Behavioural fields left unset
    take the scenario's global value of the same name."""

    name: Name = param(..., unit="-", meaning="label shown in outputs", source="scenario")
    share: Number = param(
        ...,
        low=0.0,
        high=1.0,
        unit="fraction of enterprises",
        meaning="share of the N enterprises in this segment (shares sum to one)",
        source="scenario",
    )
    size_mean: Number = param(
        1.0,
        low=1e-6,
        high=1e6,
        unit="spend per enterprise (relative)",
        meaning="mean spend of a member; spend weights revenue and peer influence",
        source="assumption",
    )
    size_sigma: Number = param(
        0.0,
        low=0.0,
        high=4.0,
        unit="log spend",
        meaning="lognormal shape of members' spend (0: all equal); drawn once per enterprise",
        source="assumption: enterprise spend is concentrated (model brief)",
    )
    price_sensitivity: Number | None = param(
        None,
        low=0.0,
        high=10.0,
        unit="quality per price index",
        meaning="converts price to quality units (unset: the global value)",
        source="assumption",
    )
    enterprise_rationality: Number | None = param(
        None,
        low=0.01,
        high=1000.0,
        unit="1/quality",
        meaning="mu: logit scale of the members' choice (unset: the global value)",
        source="assumption",
    )
    switching_cost: Number | None = param(
        None,
        low=0.0,
        high=10.0,
        unit="quality",
        meaning="tau: cost of moving to another provider (unset: the global value)",
        source="assumption",
    )
    circumvention_cost: Number | None = param(
        None,
        low=0.0,
        high=10.0,
        unit="quality",
        meaning="cost of reaching a blocked provider (unset: the global value)",
        source="assumption",
    )
    revision_rate: Number | None = param(
        None,
        low=0.0,
        high=1.0,
        unit="probability/step",
        meaning="rho: chance a member reconsiders its provider each month (unset: global)",
        source="assumption",
    )
    security_sensitivity: Number = param(
        0.0,
        low=0.0,
        high=10.0,
        unit="quality",
        meaning="utility cost of using a foreign API provider (data and legal exposure)",
        source="assumption",
    )
    frontier_need: Number = param(
        0.0,
        low=0.0,
        high=10.0,
        unit="quality per quality",
        meaning="extra utility lost per unit of an option's shortfall from the frontier",
        source="assumption",
    )
    taste_sd: Number = param(
        0.0,
        low=0.0,
        high=10.0,
        unit="quality",
        meaning="standard deviation of a member's persistent taste for each option kind "
        "(foreign, domestic, open), drawn once",
        source="assumption",
    )
    barred_channels: tuple[Channel, ...] = param(
        (),
        unit="-",
        meaning="channels members may not use (compliance, procurement rules)",
        source="assumption: regulated and state-owned firms kept off foreign services",
    )


class Network(Frozen):
    """The enterprises' interaction network (peers, suppliers, shared tooling)."""

    kind: NetworkKind = param(
        "none",
        unit="-",
        meaning="none; small_world (Watts-Strogatz); scale_free (Barabasi-Albert); block "
        "(segment-homophilous stochastic block model)",
        source="Cimpeanu et al. (2022) put the AI race on scale-free networks",
    )
    mean_degree: Whole = param(
        8,
        low=2,
        high=200,
        unit="neighbours",
        meaning="mean number of neighbours (even for small_world)",
        source="assumption",
    )
    clustering: Number = param(
        0.3,
        low=0.0,
        high=0.75,
        unit="fraction",
        meaning="small_world: expected clustering coefficient; sets the rewiring probability "
        "p by C = C0 (1 - p)^3 (Barrat & Weigt 2000), C0 = 3(k - 2) / (4(k - 1))",
        source="assumption",
    )
    homophily: Number = param(
        0.8,
        low=0.0,
        high=1.0,
        unit="fraction of ties",
        meaning="block: expected share of a member's ties inside its own segment",
        source="assumption",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Network:
        if self.kind == "small_world":
            if self.mean_degree % 2:
                raise field_error(
                    "mean_degree", self.mean_degree, "small_world needs an even mean degree"
                )
            most = lattice_clustering(self.mean_degree)
            if self.clustering > most + 1e-12:
                raise field_error(
                    "clustering",
                    self.clustering,
                    f"expected a value in [0, {most:.4f}] for mean_degree {self.mean_degree} "
                    "(the ring lattice's clustering)",
                )
        return self


def lattice_clustering(mean_degree: int) -> float:
    """Clustering of a ring lattice where each node links to its ``k`` nearest neighbours,
    ``3 (k - 2) / (4 (k - 1))`` (Watts & Strogatz 1998)."""
    k = mean_degree
    return 3.0 * (k - 2) / (4.0 * (k - 1))


class Event(Frozen):
    """A dated change: at the start of step ``month`` (the move from ``month - 1`` to
    ``month``) every key of ``set`` takes its value; row ``month`` is the first to show it."""

    month: Whole = param(
        ..., low=0, high=100_000, unit="month", meaning="when it applies", source="scenario"
    )
    set: dict[str, Any] = param(
        ...,
        unit="-",
        meaning="parameter -> value, with <provider>.<field>, <segment>.<field> and "
        "network.<field> for nested fields",
        source="scenario",
    )
    label: str = param(
        "", unit="-", meaning="shown on the time axis of figures and the viz", source="scenario"
    )


STATE_KEYS = ("home_policy", "rival_policy", "home_controls")
PROVIDER_STATE_KEYS = ("initial_strategy", "fixed_strategy", "quality", "price", "compute")
STRUCTURAL_KEYS = ("n_enterprises", "segments", "providers", "network", "events", "start_month")
PROVIDER_STRUCTURAL = ("name", "channel", "origin")
SEGMENT_STRUCTURAL = ("name", "share", "size_mean", "size_sigma", "taste_sd")


def _minimal_providers() -> tuple[Provider, ...]:
    return (
        Provider(name="foreign-lab", channel="direct"),
        Provider(name="domestic", channel="domestic", quality=0.88, price=0.3, margin=0.4),
    )


class Params(Frozen):
    """All parameters of one model run. Build with :func:`load_scenario` or ``Params(...)``;
    change with :meth:`replace`, which validates again."""

    n_enterprises: Whole = param(
        5000,
        low=1,
        high=50_000_000,
        unit="enterprises",
        meaning="rival-region enterprises",
        source='"thousands to millions" (model brief); 5000 keeps sampling noise in shares near '
        "0.007",
    )
    market_value: Number = param(
        100.0,
        low=0.0,
        high=1e6,
        unit="$M/step",
        meaning="V: rival-region spend on model access per month at the reference price",
        source="assumption: of order $1.2bn a year; not calibrated to data, swept in the phase "
        "diagram",
    )
    price_sensitivity: Number = param(
        0.15,
        low=0.0,
        high=10.0,
        unit="quality per price index",
        meaning="converts price to quality units",
        source="assumption: chosen with the domestic prices so that foreign and domestic "
        "providers split the market about evenly at step 0 (foreign 0.50, domestic 0.49)",
    )
    enterprise_rationality: Number = param(
        20.0,
        low=0.01,
        high=1000.0,
        unit="1/quality",
        meaning="mu: logit scale of enterprise choice (higher: quality differences matter more)",
        source="assumption: a 0.1 quality difference gives odds e² ≈ 7.4",
    )
    switching_cost: Number = param(
        0.05,
        low=0.0,
        high=10.0,
        unit="quality",
        meaning="tau: cost of moving to another provider",
        source="assumption: a move costs a factor e⁻¹ in choice odds",
    )
    revision_rate: Number = param(
        0.1,
        low=0.0,
        high=1.0,
        unit="probability/step",
        meaning="rho: share of enterprises that reconsider their provider each month",
        source="assumption: inertia of enterprise IT contracts, a review about every 10 months",
    )
    outside_utility: Number = param(
        0.6,
        low=-10.0,
        high=10.0,
        unit="quality",
        meaning="utility of using no model provider",
        source="assumption: below every provider's value, so 0.2% use none at step 0",
    )
    domestic_migration_discount: Number = param(
        0.5,
        low=0.0,
        high=1.0,
        unit="fraction",
        meaning="share of the switching cost that domestic providers absorb (free-migration "
        "offers)",
        source="model brief: domestic providers offered free migration in July 2024; the size, "
        "half, is an assumption",
    )
    circumvention: Flag = param(
        False,
        unit="-",
        meaning="enterprises may keep using a blocked foreign provider",
        source="off in the seed story; an option for experiments",
    )
    circumvention_cost: Number = param(
        0.15,
        low=0.0,
        high=10.0,
        unit="quality",
        meaning="cost of reaching a blocked provider (proxies, resellers)",
        source="assumption: three switching costs",
    )
    frontier_growth: Number = param(
        0.005,
        low=0.0,
        high=0.5,
        unit="fraction/step",
        meaning="g: monthly growth of frontier capability",
        source="assumption: about 6% a year in frontier units; with the learning rates it sets "
        "the long-run gap near 0.05",
    )
    learning_rate: Number = param(
        0.1,
        low=0.0,
        high=1.0,
        unit="1/step per unit share",
        meaning="eta: domestic catch-up per month per unit of own user share (learning by doing)",
        source="assumption (increasing returns, Arthur 1989): at a share of 0.5 a provider closes "
        "5% of its gap a month",
    )
    rival_subsidy: Number = param(
        0.01,
        low=0.0,
        high=1.0,
        unit="1/step",
        meaning="catch-up per month bought by rival-government subsidy",
        source="assumption: small against learning, so usage drives catch-up",
    )
    spillover_rate: Number = param(
        0.0,
        low=0.0,
        high=1.0,
        unit="1/step per unit share",
        meaning="chi: catch-up per month per unit of foreign usage in the rival region "
        "(distillation from foreign access)",
        source="no calibrated estimate; off by default, sweep it",
    )
    security_weight: Number = param(
        20.0,
        low=0.0,
        high=1e6,
        unit="$M/step per unit share x quality",
        meaning="sigma: the provider's internalized expected cost of misuse per unit of exposure",
        source="assumption: a third of the direct lab's step-0 revenue (5.8 of 17.4 $M/step)",
    )
    home_enforcement: Number = param(
        0.5,
        low=0.0,
        high=1.0,
        unit="probability/step",
        meaning="e: chance a mandate is enforced on a violator",
        source="assumption: an even chance",
    )
    home_fine: Number = param(
        10.0,
        low=0.0,
        high=1e6,
        unit="$M/step",
        meaning="f: fine on a provider caught serving against a mandate",
        source="assumption: the default expected penalty (5 $M/step at full coverage) does not by "
        "itself flip the partner; the `mandate` scenario raises it",
    )
    home_revenue_weight: Number = param(
        1.0,
        low=0.0,
        high=1e3,
        unit="-",
        meaning="home government's weight on its providers' rival revenue",
        source="assumption: a dollar is a dollar",
    )
    home_security_weight: Number = param(
        30.0,
        low=0.0,
        high=1e6,
        unit="$M/step per unit share x quality",
        meaning="home government's cost of rival access to its frontier models",
        source="assumption: above the providers' own `security_weight` (the government "
        "internalizes more of the risk)",
    )
    home_rival_growth_weight: Number = param(
        20.0,
        low=0.0,
        high=1e6,
        unit="$M/step per unit share",
        meaning="home government's cost of rival domestic industry's user base (catch-up)",
        source="assumption",
    )
    home_enforcement_cost: Number = param(
        5.0,
        low=0.0,
        high=1e6,
        unit="$M/step",
        meaning="h: cost of running a mandate",
        source="assumption: with it the home government does not mandate in the seed scenario "
        "(W_home 15.07 allow vs 10.07 restrict at step 0), matching July 2024",
    )
    rival_domestic_weight: Number = param(
        0.01,
        low=0.0,
        high=100.0,
        unit="quality per unit share",
        meaning="rival government's value of its industry's share of its enterprises",
        source="assumption",
    )
    rival_dependence_weight: Number = param(
        0.005,
        low=0.0,
        high=100.0,
        unit="quality per unit share",
        meaning="rival government's cost of dependence on foreign providers",
        source="assumption",
    )
    rival_control_value: Number = param(
        0.006,
        low=0.0,
        high=10.0,
        unit="quality/step",
        meaning="b: rival government's value of blocking foreign services whatever their use "
        "(information control, data sovereignty)",
        source="assumption: with the weights above the rival blocks once the accessible foreign "
        "long-run share falls below about 0.15 (7.5)",
    )
    firm_rule: Rule = param(
        "logit",
        unit="-",
        meaning="decision rule of foreign providers",
        source="modelling choice: boundedly rational firms",
    )
    home_rule: Rule = param(
        "best_response",
        unit="-",
        meaning="decision rule of the home government (its mandate)",
        source="modelling choice",
    )
    rival_rule: Rule = param(
        "best_response",
        unit="-",
        meaning="decision rule of the rival government",
        source="modelling choice",
    )
    firm_rationality: Number = param(
        0.5,
        low=0.0,
        high=1e3,
        unit="1/($M/step)",
        meaning="lambda of the firms' logit rule",
        source="assumption: a 2 $M/step payoff difference gives odds e",
    )
    imitation_intensity: Number = param(
        0.5,
        low=0.0,
        high=1e3,
        unit="1/($M/step)",
        meaning="beta of the Fermi rule, firms and governments",
        source="assumption: as `firm_rationality`",
    )
    home_rationality: Number = param(
        0.5,
        low=0.0,
        high=1e3,
        unit="1/($M/step)",
        meaning="lambda of the home government's logit rule",
        source='assumption (used only with `home_rule = "logit"`)',
    )
    rival_rationality: Number = param(
        50.0,
        low=0.0,
        high=1e4,
        unit="1/quality",
        meaning="lambda of the rival government's logit rule",
        source='assumption (used only with `rival_rule = "logit"`; the rival\'s objective is in '
        "quality units)",
    )
    firm_revision_rate: Number = param(
        0.2,
        low=0.0,
        high=1.0,
        unit="probability/step",
        meaning="chance a provider reconsiders its strategy",
        source="assumption: a review about every 5 months",
    )
    gov_revision_rate: Number = param(
        0.05,
        low=0.0,
        high=1.0,
        unit="probability/step",
        meaning="chance a government reconsiders its policy",
        source="assumption: policy is slow, a review about every 20 months",
    )
    roth_erev_forgetting: Number = param(
        0.05,
        low=0.0,
        high=1.0,
        unit="fraction/step",
        meaning="forgetting of Roth-Erev propensities",
        source="Roth & Erev 1995 use small forgetting rates of this order",
    )
    home_policy: Strategy = param(
        "allow",
        unit="-",
        meaning="home government's policy at step 0 (an event sets it at its month)",
        source="July 2024: no mandate",
    )
    rival_policy: Strategy = param(
        "allow",
        unit="-",
        meaning="rival government's policy at step 0 (an event sets it at its month)",
        source="July 2024: foreign model access not blocked by the rival",
    )
    # --- heterogeneous, networked enterprises (off by default) ---
    peer_effect: Number = param(
        0.0,
        low=0.0,
        high=10.0,
        unit="quality per unit neighbour spend share",
        meaning="utility of an option per unit of the spend-weighted share of an enterprise's "
        "neighbours using it (compatibility, shared know-how)",
        source="assumption; off in the first version",
    )
    # --- capability: compute, diffusion, open weights (off by default) ---
    diffusion_rate: Number = param(
        0.0,
        low=0.0,
        high=1.0,
        unit="1/step",
        meaning="psi: share of its distance to the rival knowledge pool (the best rival model, "
        "open weights included) a domestic provider closes each month",
        source="assumption; off in the first version",
    )
    compute_effect: Number = param(
        0.0,
        low=0.0,
        high=1.0,
        unit="1/step per unit relative compute",
        meaning="omega: domestic catch-up per month per unit of relative compute",
        source="assumption; off in the first version",
    )
    compute_depreciation: Number = param(
        0.02,
        low=0.0,
        high=1.0,
        unit="fraction/step",
        meaning="delta: monthly loss of a compute stock's value (obsolescence)",
        source="assumption: accelerators useful for about four years",
    )
    frontier_compute_growth: Number = param(
        0.1435,
        low=0.0,
        high=1.0,
        unit="fraction/step",
        meaning="gamma_F: monthly growth of the frontier lab's training compute",
        source="Epoch AI (2025): frontier training compute about 5x a year since 2018 "
        "(5^(1/12) - 1 = 0.1435)",
    )
    compute_per_revenue: Number = param(
        0.0,
        low=0.0,
        high=1.0,
        unit="relative compute per $M",
        meaning="relative compute a domestic provider adds per $M of its revenue",
        source="assumption; off in the first version",
    )
    compute_subsidy: Number = param(
        0.0,
        low=0.0,
        high=1.0,
        unit="relative compute/step",
        meaning="relative compute each domestic provider receives per month from the state",
        source="assumption; off in the first version",
    )
    export_control_strength: Number = param(
        0.5,
        low=0.0,
        high=1.0,
        unit="fraction",
        meaning="xi: share of the rival's compute acquisition blocked while compute export "
        "controls are on",
        source="assumption; Epoch AI (2025): rival compute grew 3x a year against 5x at the "
        "frontier under the 2022-2023 rules",
    )
    home_controls: Controls = param(
        "off",
        unit="-",
        meaning="compute export controls at step 0 (an event sets them at its month)",
        source="first version: none",
    )
    home_controls_rule: Rule = param(
        "fixed",
        unit="-",
        meaning="decision rule of the home government for compute controls (fixed: only "
        "events change them)",
        source="choice",
    )
    export_control_cost: Number = param(
        0.0,
        low=0.0,
        high=1e6,
        unit="$M/step",
        meaning="home government's cost of keeping compute controls on (lost chip sales)",
        source="assumption",
    )
    home_gap_weight: Number = param(
        0.0,
        low=0.0,
        high=1e6,
        unit="$M/step per unit gap",
        meaning="home government's value of the rival's steady-state capability gap (used by "
        "its compute-controls decision)",
        source="assumption",
    )
    frontier_release_interval: Whole = param(
        0,
        low=0,
        high=120,
        unit="months",
        meaning="0: the frontier grows every month; k: it jumps by (1 + g)^k every k months "
        "(discrete releases)",
        source="assumption",
    )
    open_weight_lag: Number = param(
        12.0,
        low=1.0,
        high=240.0,
        unit="months",
        meaning="mean lag of home-origin open models behind the frontier (first-order lag)",
        source="assumption; the closed-open Arena gap (8.0% to 1.7%, Jan 2024 to Feb 2025, "
        "Stanford AI Index 2025) is a calibration target for it",
    )
    open_release_rate: Number = param(
        0.0,
        low=0.0,
        high=1.0,
        unit="1/step",
        meaning="share of their distance to the rival knowledge pool that rival-origin open "
        "models close each month (open releases)",
        source="assumption; off in the first version",
    )
    # --- domestic pricing (off by default) ---
    price_rule: PriceRule = param(
        "fixed",
        unit="-",
        meaning="how domestic providers set prices: fixed; best_response (logit-demand price "
        "game with marginal cost); price_war (undercut the cheapest rival down to a "
        "subsidised floor)",
        source="model brief: rival API price cuts of 90-97% in May 2024 (press)",
    )
    price_adjustment: Number = param(
        0.5,
        low=0.0,
        high=1.0,
        unit="fraction/step",
        meaning="share of the distance to its target price a domestic provider moves each month",
        source="assumption",
    )
    price_war_cut: Number = param(
        0.2,
        low=0.0,
        high=1.0,
        unit="fraction",
        meaning="price_war: how far below the cheapest other domestic price a provider aims",
        source="assumption",
    )
    price_subsidy: Number = param(
        0.0,
        low=0.0,
        high=1.0,
        unit="fraction of marginal cost",
        meaning="share of marginal cost the state covers: price floor (1 - s) x marginal cost "
        "/ margin",
        source="assumption",
    )
    # --- structure ---
    start_month: str = param(
        "",
        unit="YYYY-MM",
        meaning="calendar month of step 0 for dated scenarios (labels only)",
        source="scenario",
    )
    segments: tuple[Segment, ...] = param(
        (),
        unit="-",
        meaning="enterprise segments (none: one segment with the global values)",
        source="scenario",
    )
    network: Network = param(
        Network(), unit="-", meaning="the enterprises' interaction network", source="scenario"
    )
    providers: tuple[Provider, ...] = param(
        _minimal_providers(),
        unit="-",
        meaning="the providers (foreign, domestic, open)",
        source="scenario",
    )
    events: tuple[Event, ...] = param(
        (), unit="-", meaning="dated changes, applied in month order", source="scenario"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        _check_lineup(self)
        _check_segments(self)
        if self.start_month:
            _check_start_month(self.start_month)
        for index, event in enumerate(self.events):
            _check_event(self, event, index)
        return self

    # ---- changing parameters -------------------------------------------------------
    def replace(self, **changes: Any) -> Params:
        """A validated copy with ``changes`` applied. Keys are field names, or
        ``<provider>.<field>``, ``<segment>.<field>`` and ``network.<field>``."""
        if not changes:
            return self
        data = apply_changes(self.model_dump(), changes)
        return Params.parse(data)

    @classmethod
    def from_toml(cls, path: str | Path) -> Params:
        """Parameters from a scenario file (see :func:`params_from_mapping`)."""
        data = read_toml(path, "scenario file")
        return params_from_mapping(data, origin=str(path))

    # ---- views the core uses ------------------------------------------------------
    @property
    def n_providers(self) -> int:
        return len(self.providers)

    @property
    def foreign_mask(self) -> tuple[bool, ...]:
        return tuple(p.foreign for p in self.providers)

    def provider(self, name: str) -> Provider:
        """The provider called ``name``."""
        for p in self.providers:
            if p.name == name:
                return p
        raise unknown_choice("unknown provider", name, [p.name for p in self.providers])

    def resolved_segments(self) -> tuple[Segment, ...]:
        """The segments with every unset behavioural field taken from the global value (one
        segment ``all`` holding every enterprise when none is declared)."""
        segments = self.segments or (Segment(name="all", share=1.0),)
        out = []
        for seg in segments:
            fill = {k: getattr(self, k) for k in INHERITED if getattr(seg, k) is None}
            out.append(seg.model_copy(update=fill) if fill else seg)
        return tuple(out)

    def without_events(self) -> Params:
        """The same parameters with no events (what month 0 starts from)."""
        return self.model_copy(update={"events": ()}) if self.events else self

    def schedule(self) -> tuple[Stage, ...]:
        """The parameters in force from each event month on, with the state each month sets:
        stage 0 is month 0 (month-0 events applied), then one stage per later event month."""
        base = self.without_events()
        by_month: dict[int, list[Event]] = {}
        for event in self.events:
            by_month.setdefault(event.month, []).append(event)
        stages: list[Stage] = []
        current = base
        for month in sorted({0, *by_month}):
            sets: dict[str, Any] = {}
            for event in by_month.get(month, []):
                sets.update(event.set)
            if sets:
                current = current.replace(**sets)
            state = {k: v for k, v in sets.items() if _is_state_key(k)}
            labels = tuple(e.label for e in by_month.get(month, []) if e.label)
            stages.append(Stage(month, current, state, labels))
        return tuple(stages)


INHERITED = (
    "price_sensitivity",
    "enterprise_rationality",
    "switching_cost",
    "circumvention_cost",
    "revision_rate",
)
"""Segment fields that fall back to the scenario's global value when unset."""


@dataclass(frozen=True)
class Stage:
    """Parameters in force from ``month`` on, and the state that month's events set."""

    month: int
    params: Params
    state: dict[str, Any]
    labels: tuple[str, ...]


def _is_state_key(key: str) -> bool:
    if key in STATE_KEYS:
        return True
    return "." in key and key.split(".", 1)[1] in PROVIDER_STATE_KEYS


def _check_lineup(params: Params) -> None:
    providers = params.providers
    lineup = ", ".join(f"{p.name!r} ({p.channel})" for p in providers)
    if not any(p.foreign for p in providers):
        raise InputError(
            f"providers=[{lineup}]: expected at least one foreign (direct or partner) provider"
        )
    if not any(p.channel == "domestic" for p in providers):
        raise InputError(f"providers=[{lineup}]: expected at least one domestic provider")
    names = [p.name for p in providers]
    for name in names:
        if names.count(name) > 1:
            raise InputError(f"providers[{name}]: duplicate name {name!r}; names must be unique")
    for p in providers:
        if p.licensor is not None:
            if p.licensor == p.name:
                raise InputError(f"providers[{p.name}].licensor={p.licensor!r}: not itself")
            if p.licensor not in names:
                raise unknown_choice(
                    f"providers[{p.name}].licensor: unknown provider", p.licensor, names
                )
            if not params.provider(p.licensor).foreign:
                raise InputError(
                    f"providers[{p.name}].licensor={p.licensor!r}: expected a direct or "
                    "partner provider"
                )
        segment_names = [s.name for s in params.segments] or ["all"]
        for seg in p.excluded_segments:
            if seg not in segment_names:
                raise unknown_choice(
                    f"providers[{p.name}].excluded_segments: unknown segment", seg, segment_names
                )


def _check_segments(params: Params) -> None:
    segments = params.segments
    if not segments:
        return
    names = [s.name for s in segments]
    providers = {p.name for p in params.providers}
    for seg in segments:
        if names.count(seg.name) > 1:
            raise InputError(f"segments[{seg.name}]: duplicate name {seg.name!r}")
        if seg.name in providers or seg.name == "network":
            raise InputError(
                f"segments[{seg.name}].name={seg.name!r}: already names a provider or the "
                "network; segment and provider names must differ"
            )
    total = math.fsum(s.share for s in segments)
    if abs(total - 1.0) > 1e-9:
        raise InputError(
            f"segments: shares sum to {total!r}; expected 1 "
            f"({', '.join(f'{s.name}={s.share}' for s in segments)})"
        )
    if any(s.share <= 0 for s in segments):
        bad = next(s for s in segments if s.share <= 0)
        raise field_error(f"segments[{bad.name}].share", bad.share, "expected a value > 0")


def _check_start_month(text: str) -> None:
    parts = text.split("-")
    ok = len(parts) == 2 and all(p.isdigit() for p in parts) and len(parts[0]) == 4
    if not ok or not 1 <= int(parts[1]) <= 12:
        raise field_error("start_month", text, "expected a calendar month 'YYYY-MM'")


def _check_event(params: Params, event: Event, index: int) -> None:
    where = f"events[{index}]"
    if not event.set:
        raise InputError(f"{where}.set: expected at least one parameter")
    base = params.without_events()
    for key, value in event.set.items():
        _check_event_key(base, key, f"{where}.set.{key}")
        try:
            base.replace(**{key: value})
        except InputError as exc:
            # re-anchor an error about this key's own field at the event
            about_key = exc.path.endswith(key.rpartition(".")[2])
            raise (exc.at(f"{where}.set.{key}") if about_key else exc.at(f"{where}.set")) from None


def _check_event_key(params: Params, key: str, where: str) -> None:
    if not isinstance(key, str):
        raise InputError(f"{where}: expected a parameter name")
    if key in STRUCTURAL_KEYS:
        raise InputError(
            f"{where}: cannot change during a run ({key} fixes the run's structure); set it "
            "in the scenario instead"
        )
    if "." not in key:
        return
    owner, _, fieldname = key.partition(".")
    if owner == "network":
        raise InputError(f"{where}: cannot change during a run (the network is built once)")
    if any(p.name == owner for p in params.providers) and fieldname in PROVIDER_STRUCTURAL:
        raise InputError(f"{where}: cannot change during a run (a provider's {fieldname})")
    if any(s.name == owner for s in params.segments) and fieldname in SEGMENT_STRUCTURAL:
        raise InputError(
            f"{where}: cannot change during a run (a segment's {fieldname} is drawn once)"
        )


# ---- applying changes by name -------------------------------------------------------------

PARAM_FIELDS = tuple(Params.model_fields)
SCALAR_FIELDS = tuple(
    n for n in PARAM_FIELDS if n not in ("segments", "network", "providers", "events")
)
PROVIDER_FIELDS = tuple(Provider.model_fields)
SEGMENT_FIELDS = tuple(Segment.model_fields)
NETWORK_FIELDS = tuple(Network.model_fields)


def _named_index(items: list[Any], name: str) -> int | None:
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and item.get("name") == name:
            return i
    return None


def apply_changes(data: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (a ``Params`` mapping) with ``changes`` applied by name; unknown names raise an
    :class:`InputError` with the closest valid name."""
    out = dict(data)
    out["providers"] = [dict(p) for p in _as_list(out.get("providers", []))]
    out["segments"] = [dict(s) for s in _as_list(out.get("segments", []))]
    for key, value in changes.items():
        if not isinstance(key, str):
            raise InputError(f"{key!r}: expected a parameter name")
        if "." not in key:
            if key not in PARAM_FIELDS:
                raise unknown_choice("unknown key", key, valid_keys(out))
            out[key] = value
            continue
        owner, _, fieldname = key.partition(".")
        if owner == "network":
            if fieldname not in NETWORK_FIELDS:
                raise unknown_choice("network: unknown field", fieldname, NETWORK_FIELDS)
            network = dict(out.get("network") or {})
            network[fieldname] = value
            out["network"] = network
            continue
        p_index = _named_index(out["providers"], owner)
        s_index = _named_index(out["segments"], owner)
        if p_index is not None:
            if fieldname not in PROVIDER_FIELDS:
                raise unknown_choice(
                    f"providers[{owner}]: unknown field", fieldname, PROVIDER_FIELDS
                )
            out["providers"][p_index][fieldname] = value
        elif s_index is not None:
            if fieldname not in SEGMENT_FIELDS:
                raise unknown_choice(f"segments[{owner}]: unknown field", fieldname, SEGMENT_FIELDS)
            out["segments"][s_index][fieldname] = value
        else:
            names = [p["name"] for p in out["providers"]] + [s["name"] for s in out["segments"]]
            raise unknown_choice(f"{key}: unknown provider or segment", owner, names)
    return out


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return [v.model_dump() if isinstance(v, Frozen) else v for v in value]
    raise InputError(f"{short(value)}: expected a list of tables")


def short(value: Any) -> str:
    return short_repr(value)


def valid_keys(data: Mapping[str, Any] | Params) -> list[str]:
    """Every name :meth:`Params.replace` accepts for ``data``: the fields, then
    ``<provider>.<field>``, ``<segment>.<field>`` and ``network.<field>``."""
    if isinstance(data, Params):
        data = data.model_dump()
    keys = list(PARAM_FIELDS)
    for p in data.get("providers", []):
        keys += [f"{p['name']}.{f}" for f in PROVIDER_FIELDS if f != "name"]
    for s in data.get("segments", []):
        keys += [f"{s['name']}.{f}" for f in SEGMENT_FIELDS if f != "name"]
    keys += [f"network.{f}" for f in NETWORK_FIELDS]
    return keys


# ---- scenario files ------------------------------------------------------------------------

FILE_META_KEYS = ("base", "description")


def _merge_named(
    base_items: list[dict[str, Any]], patches: Any, table: str
) -> list[dict[str, Any]]:
    """Merge ``[[table]]`` entries into ``base_items`` by ``name``: a known name updates that
    entry, a new name adds one, ``remove = true`` drops it."""
    if not isinstance(patches, list):
        raise InputError(f"{table}={short(patches)}: expected a list of tables ([[{table}]])")
    items = [dict(i) for i in base_items]
    seen: set[str] = set()
    for index, patch in enumerate(patches):
        if not isinstance(patch, Mapping):
            raise InputError(f"{table}[{index}]={short(patch)}: expected a table")
        name = patch.get("name")
        if not isinstance(name, str):
            raise InputError(f"{table}[{index}]: missing required key 'name'")
        if name in seen:
            raise InputError(f"{table}[{name}]: duplicate name {name!r} in this file")
        seen.add(name)
        patch = dict(patch)
        remove = patch.pop("remove", False)
        if not isinstance(remove, bool):
            raise InputError(f"{table}[{name}].remove={short(remove)}: expected true or false")
        at = _named_index(items, name)
        if remove:
            if at is None:
                raise unknown_choice(
                    f"{table}[{name}].remove: no such entry in the base",
                    name,
                    [i["name"] for i in items],
                )
            if len(patch) > 1:
                raise InputError(f"{table}[{name}]: remove = true takes no other keys")
            del items[at]
        elif at is None:
            items.append(patch)
        else:
            items[at].update(patch)
    return items


def params_from_mapping(data: Mapping[str, Any], origin: str = "") -> Params:
    """:class:`Params` from a parsed scenario file: flat keys, ``[[providers]]`` and
    ``[[segments]]`` tables merged by ``name`` into those of ``base`` (a shipped scenario),
    ``[network]``, and ``[[events]]`` appended to the base's. Without a ``base`` the schema's
    defaults apply and ``[[providers]]`` lists the whole lineup.
    Errors are one line prefixed by ``origin``."""
    prefix = f"{origin}: " if origin else ""
    try:
        return _params_from_mapping(data)
    except InputError as exc:
        raise InputError(f"{prefix}{exc}") from None


def _params_from_mapping(data: Mapping[str, Any]) -> Params:
    if not isinstance(data, Mapping):
        raise InputError("expected a table of parameters")
    for key in data:
        if key not in PARAM_FIELDS and key not in FILE_META_KEYS:
            raise unknown_choice("unknown key", key, [*FILE_META_KEYS, *PARAM_FIELDS])
    description = data.get("description", "")
    if not isinstance(description, str):
        raise InputError(f"description={short(description)}: expected a string")
    base_name = data.get("base")
    base = load_scenario(base_name, what="base") if base_name is not None else Params()
    merged = base.model_dump()
    if base_name is None and "providers" in data:
        merged["providers"] = []  # a file without a base declares its whole lineup
    for key, value in data.items():
        if key in FILE_META_KEYS:
            continue
        if key == "providers":
            merged["providers"] = _merge_named(merged["providers"], value, "providers")
        elif key == "segments":
            merged["segments"] = _merge_named(merged["segments"], value, "segments")
        elif key == "events":
            if not isinstance(value, list):
                raise InputError(f"events={short(value)}: expected a list of tables ([[events]])")
            merged["events"] = [*merged["events"], *value]
        elif key == "network":
            if not isinstance(value, Mapping):
                raise InputError(f"network={short(value)}: expected a table ([network])")
            merged["network"] = {**merged["network"], **value}
        else:
            merged[key] = value
    try:
        return Params.model_validate(merged)
    except ValidationError as exc:
        raise format_validation_error(exc, Params, merged) from None


_SCENARIO_PACKAGE = "sim.scenarios"
_LOADING: set[str] = set()


def _scenario_entries() -> dict[str, Any]:
    return {
        entry.name.removesuffix(".toml"): entry
        for entry in resources.files(_SCENARIO_PACKAGE).iterdir()
        if entry.name.endswith(".toml")
    }


def list_scenarios() -> dict[str, str]:
    """Named scenarios shipped with the package: name -> one-line description."""
    out: dict[str, str] = {}
    for name, entry in sorted(_scenario_entries().items()):
        data = parse_toml(entry.read_text(encoding="utf-8"), f"scenario {name!r}")
        out[name] = str(data.get("description", ""))
    return out


def load_scenario(name: str, *, what: str = "scenario") -> Params:
    """The named scenario's parameters (see :func:`list_scenarios`). Only the shipped
    scenarios are found by name; a file of your own is read with :meth:`Params.from_toml`."""
    entries = _scenario_entries()
    if not isinstance(name, str) or name not in entries:
        if isinstance(name, str):
            raise unknown_choice(f"{what}={short(name)}: unknown scenario", name, sorted(entries))
        raise InputError(f"{what}={short(name)}: expected a scenario name")
    if name in _LOADING:
        raise InputError(f"{what}={name!r}: 'base' chain refers back to itself")
    _LOADING.add(name)
    try:
        data = parse_toml(entries[name].read_text(encoding="utf-8"), f"scenario {name!r}")
        return params_from_mapping(data, origin=f"scenario {name!r}")
    finally:
        _LOADING.discard(name)


def scenario_file_schema() -> dict[str, Any]:
    """JSON Schema of a scenario file: every ``Params`` field optional (the base scenario
    supplies the rest), ``base``/``description``, and ``[[providers]]``/``[[segments]]``
    entries that need only a ``name`` (plus ``remove``) since they merge by name."""
    schema = file_form(Params.model_json_schema())
    schema["title"] = "techcomp-sim scenario file"
    schema.pop("required", None)
    props = schema["properties"]
    props["base"] = {
        "type": "string",
        "enum": sorted(_scenario_entries()),
        "description": "shipped scenario whose values this file overrides",
    }
    props["description"] = {"type": "string", "description": "one line shown by `scenarios`"}
    defs = schema.get("$defs", {})
    for model in ("Provider", "Segment"):
        if model in defs:
            entry = defs[model]
            entry["required"] = ["name"]
            entry["properties"]["remove"] = {
                "type": "boolean",
                "description": "drop the base scenario's entry of this name",
            }
    return schema


def parameter_table() -> list[FieldDoc]:
    """Documentation rows of every parameter: the scalars, then ``providers[].<field>``,
    ``segments[].<field>``, ``network.<field>`` and ``events[].<field>`` (the single source of
    ``docs/ODD.md``'s parameter table)."""
    rows = [d for d in describe(Params) if d.name in SCALAR_FIELDS]
    for prefix, model in (
        ("providers[].", Provider),
        ("segments[].", Segment),
        ("network.", Network),
        ("events[].", Event),
    ):
        rows += [FieldDoc(**{**d.__dict__, "name": prefix + d.name}) for d in describe(model)]
    return rows


def field_doc(name: str) -> FieldDoc:
    """The :class:`FieldDoc` of a scalar ``Params`` field (sliders, help texts)."""
    for d in describe(Params):
        if d.name == name:
            return d
    raise unknown_choice("unknown parameter", name, SCALAR_FIELDS)


def override_names(params: Params) -> Iterable[str]:
    """Names accepted by :meth:`Params.replace` for ``params`` (for help and completion)."""
    return valid_keys(params)
