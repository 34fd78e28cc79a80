"""Shared hypothesis generators for the model's inputs (one place, as Axelrod's
``tests/property.py``): valid :class:`~sim.params.Params` over every field's whole documented
range, provider line-ups with every channel, enterprise segments, networks, decision rules and
named scenarios.

Ranges are read from the fields' metadata (``low``/``high``/``choices``), so a change to a
range in :mod:`sim.params` changes what is generated here.

Typical use::

    from tests.strategies import valid_params, rules

    @given(valid_params(max_enterprises=500), rules())
    def test_something(params, rule): ...

    @given(valid_params(max_enterprises=60, market=True))   # segments, network, open models,
    def test_something_else(params): ...                   # licensing, exclusions

"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from sim.params import SCALAR_FIELDS as SCALAR_NAMES
from sim.params import Network, Params, Provider, Segment, list_scenarios
from sim.rules import RULES
from sim.schema import FieldDoc, describe

SCALAR_FIELDS = {d.name: d for d in describe(Params) if d.name in SCALAR_NAMES}
PROVIDER_FIELDS = {d.name: d for d in describe(Provider)}
SEGMENT_FIELDS = {d.name: d for d in describe(Segment)}
NETWORK_FIELDS = {d.name: d for d in describe(Network)}
FOREIGN_CHANNELS = ("direct", "partner")
# provider fields that name other entries or need a matching lineup: drawn by `providers`
_LINKED_PROVIDER_FIELDS = ("origin", "excluded_segments", "licensor", "revenue_share")
PRICE_RULES: tuple[str, ...] = tuple(SCALAR_FIELDS["price_rule"].choices or ())
"""Every price rule :class:`~sim.params.Params` documents."""


def rules() -> st.SearchStrategy[str]:
    """Every decision rule name in :data:`sim.rules.RULES`."""
    return st.sampled_from(RULES)


def scenario_names() -> st.SearchStrategy[str]:
    """Every scenario shipped in ``sim/scenarios``."""
    return st.sampled_from(runnable_scenarios())


def runnable_scenarios() -> list[str]:
    """Every scenario shipped in ``sim/scenarios``, sorted (all of them run on this checkout)."""
    return sorted(list_scenarios())


def field_values(field: FieldDoc, **float_kw: Any) -> st.SearchStrategy[Any]:
    """Values valid for one field, over its whole documented range (ends included)."""
    if field.name == "price_rule":
        return st.sampled_from(PRICE_RULES)
    if field.choices is not None and field.kind != "choices":
        return st.sampled_from(field.choices)
    if field.kind == "choices":  # a tuple of distinct choices
        assert field.choices is not None
        return st.lists(st.sampled_from(field.choices), unique=True).map(tuple)
    if field.kind == "flag":
        return st.booleans()
    if field.kind == "whole":
        assert field.low is not None and field.high is not None
        return st.integers(int(field.low), int(field.high))
    if field.kind == "number":
        assert field.low is not None and field.high is not None
        return st.floats(
            float(field.low),
            float(field.high),
            allow_nan=False,
            allow_infinity=False,
            **float_kw,
        )
    if field.kind == "text":
        return st.just(field.default)
    raise TypeError(f"no generator for field {field.name} of kind {field.kind}")


@st.composite
def provider(
    draw: st.DrawFn, name: str, channel: str, segment_names: tuple[str, ...] = ()
) -> Provider:
    """One provider named ``name`` on ``channel`` with every other field drawn in range; an
    open provider gets an origin, any provider may exclude some of ``segment_names``."""
    values: dict[str, Any] = {"name": name, "channel": channel}
    for fname, f in PROVIDER_FIELDS.items():
        if fname in values or fname in _LINKED_PROVIDER_FIELDS:
            continue
        if channel == "domestic" and fname in ("initial_strategy", "fixed_strategy"):
            # domestic providers always serve: only 'allow' or unset is valid
            values[fname] = draw(
                st.sampled_from(("allow",) if fname == "initial_strategy" else ("", "allow"))
            )
            continue
        if channel == "open" and fname == "fixed_strategy":
            values[fname] = draw(st.sampled_from(("", "allow")))  # open weights stay out
            continue
        values[fname] = draw(field_values(f))
    if channel == "open":
        values["origin"] = draw(st.sampled_from(("home", "rival")))
    if segment_names:
        values["excluded_segments"] = tuple(
            draw(st.lists(st.sampled_from(segment_names), unique=True, max_size=2))
        )
    return Provider(**values)


@st.composite
def providers(
    draw: st.DrawFn,
    min_foreign: int = 1,
    max_foreign: int = 4,
    min_domestic: int = 1,
    max_domestic: int = 4,
    max_open: int = 0,
    segment_names: tuple[str, ...] = (),
    licensing: bool = False,
) -> tuple[Provider, ...]:
    """A valid line-up: at least one foreign (direct or partner) and one domestic provider, up
    to ``max_open`` open-weight models, unique names, order shuffled so the channels
    interleave. With ``segment_names`` a provider may exclude segments; with ``licensing``
    some providers serve a foreign provider's models under licence (``licensor``,
    ``revenue_share``)."""
    n_foreign = draw(st.integers(min_foreign, max_foreign))
    n_domestic = draw(st.integers(min_domestic, max_domestic))
    n_open = draw(st.integers(0, max_open))
    channels = [draw(st.sampled_from(FOREIGN_CHANNELS)) for _ in range(n_foreign)]
    channels += ["domestic"] * n_domestic + ["open"] * n_open
    order = draw(st.permutations(range(len(channels))))
    lineup = [draw(provider(f"p{i}", channels[k], segment_names)) for i, k in enumerate(order)]
    if licensing:
        foreign = [p.name for p in lineup if p.foreign]
        for i, p in enumerate(lineup):
            choices = [f for f in foreign if f != p.name]
            if choices and draw(st.booleans()):
                lineup[i] = p.replace(
                    licensor=draw(st.sampled_from(choices)),
                    revenue_share=draw(field_values(PROVIDER_FIELDS["revenue_share"])),
                )
    return tuple(lineup)


@st.composite
def segment(draw: st.DrawFn, name: str, share: float) -> Segment:
    """One segment with every behavioural field drawn in range; the fields inherited from
    the scenario (``None`` by default) are left unset half of the time."""
    values: dict[str, Any] = {"name": name, "share": share}
    for fname, f in SEGMENT_FIELDS.items():
        if fname in values:
            continue
        if f.default is None and draw(st.booleans()):
            continue  # inherit the global value
        values[fname] = draw(field_values(f))
    return Segment(**values)


@st.composite
def segment_lineups(draw: st.DrawFn, max_segments: int = 4) -> tuple[Segment, ...]:
    """One to ``max_segments`` segments named ``s0, s1, ..``, shares proportional to drawn
    whole weights (so they sum to one up to rounding)."""
    n = draw(st.integers(1, max_segments))
    weights = [draw(st.integers(1, 20)) for _ in range(n)]
    total = sum(weights)
    return tuple(draw(segment(f"s{k}", w / total)) for k, w in enumerate(weights))


@st.composite
def networks(draw: st.DrawFn, kinds: tuple[str, ...] | None = None) -> Network:
    """A valid network of any kind (``kinds`` restricts them), fields over their ranges; the
    small-world clustering stays below its lattice bound and its degree is even."""
    kind = draw(st.sampled_from(kinds or tuple(NETWORK_FIELDS["kind"].choices or ())))
    degree = draw(field_values(NETWORK_FIELDS["mean_degree"]))
    values: dict[str, Any] = {
        "kind": kind,
        "mean_degree": degree,
        "homophily": draw(field_values(NETWORK_FIELDS["homophily"])),
    }
    if kind == "small_world":
        degree += degree % 2
        values["mean_degree"] = min(degree, 200)
        from sim.params import lattice_clustering

        top = lattice_clustering(values["mean_degree"])
        values["clustering"] = draw(st.floats(0.0, top))
    else:
        values["clustering"] = draw(field_values(NETWORK_FIELDS["clustering"]))
    return Network(**values)


@st.composite
def valid_params(
    draw: st.DrawFn,
    max_enterprises: int | None = None,
    lineups: st.SearchStrategy[tuple[Provider, ...]] | None = None,
    market: bool = False,
    **fixed: Any,
) -> Params:
    """Valid :class:`Params` with every scalar field drawn over its whole range.

    ``max_enterprises`` caps ``n_enterprises`` (the model is run with that many agents);
    ``lineups`` replaces the provider generator; ``market`` adds the second version's market:
    segments (:func:`segment_lineups`), a network (:func:`networks`), open-weight providers,
    licensing and providers excluding segments. Any other keyword fixes a field, either to a
    value or to a strategy drawn from (e.g. ``firm_rule=rules()``).
    """
    values: dict[str, Any] = {}
    for name, f in SCALAR_FIELDS.items():
        if name in fixed:
            choice = fixed[name]
            values[name] = draw(choice) if isinstance(choice, st.SearchStrategy) else choice
        elif name == "n_enterprises" and max_enterprises is not None:
            values[name] = draw(st.integers(1, max_enterprises))
        else:
            values[name] = draw(field_values(f))
    nested = {"segments", "network", "providers"}
    unknown = set(fixed) - set(SCALAR_FIELDS) - nested
    if unknown:
        raise TypeError(f"valid_params: unknown fixed fields {sorted(unknown)}")
    names: tuple[str, ...] = ()
    if market:
        values["segments"] = _fixed_or(draw, fixed, "segments", segment_lineups())
        values["network"] = _fixed_or(draw, fixed, "network", networks())
        names = tuple(s.name for s in values["segments"])
    if lineups is not None:
        lineup = lineups
    elif market:
        lineup = providers(max_open=2, segment_names=names, licensing=True)
    else:
        lineup = providers()
    values["providers"] = _fixed_or(draw, fixed, "providers", lineup)
    return Params(**values)


def _fixed_or(draw: st.DrawFn, fixed: dict[str, Any], name: str, default: Any) -> Any:
    choice = fixed.get(name, default)
    return draw(choice) if isinstance(choice, st.SearchStrategy) else choice


@st.composite
def value_arrays(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Option values ``(R, J + 1)`` in the model's attainable range and an accessibility mask
    ``(R, J)``: ``v_j = q_j - kappa_p p_j`` with ``q`` in [0, 1], ``kappa_p p`` in [0, 100];
    the outside value in [-10, 10]."""
    r = draw(st.integers(1, 3))
    j = draw(st.integers(1, 6))
    value = st.floats(-100.0, 1.0, allow_nan=False)
    values = np.array(
        [[draw(value) for _ in range(j)] + [draw(st.floats(-10.0, 10.0))] for _ in range(r)]
    )
    accessible = np.array([[draw(st.booleans()) for _ in range(j)] for _ in range(r)])
    return values, accessible


