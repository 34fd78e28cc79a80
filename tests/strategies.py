"""Shared hypothesis generators for the model's inputs (one place, as Axelrod's
``tests/property.py``): valid :class:`~sim.params.Params` over every field's whole documented
range, provider line-ups with every channel, decision rules and named scenarios.

Ranges are read from the fields' metadata (``low``/``high``/``choices``), so a change to a
range in :mod:`sim.params` changes what is generated here.

Typical use::

    from tests.strategies import valid_params, rules

    @given(valid_params(max_enterprises=500), rules())
    def test_something(params, rule): ...
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from sim.params import SCALAR_FIELDS as SCALAR_NAMES
from sim.params import Params, Provider, list_scenarios
from sim.rules import RULES
from sim.schema import FieldDoc, describe

SCALAR_FIELDS = {d.name: d for d in describe(Params) if d.name in SCALAR_NAMES}
PROVIDER_FIELDS = {d.name: d for d in describe(Provider)}
FOREIGN_CHANNELS = ("direct", "partner")
# provider fields that name other entries or need a matching lineup: left at their defaults
_LINKED_PROVIDER_FIELDS = ("origin", "excluded_segments", "licensor", "revenue_share")


def rules() -> st.SearchStrategy[str]:
    """Every decision rule name in :data:`sim.rules.RULES`."""
    return st.sampled_from(RULES)


def scenario_names() -> st.SearchStrategy[str]:
    """Every scenario shipped in ``sim/scenarios``."""
    return st.sampled_from(sorted(list_scenarios()))


def field_values(field: FieldDoc, **float_kw: Any) -> st.SearchStrategy[Any]:
    """Values valid for one field, over its whole documented range (ends included)."""
    if field.choices is not None:
        return st.sampled_from(field.choices)
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
def provider(draw: st.DrawFn, name: str, channel: str) -> Provider:
    """One provider named ``name`` on ``channel`` with every other field drawn in range."""
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
        values[fname] = draw(field_values(f))
    return Provider(**values)


@st.composite
def providers(
    draw: st.DrawFn,
    min_foreign: int = 1,
    max_foreign: int = 4,
    min_domestic: int = 1,
    max_domestic: int = 4,
) -> tuple[Provider, ...]:
    """A valid line-up: at least one foreign (direct or partner) and one domestic provider,
    unique names, order shuffled so foreign and domestic providers interleave."""
    n_foreign = draw(st.integers(min_foreign, max_foreign))
    n_domestic = draw(st.integers(min_domestic, max_domestic))
    channels = [draw(st.sampled_from(FOREIGN_CHANNELS)) for _ in range(n_foreign)]
    channels += ["domestic"] * n_domestic
    order = draw(st.permutations(range(len(channels))))
    return tuple(draw(provider(f"p{i}", channels[k])) for i, k in enumerate(order))


@st.composite
def valid_params(
    draw: st.DrawFn,
    max_enterprises: int | None = None,
    lineups: st.SearchStrategy[tuple[Provider, ...]] | None = None,
    **fixed: Any,
) -> Params:
    """Valid :class:`Params` with every scalar field drawn over its whole range.

    ``max_enterprises`` caps ``n_enterprises`` (the model is run with that many agents);
    ``lineups`` replaces the provider generator; any other keyword fixes a field, either to a
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
    unknown = set(fixed) - set(SCALAR_FIELDS)
    if unknown:
        raise TypeError(f"valid_params: unknown fixed fields {sorted(unknown)}")
    values["providers"] = draw(lineups if lineups is not None else providers())
    return Params(**values)


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


def lively(params: Params, rule: str, circumvention: bool = False) -> Params:
    """A scenario with every decision rule set to ``rule`` and revision frequent enough that
    strategies, policies and memories change within a few steps."""
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
    )
