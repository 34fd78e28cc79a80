"""The page's controls: Mesa ``model_params`` built from the parameter metadata.

Every lever is a real :class:`~sim.params.Params` field. A slider's range is the field's
validation range ``[low, high]`` (:func:`sim.params.field_doc`) intersected with a
display window: a slider from 0 to 10^6 cannot be moved by hand, so fields whose valid range is
unbounded in practice get a narrower window, stated once in :data:`LEVERS`. The window is
widened to take in the scenario's own value, and it is never allowed to leave the valid range,
so any value a slider can produce passes ``Params`` validation. Choice fields (decision rules,
the price rule, export controls) list exactly the ``choices`` of their metadata. Each slider's
label carries its current value (:func:`value_text`, as many decimals as its step needs).

Controls start at the selected scenario's values, so a scenario is shown as it is defined;
moving a control overrides that one field when the model is rebuilt (Reset).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.params import field_doc, load_scenario


@dataclass(frozen=True)
class Lever:
    """A slider over one numeric ``Params`` field.

    ``window`` is the (low, high) shown when narrower than the valid range, or None to show
    the whole valid range; ``steps`` is the number of slider increments across the range.
    """

    name: str
    label: str
    window: tuple[float, float] | None
    steps: int = 100


LEVERS: tuple[Lever, ...] = (
    Lever("n_enterprises", "Enterprises (rival region)", (100.0, 20_000.0), steps=199),
    Lever("home_enforcement", "Home enforcement probability", None),
    Lever("home_fine", "Home fine ($M/step)", (0.0, 200.0)),
    Lever("market_value", "Rival market value ($M/step)", (0.0, 1_000.0)),
    Lever("learning_rate", "Domestic learning rate (1/step)", None),
    Lever("rival_subsidy", "Rival subsidy (1/step)", (0.0, 0.1)),
    Lever("firm_rationality", "Firms' logit rationality (1/($M/step))", (0.0, 10.0)),
    # the mechanisms of the second version: network, diffusion, compute, open weights, prices
    Lever("peer_effect", "Peer effect (quality per neighbour share)", (0.0, 1.0)),
    Lever("diffusion_rate", "Diffusion rate (1/step)", (0.0, 0.2)),
    Lever("compute_effect", "Compute effect (1/step per relative compute)", None),
    Lever("export_control_strength", "Export control strength (fraction blocked)", None),
    Lever("open_release_rate", "Rival open release rate (1/step)", (0.0, 0.5)),
    Lever("price_subsidy", "Price subsidy (fraction of marginal cost)", None),
)

CHOICES: tuple[tuple[str, str], ...] = (
    ("firm_rule", "Rule of foreign providers"),
    ("home_rule", "Rule of the home government"),
    ("rival_rule", "Rule of the rival government"),
    ("price_rule", "Domestic price rule"),
    ("home_controls", "Compute export controls at month 0"),
)
"""Choice fields shown as pickers: (``Params`` field, label); the options are the field's
``choices``."""

SEED_RANGE = (0, 999)
DEFAULT_SEED = 42
DEFAULT_SCENARIO = "seed"


def field_metadata(name: str) -> dict[str, Any]:
    """The validation metadata (unit, low, high, choices, ...) of ``Params`` field ``name``."""
    return dict(field_doc(name).__dict__)


def slider_range(lever: Lever, value: float) -> tuple[float, float, float]:
    """(min, max, step) of ``lever``'s slider: the valid range, cut to the display window and
    widened to include ``value``; never outside the valid range."""
    meta = field_metadata(lever.name)
    low = -math.inf if meta["low"] is None else float(meta["low"])
    high = math.inf if meta["high"] is None else float(meta["high"])
    shown_low, shown_high = lever.window if lever.window is not None else (low, high)
    shown_low = max(low, min(shown_low, value))
    shown_high = min(high, max(shown_high, value))
    if not (math.isfinite(shown_low) and math.isfinite(shown_high)):
        raise ValueError(f"{lever.name}: needs a display window, its valid range is unbounded")
    return shown_low, shown_high, (shown_high - shown_low) / lever.steps


def value_text(value: float, step: float) -> str:
    """``value`` as a slider shows it: as many decimals as ``step`` needs (0.01: two, 0.002:
    three, 1 or more: none), thousands separated (``5,000``)."""
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"step={step!r}: expected a positive number")
    decimals = max(0, math.ceil(-math.log10(step) - 1e-9))
    return f"{value:,.{decimals}f}"


def _is_int_field(name: str) -> bool:
    return field_doc(name).kind == "whole"


def model_params(scenario: str = DEFAULT_SCENARIO) -> dict[str, Any]:
    """Mesa ``model_params`` for ``TechCompetitionModel``: ``scenario`` fixed, the random seed,
    the levers and the choices, each starting at the scenario's value."""
    params = load_scenario(scenario)
    out: dict[str, Any] = {
        "scenario": scenario,
        "rng": {
            "type": "SliderInt",
            "label": "Random seed (rng)",
            "value": DEFAULT_SEED,
            "min": SEED_RANGE[0],
            "max": SEED_RANGE[1],
            "step": 1,
        },
    }
    for lever in LEVERS:
        value = getattr(params, lever.name)
        low, high, step = slider_range(lever, value)
        if _is_int_field(lever.name):
            out[lever.name] = {
                "type": "SliderInt",
                "label": lever.label,
                "value": int(value),
                "min": int(low),
                "max": int(high),
                "step": max(1, round(step)),
            }
        else:
            out[lever.name] = {
                "type": "SliderFloat",
                "label": lever.label,
                "value": float(value),
                "min": low,
                "max": high,
                "step": step,
            }
    for name, label in CHOICES:
        out[name] = {
            "type": "Select",
            "label": label,
            "value": getattr(params, name),
            "values": list(field_metadata(name)["choices"]),
        }
    return out