@st.composite
def segment_value_arrays(
    draw: st.DrawFn,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-segment option values ``(R, S, K)`` as :func:`value_arrays` draws them, an
    accessibility mask ``(R, S, J)``, rationalities ``mu (S,)`` over the field's range plus the
    uniform limit 0, and what each segment may use, ``serves (S, J)``."""
    r = draw(st.integers(1, 3))
    s = draw(st.integers(1, 4))
    j = draw(st.integers(1, 6))
    value = st.floats(-100.0, 1.0, allow_nan=False)
    outside = st.floats(-10.0, 10.0)
    values = np.array(
        [[[draw(value) for _ in range(j)] + [draw(outside)] for _ in range(s)] for _ in range(r)]
    )
    serves = np.array([[draw(st.booleans()) for _ in range(j)] for _ in range(s)])
    accessible = np.array([[draw(st.booleans()) for _ in range(j)] for _ in range(r)])
    available = accessible[:, None, :] & serves
    mu = np.array([draw(st.floats(0.0, 1000.0)) for _ in range(s)])
    return values, available, mu, serves


def lively(params: Params, rule: str, circumvention: bool = False) -> Params:
    """A scenario with every decision rule set to ``rule`` and revision frequent enough that
    strategies, policies and memories change within a few steps: the global enterprise
    revision rate and every segment's own are 0.3."""
    segment_rates = {f"{s.name}.revision_rate": 0.3 for s in params.segments}
    return params.replace(
        n_enterprises=300,
        firm_rule=rule,
        home_rule=rule,
        rival_rule=rule,
        firm_revision_rate=0.8,
        gov_revision_rate=0.5,
        revision_rate=0.3,
        circumvention=circumvention,
        firm_rationality=0.2,
        home_rationality=0.05,
        rival_rationality=20.0,
        imitation_intensity=0.2,
        **segment_rates,
    )
