"""Sweep files: a declared experiment, as frozen pydantic models built from :mod:`sim.schema`.

A sweep file is TOML with these keys (``docs/experiments.md`` has the full reference)::

    name        = "phase_diagram"     # results go to <out>/<name>; default: the file's stem
    description = "one line"
    kind        = "phase_diagram"     # which figures to draw: baseline | phase_diagram |
                                      # counterfactuals | sensitivity | generic (default)
    base        = "seed"              # shipped scenario the points start from
    sampler     = "grid"              # grid | lhs | sobol | saltelli | oat | bisect
    points      = 64                  # lhs/sobol: design size; saltelli: base sample N
    second_order = false              # saltelli: also second-order indices
    perturbation = 0.2                # oat: each parameter at base x (1 -/+ 0.2)
    rounds      = 8                   # bisect: rounds after the range's two ends
    level       = 0.5                 # bisect: the share of seeds whose crossing is searched
    outcome     = [{ column = "partner-cloud/strategy", equals = "restrict" }]  # bisect
    replicates  = 10                  # seeded runs per point
    replicates_per_unit = 10          # work-unit size (a point's replicates, or a slice)
    steps       = 120                 # months simulated
    record      = "final"             # "final", or k: every k steps (and the last)
    providers   = false               # also store per-provider outputs (<name>/<column>)
    segments    = false               # also store per-segment outputs (<segment>/<column>)
    root_seed   = 20240709            # SeedSequence root of every run
    [fixed]                           # overrides applied to every point
    n_enterprises = 2000
    [parameters]                      # what varies: a values list or a [low, high] range
    market_value = { range = [25, 1600], levels = 6, scale = "log" }
    home_fine    = { values = [0, 40, 160] }
    "direct-lab.home_exposure" = { range = [0, 50] }   # a provider's field
    "developers.revision_rate" = { values = [0.1, 0.3] }   # a segment's field
    "network.mean_degree" = { values = [4, 8] }        # the network's field
    "partner-cloud.margin" = {}                        # oat only: the base value perturbed
    scenario     = { values = ["seed", "mandate"] }    # grid only: the base scenario varies
    [quick]                           # the quick variant: any of the keys above, merged over

Names in ``[fixed]`` and ``[parameters]`` are exactly those :meth:`sim.params.Params.replace`
accepts (plus ``scenario``); each point's parameters are ``load_scenario(base)`` with ``fixed``
and then the point's values applied through it, so every check of the model applies here too.

Design limits. A design is refused before anything is built when it has more than
:data:`MAX_POINTS` points, a grid dimension more than :data:`MAX_LEVELS` levels, or the sweep
more than :data:`MAX_RUNS` runs (points x replicates); ``allow_large=True`` (``--allow-large``
on the command line) lifts these to :data:`POINTS_CEILING` points and levels and
:data:`RUNS_CEILING` runs, which nothing lifts. ``steps`` is at most :data:`MAX_STEPS`.

Kind and design are checked together (:func:`_check_kind`): each ``kind`` draws figures that
need a certain design, and an impossible combination is refused when the file is read, not
after the sweep has run.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sim.errors import (
    InputError,
    format_validation_error,
    read_toml,
    short_repr,
    unknown_choice,
)
from sim.params import Params, apply_changes, list_scenarios, load_scenario, valid_keys
from sim.schema import Flag, Frozen, Name, Number, Whole, file_form, param

Kind = Literal["generic", "baseline", "phase_diagram", "counterfactuals", "sensitivity"]
Sampler = Literal["grid", "lhs", "sobol", "saltelli", "oat", "bisect"]
Scale = Literal["linear", "log"]

SCENARIO_DIMENSION = "scenario"
DEFAULT_UNIT_REPLICATES = 10
DEFAULT_PERTURBATION = 0.2
"""oat: relative change of each parameter when ``perturbation`` is unset."""
DEFAULT_ROUNDS = 8
"""bisect: rounds after the two ends when ``rounds`` is unset (the bracket shrinks 256-fold)."""
DEFAULT_LEVEL = 0.5
"""bisect: the share of seeds whose crossing is searched when ``level`` is unset."""
MAX_ROUNDS = 40
"""bisect: most rounds (2^-40 of the range is below a double's resolution of most ranges)."""

MAX_POINTS = 100_000
"""Points in a design without ``allow_large``: a point's parameters are built and kept in
memory before the sweep starts (about a millisecond and a few kilobytes each)."""
MAX_LEVELS = 10_000
"""Levels of one grid dimension without ``allow_large``."""
MAX_RUNS = 1_000_000
"""Runs (points x replicates) without ``allow_large``: every run's seed is drawn from its own
``SeedSequence`` child before any work is dispatched."""
POINTS_CEILING = 1_000_000
"""Points (and levels of one dimension) even with ``allow_large``."""
RUNS_CEILING = 10_000_000
"""Runs even with ``allow_large``."""
MAX_STEPS = 100_000
"""Months one run may simulate (over 8,000 years; an event's month has the same bound)."""
MAX_SEED = 2**63 - 1
"""Largest root seed: TOML integers are signed 64-bit."""
QUICK_SUFFIX = "-quick"
_ALLOW_LARGE: ContextVar[bool] = ContextVar("allow_large", default=False)
"""Set while a spec is validated with ``allow_large=True`` (pydantic's validation context does
not reach a model with its own ``__init__``, as :class:`~sim.schema.Frozen` has)."""
COUNTERFACTUAL_LINES = 10
"""Points a counterfactuals figure can tell apart: one line each in the ten colours of
matplotlib's default cycle (``C10`` is ``C0`` again)."""


def _record(value: Any, handler: Any) -> Any:
    """``"final"`` or a whole number of steps, with one message for both."""
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError(
            "record",
            "expected 'final' or a whole number k in [1, {high}] (every k steps)",
            {"high": MAX_STEPS},
        ) from None


Record = Annotated[
    Literal["final"] | Annotated[Whole, Field(ge=1, le=MAX_STEPS)],
    WrapValidator(_record),
    WithJsonSchema(
        {"anyOf": [{"const": "final"}, {"type": "integer", "minimum": 1, "maximum": MAX_STEPS}]}
    ),
]


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds (so definitions are JSON), else as is."""
    return value.item() if isinstance(value, np.generic) else value


def _fmt(x: float) -> str:
    """A bound as a user wrote it: ``200`` rather than ``200.0``."""
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


class Dimension(Frozen):
    """One varied quantity: a list of ``values`` (grid only) or a ``[low, high]`` ``range``,
    with ``levels`` evenly spaced values on a grid (linearly, or logarithmically with
    ``scale = "log"``) or drawn by the sampler."""

    name: str = param(
        ...,
        unit="-",
        meaning="the varied parameter: a Params field, <provider>.<field>, <segment>.<field>, "
        "network.<field>, or scenario",
        source="the key of the [parameters] entry",
    )
    values: tuple[Any, ...] | None = param(
        None,
        unit="the parameter's",
        meaning="the values a grid takes, in order (grid only)",
        source="sweep file",
    )
    range: tuple[Number, Number] | None = param(
        None,
        unit="the parameter's",
        meaning="[low, high], low below high: a grid takes levels values from it, the other "
        "samplers draw from it",
        source="sweep file",
    )
    levels: Whole | None = param(
        None,
        low=2,
        high=POINTS_CEILING,
        unit="values",
        meaning=f"values a grid takes from the range, ends included (at most {MAX_LEVELS:,} "
        "without --allow-large)",
        source="sweep file; required for a range on a grid",
    )
    scale: Scale = param(
        "linear",
        unit="-",
        meaning="linear: evenly spaced; log: evenly spaced logarithms, low (high/low)^u "
        "(needs low > 0)",
        source="sweep file",
    )

    @field_validator("values", mode="before")
    @classmethod
    def _values(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if not value:
                raise PydanticCustomError("values", "expected a non-empty list")
            return tuple(_plain(v) for v in value)
        return value

    @field_validator("range", mode="before")
    @classmethod
    def _pair(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and len(value) != 2:
            raise PydanticCustomError("range", "expected [low, high]")
        return value

    @field_validator("range", mode="after")
    @classmethod
    def _ordered(cls, bounds: tuple[float, float] | None) -> tuple[float, float] | None:
        if bounds is not None and bounds[0] >= bounds[1]:
            raise PydanticCustomError("range", "low must be below high (reversed bounds?)")
        return bounds

    @model_validator(mode="after")
    def _one_kind(self) -> Dimension:
        # neither is oat's {} (the base value, perturbed); other samplers refuse it
        # (_check_design), where the sampler is known
        if self.values is not None and self.range is not None:
            raise InputError("expected exactly one of 'values' or 'range'")
        if self.values is not None and self.levels is not None:
            raise InputError("levels: only used with a range")
        if self.range is not None and self.scale == "log" and self.range[0] <= 0:
            text = f"[{_fmt(self.range[0])}, {_fmt(self.range[1])}]"
            raise InputError(
                f"range={text}: scale 'log' needs low > 0",
                path="range",
                detail=f"={text}: scale 'log' needs low > 0",
            )
        return self

    @property
    def low(self) -> float | None:
        return None if self.range is None else self.range[0]

    @property
    def high(self) -> float | None:
        return None if self.range is None else self.range[1]

    @property
    def size(self) -> int:
        """Values this dimension contributes to a grid (its ``values``, or ``levels``)."""
        if self.values is not None:
            return len(self.values)
        return int(self.levels or 0)

    def grid_values(self) -> tuple[Any, ...]:
        """The values a grid takes along this dimension."""
        if self.values is not None:
            return self.values
        assert self.levels is not None
        return tuple(self.from_unit(i / max(self.levels - 1, 1)) for i in range(self.levels))

    def from_unit(self, u: float) -> float:
        """Map ``u`` in [0, 1] onto the range (log-uniformly when ``scale = "log"``)."""
        assert self.range is not None
        low, high = self.range
        if self.scale == "log":
            return float(low * (high / low) ** u)
        return float(low + (high - low) * u)

    @property
    def perturbs_base(self) -> bool:
        """An oat dimension given as ``{}``: the base value, perturbed."""
        return self.values is None and self.range is None

    def definition(self) -> dict[str, Any]:
        """The manifest form: ``name``, ``values`` or ``low``/``high`` (and ``levels``),
        ``scale``; an oat ``{}`` has only ``name`` and ``scale``."""
        out: dict[str, Any] = {"name": self.name}
        if self.values is not None:
            out["values"] = list(self.values)
        if self.range is not None:
            out["low"], out["high"] = self.range
        if self.levels is not None:
            out["levels"] = self.levels
        out["scale"] = self.scale
        return out


class Condition(Frozen):
    """One condition on a run's value of a stored column at the horizon; a bisect sweep's
    outcome holds in a run when all its conditions do."""

    column: str = param(
        ...,
        unit="-",
        meaning="a stored column: a model output (foreign_share), <provider>/<column> "
        "(direct-lab/strategy; needs providers = true) or <segment>/<column> (needs segments = "
        "true)",
        source="sweep file",
    )
    equals: str | Number | None = param(
        None,
        unit="the column's",
        meaning="holds when the value equals this (a strategy: 'allow' or 'restrict')",
        source="sweep file",
    )
    above: Number | None = param(
        None, unit="the column's", meaning="holds when the value is above this", source="sweep file"
    )
    below: Number | None = param(
        None, unit="the column's", meaning="holds when the value is below this", source="sweep file"
    )

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        given = [k for k in ("equals", "above", "below") if getattr(self, k) is not None]
        if len(given) != 1:
            raise InputError("expected exactly one of 'equals', 'above' or 'below'")
        return self

    def holds(self, values: Any) -> NDArray[np.bool_]:
        """Whether the condition holds for each of ``values`` (a column's values)."""
        array = np.asarray(values)
        if self.equals is not None:
            return np.asarray(array == self.equals, dtype=bool)
        if self.above is not None:
            return np.asarray(array.astype(float) > self.above, dtype=bool)
        assert self.below is not None
        return np.asarray(array.astype(float) < self.below, dtype=bool)

    def text(self) -> str:
        """``direct-lab/strategy = 'restrict'``, ``foreign_share > 0.2``."""
        if self.equals is not None:
            return f"{self.column} = {self.equals!r}"
        if self.above is not None:
            return f"{self.column} > {self.above:g}"
        return f"{self.column} < {self.below:g}"

    def definition(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column}
        for key in ("equals", "above", "below"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def _pairs(value: Any) -> Any:
    """``[fixed]`` as given (a table) to the stored form, a tuple of (name, value) pairs."""
    if isinstance(value, Mapping):
        value = list(value.items())
    if isinstance(value, list | tuple):
        out = []
        for item in value:
            if not (isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise PydanticCustomError("fixed", "expected a table of parameter values")
            out.append((item[0], _plain(item[1])))
        return tuple(out)
    raise PydanticCustomError("fixed", "expected a table of parameter values")


def _dimensions(value: Any) -> Any:
    """``[parameters]`` as given (a table of name -> table, or -> a bare list of values) to a
    list of :class:`Dimension` inputs."""
    if isinstance(value, Mapping):
        return [
            {"values": v, "name": k}
            if isinstance(v, list | tuple)
            else ({**v, "name": k} if isinstance(v, Mapping) else v)
            for k, v in value.items()
        ]
    if isinstance(value, list | tuple):
        return value
    raise PydanticCustomError("parameters", "expected a table of varied parameters")


class SweepSpec(Frozen):
    """A validated sweep definition (see the module docstring and ``docs/experiments.md``)."""

    name: Name = param(
        ...,
        unit="-",
        meaning="the sweep's name: sweep --out DIR writes to DIR (default results/<name>), suite "
        "--out OUT to OUT/<name>; the quick variant is <name>-quick; unset: the file's stem; 1 "
        "to 64 letters, digits, '-' or '_', starting with a letter or digit",
        source="default: the file's stem",
    )
    description: str = param("", unit="-", meaning="one line", source="sweep file")
    kind: Kind = param(
        "generic",
        unit="-",
        meaning="which figures to draw, and so what design is required (docs/experiments.md)",
        source="sweep file",
    )
    base: str = param(
        "seed",
        unit="-",
        meaning="shipped scenario every point starts from (python -m sim scenarios lists them)",
        source="sweep file",
    )
    sampler: Sampler = param(
        "grid",
        unit="-",
        meaning="grid: the product of the dimensions; lhs: Latin hypercube; sobol: scrambled "
        "Sobol' sequence; saltelli: the design of Sobol' indices; oat: one at a time, each "
        "parameter below and above its base value; bisect: rounds of bisection on one "
        "parameter for where the share of seeds with an outcome crosses a level",
        source="scipy.stats.qmc; SALib",
    )
    points: Whole | None = param(
        None,
        low=1,
        high=POINTS_CEILING,
        unit="points",
        meaning="lhs, sobol: design size; saltelli: base sample N (N(D+2) points, N(2D+2) "
        "with second_order); a power of 2 for sobol and saltelli; not used by grid",
        source="sweep file; required except for grid",
    )
    second_order: Flag = param(
        False,
        unit="-",
        meaning="saltelli: also second-order indices",
        source="sweep file",
    )
    replicates: Whole = param(
        1,
        low=1,
        high=RUNS_CEILING,
        unit="runs per point",
        meaning="seeded runs of every point",
        source="sweep file",
    )
    replicates_per_unit: Whole = param(
        DEFAULT_UNIT_REPLICATES,
        low=1,
        high=RUNS_CEILING,
        unit="runs",
        meaning="work-unit size: a point's replicates are cut into slices of this many "
        f"(unset: min(replicates, {DEFAULT_UNIT_REPLICATES}))",
        source="sweep file",
    )
    steps: Whole = param(
        120, low=1, high=MAX_STEPS, unit="months", meaning="months simulated", source="sweep file"
    )
    record: Record = param(
        1,
        unit="steps",
        meaning="'final': the last step only; k: step 0, every k-th step and the last",
        source="sweep file",
    )
    providers: Flag = param(
        False,
        unit="-",
        meaning="also store per-provider outputs as columns <provider>/<column>",
        source="sweep file",
    )
    segments: Flag = param(
        False,
        unit="-",
        meaning="also store per-segment outputs as columns <segment>/<column>",
        source="sweep file",
    )
    perturbation: Number | None = param(
        None,
        low=0.001,
        high=0.99,
        unit="fraction",
        meaning="oat: relative change of each parameter given as {}: the base point, then each "
        f"at base x (1 - p) and base x (1 + p) (unset: {DEFAULT_PERTURBATION})",
        source="sweep file",
    )
    rounds: Whole | None = param(
        None,
        low=1,
        high=MAX_ROUNDS,
        unit="rounds",
        meaning="bisect: rounds after the range's two ends, each probing the bracket's midpoint "
        f"(unset: {DEFAULT_ROUNDS})",
        source="sweep file",
    )
    level: Number | None = param(
        None,
        low=0.01,
        high=0.99,
        unit="share of seeds",
        meaning="bisect: the share of seeds with the outcome whose crossing is searched (unset: "
        f"{DEFAULT_LEVEL})",
        source="sweep file",
    )
    outcome: tuple[Condition, ...] = param(
        (),
        unit="-",
        meaning="bisect: a run's boolean outcome at the horizon, every condition holding: a list "
        "of { column = ..., and one of equals, above or below }",
        source="sweep file",
    )
    root_seed: Whole = param(
        0,
        low=0,
        high=MAX_SEED,
        unit="-",
        meaning="root of numpy.random.SeedSequence: the design's and every run's seed",
        source="sweep file",
    )
    fixed: tuple[tuple[str, Any], ...] = param(
        (),
        unit="-",
        meaning="[fixed]: values applied to every point, named as Params.replace names them: "
        "market_value, partner-cloud.margin, <segment>.revision_rate, network.mean_degree",
        source="sweep file",
    )
    parameters: tuple[Dimension, ...] = param(
        (),
        unit="-",
        meaning="[parameters]: what varies, one table (or a bare list of values) per name as "
        "in [fixed], or scenario (grid only); none: a single point",
        source="sweep file",
    )
    quick: Flag = param(
        False,
        unit="-",
        meaning="this is the file's [quick] variant",
        source="load_spec(..., quick=True)",
    )
    source: str = param(
        "", unit="-", meaning="the file it was read from (not part of the definition)", source="-"
    )

    @model_validator(mode="before")
    @classmethod
    def _unit_default(cls, data: Any) -> Any:
        """``replicates_per_unit`` unset: ``min(replicates, 10)``."""
        if isinstance(data, Mapping) and "replicates_per_unit" not in data:
            replicates = _plain(data.get("replicates", 1))
            if (
                isinstance(replicates, int | float)
                and not isinstance(replicates, bool)
                and math.isfinite(replicates)
                and replicates >= 1
            ):
                unit = min(int(replicates), DEFAULT_UNIT_REPLICATES)
                data = {**data, "replicates_per_unit": unit}
        return data

    @field_validator("fixed", mode="before")
    @classmethod
    def _fixed_pairs(cls, value: Any) -> Any:
        return _pairs(value)

    @field_validator("parameters", mode="before")
    @classmethod
    def _dimension_tables(cls, value: Any) -> Any:
        return _dimensions(value)

    @field_validator("base", mode="after")
    @classmethod
    def _shipped(cls, base: str) -> str:
        names = scenario_names()
        if base not in names:
            raise unknown_choice("unknown scenario", base, names)
        return base

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        _check_design(self)
        _check_size(self, _ALLOW_LARGE.get())
        fixed = _check_fixed(self)
        _check_dimensions(self, fixed)
        _check_kind(self, fixed)
        _check_outcome(self, fixed)
        _check_columns(self, fixed)
        return self

    # ---- what the rest of the package uses -----------------------------------------------

    def definition(self) -> dict[str, Any]:
        """The canonical, JSON-ready definition stored in the manifest and compared on resume
        (everything that changes results; not the file's path)."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "base": self.base,
            "sampler": self.sampler,
            "points": self.points,
            "second_order": self.second_order,
            "replicates": self.replicates,
            "replicates_per_unit": self.replicates_per_unit,
            "steps": self.steps,
            "record": self.record,
            "providers": self.providers,
            "root_seed": self.root_seed,
            "fixed": dict(self.fixed),
            "parameters": [d.definition() for d in self.parameters],
            "quick": self.quick,
        }
        # keys added after the first format only when they matter, so that the definition
        # (and so the fingerprint) of every sweep written before them stays the same
        if self.segments:
            out["segments"] = True
        if self.sampler == "oat":
            out["perturbation"] = self.oat_perturbation
        if self.sampler == "bisect":
            out["rounds"] = self.bisect_rounds
            out["level"] = self.bisect_level
            out["outcome"] = [c.definition() for c in self.outcome]
        return dict(json.loads(json.dumps(out)))

    def fingerprint(self) -> str:
        """sha256 of the canonical definition."""
        text = json.dumps(self.definition(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def params_for(self, values: Mapping[str, Any]) -> Params:
        """The parameters of one point: the base scenario (or the point's ``scenario``), then
        ``fixed``, then the point's values."""
        return build_params(self.base, {**dict(self.fixed), **dict(values)})

    @property
    def n_points(self) -> int:
        """Points of the design, by arithmetic (nothing is built): the product of the grid's
        dimension sizes, ``points`` for lhs and sobol, ``N (D + 2)`` or ``N (2D + 2)`` for
        saltelli."""
        if self.sampler == "grid":
            return math.prod(d.size for d in self.parameters)
        if self.sampler == "oat":
            return 1 + 2 * len(self.parameters)
        if self.sampler == "bisect":
            return 2 + self.bisect_rounds
        n = int(self.points or 0)
        if self.sampler == "saltelli":
            dims = len(self.parameters)
            return n * (2 * dims + 2 if self.second_order else dims + 2)
        return n

    @property
    def n_runs(self) -> int:
        return self.n_points * self.replicates

    @property
    def oat_perturbation(self) -> float:
        """oat: ``perturbation``, or its default."""
        return DEFAULT_PERTURBATION if self.perturbation is None else float(self.perturbation)

    @property
    def bisect_rounds(self) -> int:
        """bisect: ``rounds``, or its default."""
        return DEFAULT_ROUNDS if self.rounds is None else int(self.rounds)

    @property
    def bisect_level(self) -> float:
        """bisect: ``level``, or its default."""
        return DEFAULT_LEVEL if self.level is None else float(self.level)

    def oat_ends(self, dim: Dimension) -> tuple[Any, Any, Any]:
        """oat: ``(base, low, high)`` of a dimension: its value in the base scenario (with
        ``[fixed]``) and the two values the design takes, ``base x (1 -/+ perturbation)``
        (whole-number parameters rounded) for ``{}``, or the range's ends."""
        base = point_value(self.params_for({}), dim.name, None)
        if dim.range is not None:
            return base, dim.range[0], dim.range[1]
        p = self.oat_perturbation
        ends = sorted((base * (1 - p), base * (1 + p)))
        if isinstance(base, int) and not isinstance(base, bool):
            return base, round(ends[0]), round(ends[1])
        return base, ends[0], ends[1]

    @property
    def recorded_steps(self) -> int:
        """Rows each run contributes (step 0, every k-th step and the last)."""
        if self.record == "final":
            return 1
        k = int(self.record)
        return len({*range(0, self.steps + 1, k), self.steps})


@cache
def scenario_names() -> tuple[str, ...]:
    """The shipped scenarios, the only values ``base`` and a ``scenario`` dimension take."""
    return tuple(sorted(list_scenarios()))


@cache
def _scenario(name: str) -> Params:
    return load_scenario(name)


def build_params(base: str, changes: Mapping[str, Any]) -> Params:
    """``load_scenario(base)`` (or the ``scenario`` among ``changes``) with the other changes
    applied by :meth:`Params.replace`."""
    changes = dict(changes)
    params = _scenario(str(changes.pop(SCENARIO_DIMENSION, base)))
    return params.replace(**changes)


def point_value(params: Params, name: str, requested: Any) -> Any:
    """The value a point actually has for ``name`` after validation and type coercion."""
    if name == SCENARIO_DIMENSION:
        return requested
    if "." not in name:
        return getattr(params, name)
    owner, fieldname = name.split(".", 1)
    if owner == "network":
        return getattr(params.network, fieldname)
    for provider in params.providers:
        if provider.name == owner:
            return getattr(provider, fieldname)
    for segment in params.segments:
        if segment.name == owner:
            return getattr(segment, fieldname)
    raise unknown_choice(
        f"{name}: unknown provider or segment",
        owner,
        [p.name for p in params.providers] + [s.name for s in params.segments],
    )


# ---- checks across fields (SweepSpec._consistent) -------------------------------------------


def _refuse(path: str, shown: str, allowed: str) -> InputError:
    """``path=shown: allowed`` with ``shown`` written as in the file (``true``, not ``True``)."""
    detail = f"={shown}: {allowed}"
    return InputError(f"{path}{detail}", path=path, detail=detail)


def _check_design(spec: SweepSpec) -> None:
    """Sampler, points and the dimensions' forms agree."""
    names = [d.name for d in spec.parameters]
    for name in names:
        if names.count(name) > 1:
            raise InputError(f"parameters.{name}: listed twice")
    sizes = {
        "grid": "its size is the product",
        "oat": "its size is 1 + 2 x the parameters",
        "bisect": "its size is 2 + rounds",
    }
    if spec.sampler in sizes:
        if spec.points is not None:
            raise _refuse(
                "points",
                str(spec.points),
                f"not used by sampler {spec.sampler!r} ({sizes[spec.sampler]})",
            )
        if spec.sampler != "grid" and not spec.parameters:
            raise InputError(
                f"parameters: sampler {spec.sampler!r} needs at least one varied parameter"
            )
    else:
        if not spec.parameters:
            raise InputError(
                f"parameters: sampler {spec.sampler!r} needs at least one varied parameter"
            )
        if spec.points is None:
            raise InputError(f"points: required by sampler {spec.sampler!r}")
        if spec.sampler in ("sobol", "saltelli") and spec.points & (spec.points - 1):
            raise _refuse(
                "points", str(spec.points), f"sampler {spec.sampler!r} needs a power of 2"
            )
        if spec.sampler == "saltelli" and len(spec.parameters) < 2:
            raise InputError("parameters: sampler 'saltelli' needs at least two parameters")
    if spec.second_order and spec.sampler != "saltelli":
        raise _refuse("second_order", "true", "only used by sampler 'saltelli'")
    _check_sequential(spec)
    for dim in spec.parameters:
        where = f"parameters.{dim.name}"
        if spec.sampler in ("oat", "bisect"):
            _check_oat_bisect_dimension(spec, dim, where)
            continue
        if dim.perturbs_base:
            raise InputError(
                f"{where}: expected exactly one of 'values' or 'range' ({{}}, the base value "
                "perturbed, is for sampler 'oat')"
            )
        if dim.name == SCENARIO_DIMENSION and spec.sampler != "grid":
            raise InputError(
                f"{where}: the scenario can vary only with sampler 'grid' (got {spec.sampler!r})"
            )
        if dim.values is not None and spec.sampler != "grid":
            raise InputError(
                f"{where}.values: sampler {spec.sampler!r} needs a range = [low, high], not a list"
            )
        if dim.range is not None:
            if spec.sampler == "grid" and dim.levels is None:
                raise InputError(f"{where}: a range on a grid needs levels = <number of values>")
            if spec.sampler != "grid" and dim.levels is not None:
                raise InputError(
                    f"{where}.levels: only used by sampler 'grid' (got {spec.sampler!r})"
                )


def _check_sequential(spec: SweepSpec) -> None:
    """The keys of oat and bisect: each used only by its sampler; bisect varies one parameter
    and needs an outcome."""
    if spec.perturbation is not None and spec.sampler != "oat":
        raise _refuse("perturbation", _fmt(spec.perturbation), "only used by sampler 'oat'")
    for key in ("rounds", "level"):
        value = getattr(spec, key)
        if value is not None and spec.sampler != "bisect":
            raise _refuse(key, _fmt(float(value)), "only used by sampler 'bisect'")
    if spec.outcome and spec.sampler != "bisect":
        raise InputError("outcome: only used by sampler 'bisect'")
    if spec.sampler != "bisect":
        return
    if len(spec.parameters) != 1:
        names = ", ".join(d.name for d in spec.parameters)
        raise InputError(
            f"parameters: sampler 'bisect' searches along one parameter; got "
            f"{len(spec.parameters)} ({names})"
        )
    if not spec.outcome:
        raise InputError(
            "outcome: required by sampler 'bisect': a list of { column = ..., equals | above | "
            "below = ... }, all holding in a run"
        )


def _check_oat_bisect_dimension(spec: SweepSpec, dim: Dimension, where: str) -> None:
    """A dimension of oat (``{}`` or a range) or bisect (a range)."""
    sampler = spec.sampler
    if dim.name == SCENARIO_DIMENSION:
        raise InputError(
            f"{where}: the scenario can vary only with sampler 'grid' (got {sampler!r})"
        )
    wanted = (
        "{} (the base value x (1 -/+ perturbation)) or a range = [low, high]"
        if sampler == "oat"
        else "a range = [low, high] to search"
    )
    if dim.values is not None:
        raise InputError(f"{where}.values: sampler {sampler!r} takes {wanted}, not a list")
    if dim.perturbs_base and sampler == "bisect":
        raise InputError(f"{where}: sampler 'bisect' takes {wanted}")
    if dim.levels is not None:
        raise InputError(f"{where}.levels: only used by sampler 'grid' (got {sampler!r})")


def _check_size(spec: SweepSpec, allow_large: bool) -> None:
    """Refuse a design above the limits, by arithmetic, before any point is built."""
    lift = "pass --allow-large (allow_large=True) to run a design this large"
    for dim in spec.parameters:
        if spec.sampler == "grid" and dim.levels is not None and dim.levels > MAX_LEVELS:
            if not allow_large:
                raise _refuse(
                    f"parameters.{dim.name}.levels",
                    str(dim.levels),
                    f"more than the limit of {MAX_LEVELS} levels; {lift}",
                )
    points = spec.n_points
    if spec.sampler == "grid":
        where = "parameters"
        what = " x ".join(str(d.size) for d in spec.parameters)
        what = what if len(what) <= 60 else what[:57] + "..."
        shown = f"{points} grid points ({what})"
    elif spec.sampler == "oat":
        where = "parameters"
        shown = f"{points} points (1 + 2 x {len(spec.parameters)})"
    elif spec.sampler == "bisect":
        where = "rounds"
        shown = f"{spec.bisect_rounds} ({points} points)"
    else:
        where = "points"
        shown = f"{spec.points}" + (f" ({points} points)" if points != spec.points else "")
    if points > POINTS_CEILING:
        raise _refuse(where, shown, f"expected at most {POINTS_CEILING} points")
    if points > MAX_POINTS and not allow_large:
        raise _refuse(where, shown, f"more than the limit of {MAX_POINTS} points; {lift}")
    runs = spec.n_runs
    shown = f"{spec.replicates} ({points} points x {spec.replicates} = {runs} runs)"
    if runs > RUNS_CEILING:
        raise _refuse("replicates", shown, f"expected at most {RUNS_CEILING} runs")
    if runs > MAX_RUNS and not allow_large:
        raise _refuse("replicates", shown, f"more than the limit of {MAX_RUNS} runs; {lift}")


def _same_field(path: str, key: str) -> bool:
    """Whether an error at ``path`` (as :class:`Params` reports it) is about override ``key``."""
    if "." not in key:
        return path == key
    owner, fieldname = key.split(".", 1)
    if owner == "network":
        return path == key
    return path in (f"providers[{owner}].{fieldname}", f"segments[{owner}].{fieldname}")


def _apply(params: Params, key: str, value: Any, where: str) -> Params:
    """``params.replace(key=value)``, an error reported at ``where`` (the file's path)."""
    try:
        return params.replace(**{key: value})
    except InputError as exc:
        if exc.path and exc.detail and _same_field(exc.path, key):
            raise exc.at(where) from None
        raise InputError(f"{where}: {exc}", path=where) from None


def _check_key(params: Params, key: str, where: str) -> None:
    """Refuse a name :meth:`Params.replace` does not accept, with its "did you mean"."""
    if key in valid_keys(params):
        return
    try:
        apply_changes(params.model_dump(), {key: None})
    except InputError as exc:
        raise InputError(f"{where}: {exc}", path=where) from None
    raise unknown_choice(f"{where}: unknown parameter", key, valid_keys(params))


def _check_fixed(spec: SweepSpec) -> Params:
    """Every ``[fixed]`` name and value; returns the base scenario with them applied."""
    params = _scenario(spec.base)
    keys = [k for k, _ in spec.fixed]
    for key, value in spec.fixed:
        where = f"fixed.{key}"
        if keys.count(key) > 1:
            raise InputError(f"{where}: listed twice")
        if key == SCENARIO_DIMENSION:
            raise InputError("fixed.scenario: set the scenario with 'base'")
        _check_key(params, key, where)
        params = _apply(params, key, value, where)
    for dim in spec.parameters:
        if dim.name in keys:
            raise InputError(f"parameters.{dim.name}: also set in [fixed]; keep one")
    return params


def _check_dimensions(spec: SweepSpec, fixed: Params) -> None:
    """Every dimension's name, values and both ends of its range, on the base scenario with
    ``fixed`` applied."""
    for dim in spec.parameters:
        where = f"parameters.{dim.name}"
        if dim.name == SCENARIO_DIMENSION:
            names = scenario_names()
            for i, value in enumerate(dim.values or ()):
                if not isinstance(value, str) or value not in names:
                    raise unknown_choice(
                        f"{where}.values[{i}]={short_repr(value)}: unknown scenario",
                        str(value),
                        names,
                    )
                try:
                    build_params(value, dict(spec.fixed))
                except InputError as exc:
                    raise InputError(f"{where}.values[{i}]={value!r}: [fixed]: {exc}") from None
            continue
        _check_key(fixed, dim.name, where)
        if dim.values is not None:
            seen: set[str] = set()
            for i, value in enumerate(dim.values):
                if repr(value) not in seen:
                    seen.add(repr(value))
                    _apply(fixed, dim.name, value, f"{where}.values[{i}]")
            continue
        if dim.perturbs_base:
            _check_perturbed(spec, fixed, dim, where)
            continue
        assert dim.range is not None
        ends = [_apply(fixed, dim.name, b, f"{where}.range[{i}]") for i, b in enumerate(dim.range)]
        probe = point_value(ends[0], dim.name, dim.range[0])
        if isinstance(probe, bool) or not isinstance(probe, int | float):
            raise InputError(f"{where}.range: only a number can vary over a range; use values")
        if isinstance(probe, int) and spec.sampler == "grid":
            fractional = [v for v in dim.grid_values() if not float(v).is_integer()]
            if fractional:
                raise _refuse(
                    f"{where}.levels",
                    str(dim.levels),
                    f"{dim.name} is a whole number but the grid takes {fractional[0]!r}; "
                    "choose levels that give whole values, or use values",
                )


def _check_perturbed(spec: SweepSpec, fixed: Params, dim: Dimension, where: str) -> None:
    """oat ``{}``: the base value is a nonzero number, and both perturbed values are valid."""
    base = point_value(fixed, dim.name, None)
    if base is None:
        raise InputError(
            f"{where}: unset in the base scenario (it takes the global value); perturb the "
            "global parameter or give a range = [low, high]"
        )
    if isinstance(base, bool) or not isinstance(base, int | float):
        raise InputError(
            f"{where}: the base value {short_repr(base)} is not a number; only a number can be "
            "perturbed"
        )
    p = spec.oat_perturbation
    if base == 0:
        raise InputError(
            f"{where}: the base value is 0, which a relative change leaves at 0; give a range = "
            "[low, high]"
        )
    _, low, high = spec.oat_ends(dim)
    if low == base or high == base:
        raise InputError(
            f"{where}: the whole number {base} changed by {p:g} rounds back to {base}; give a "
            "range = [low, high] or a larger perturbation"
        )
    for sign, value in (("-", low), ("+", high)):
        try:
            fixed.replace(**{dim.name: value})
        except InputError as exc:
            reason = exc.detail.split(": ", 1)[-1] if exc.detail else str(exc)
            raise InputError(
                f"{where}: the base value {base:g} {sign}{p:.0%} is {value:g}: {reason}; give a "
                "range = [low, high] or a smaller perturbation",
                path=where,
            ) from None


def _check_outcome(spec: SweepSpec, fixed: Params) -> None:
    """bisect: every condition names a column the sweep stores."""
    providers = [p.name for p in fixed.providers]
    segments = [s.name for s in fixed.resolved_segments()]
    from sim.engine import MODEL_COLUMNS, PROVIDER_COLUMNS, SEGMENT_COLUMNS

    for i, condition in enumerate(spec.outcome):
        where = f"outcome[{i}].column={condition.column!r}"
        owner, slash, column = condition.column.partition("/")
        if not slash:
            if condition.column not in MODEL_COLUMNS:
                raise unknown_choice(f"{where}: unknown column", condition.column, MODEL_COLUMNS)
            numeric = True
        elif owner in providers:
            if column not in PROVIDER_COLUMNS:
                raise unknown_choice(f"{where}: unknown provider column", column, PROVIDER_COLUMNS)
            if not spec.providers:
                raise InputError(f"{where}: a provider's column; expected providers = true")
            numeric = column != "strategy"
        elif owner in segments:
            if column not in SEGMENT_COLUMNS:
                raise unknown_choice(f"{where}: unknown segment column", column, SEGMENT_COLUMNS)
            if not spec.segments:
                raise InputError(f"{where}: a segment's column; expected segments = true")
            numeric = True
        else:
            raise unknown_choice(
                f"{where}: unknown provider or segment", owner, [*providers, *segments]
            )
        if numeric and isinstance(condition.equals, str):
            raise InputError(
                f"outcome[{i}].equals={condition.equals!r}: {condition.column} is a number"
            )
        if not numeric and condition.equals is None:
            raise InputError(
                f"outcome[{i}]: {condition.column} is 'allow' or 'restrict'; expected equals = "
                "'allow' or 'restrict'"
            )
        if not numeric and condition.equals not in ("allow", "restrict"):
            raise InputError(
                f"outcome[{i}].equals={short_repr(condition.equals)}: expected 'allow' or "
                "'restrict'"
            )


def _check_columns(spec: SweepSpec, fixed: Params) -> None:
    """With both ``providers`` and ``segments``, no provider and segment share a name (their
    ``<name>/<column>`` columns would collide)."""
    if not (spec.providers and spec.segments):
        return
    shared = {p.name for p in fixed.providers} & {s.name for s in fixed.resolved_segments()}
    if shared:
        name = sorted(shared)[0]
        raise _refuse(
            "segments",
            "true",
            f"a provider and a segment are both named {name!r}; their columns <name>/<column> "
            "would collide",
        )


def _lineup_has(params: Params, *channels: str) -> bool:
    present = {p.channel for p in params.providers}
    return all(c in present for c in channels)


def _check_kind(spec: SweepSpec, fixed: Params) -> None:
    """Refuse a design the kind's figures cannot be drawn from (:mod:`.figures`)."""
    kind = spec.kind
    is_grid = spec.sampler == "grid"
    if kind == "sensitivity" and spec.sampler != "saltelli":
        raise _refuse(
            "sampler",
            repr(spec.sampler),
            "kind 'sensitivity' computes Sobol' indices, which need sampler 'saltelli'",
        )
    if kind in ("baseline", "counterfactuals", "phase_diagram") and not is_grid:
        raise _refuse("sampler", repr(spec.sampler), f"kind {kind!r} needs sampler 'grid'")
    if kind in ("baseline", "counterfactuals") and spec.record == "final":
        raise _refuse(
            "record",
            "'final'",
            f"kind {kind!r} draws time series; expected a whole number k (every k steps)",
        )
    if kind == "baseline" and spec.parameters:
        raise InputError(
            "parameters: kind 'baseline' draws one point's runs over time; expected no varied "
            "parameters (kind 'counterfactuals' compares a few points, 'generic' any design)"
        )
    if kind == "counterfactuals":
        if spec.n_points > COUNTERFACTUAL_LINES:
            raise InputError(
                f"parameters: kind 'counterfactuals' draws one line per point, at most "
                f"{COUNTERFACTUAL_LINES}; this grid has {spec.n_points}"
            )
        names = [d.name for d in spec.parameters]
        if SCENARIO_DIMENSION in names and len(names) > 1:
            raise InputError(
                "parameters: kind 'counterfactuals' groups runs by scenario when the scenario "
                "varies; expected no other varied parameter"
            )
    if kind == "phase_diagram":
        if not spec.providers:
            raise _refuse(
                "providers",
                "false",
                "kind 'phase_diagram' classifies each cell from the providers' final "
                "strategies; expected true",
            )
        bases = [fixed]
        for dim in spec.parameters:
            if dim.name == SCENARIO_DIMENSION:
                bases = [build_params(str(v), dict(spec.fixed)) for v in dim.values or ()]
        for params in bases:
            if not _lineup_has(params, "direct", "partner"):
                lineup = ", ".join(f"{p.name} ({p.channel})" for p in params.providers)
                raise InputError(
                    f"base={spec.base!r}: kind 'phase_diagram' classifies regimes by a direct "
                    f"and a partner provider; the lineup is {lineup}"
                )


# ---- sweep files ---------------------------------------------------------------------------

FILE_KEYS: tuple[str, ...] = (
    *(k for k in SweepSpec.model_fields if k not in ("quick", "source")),
    "quick",
)
"""Keys of a sweep file: the definition's, then the ``[quick]`` table."""
DIMENSION_KEYS: tuple[str, ...] = tuple(k for k in Dimension.model_fields if k != "name")
_NAME = TypeAdapter(Name)
_PARAMETERS_ITEM = re.compile(r"parameters\[([^\]]*)\]")


def _file_terms(exc: InputError) -> InputError:
    """A dimension's path as the file writes it: ``parameters.<name>``, not
    ``parameters[<name>]`` (the error machinery names list items in brackets)."""

    def fix(text: str) -> str:
        return _PARAMETERS_ITEM.sub(lambda m: f"parameters.{m.group(1)}", text, count=1)

    return InputError(fix(str(exc)), path=fix(exc.path), detail=exc.detail)


def _from_quick(path: str, table: Mapping[str, Any]) -> bool:
    """Whether the key at ``path`` of the merged quick variant came from its ``[quick]``."""
    head, _, rest = path.partition(".")
    head = head.split("[", 1)[0]
    if head in ("fixed", "parameters") and rest and isinstance(table.get(head), Mapping):
        return any(rest == k or rest.startswith((f"{k}.", f"{k}[")) for k in table[head])
    return head in table


def _check_file_keys(data: Mapping[str, Any], where: str, valid: Sequence[str]) -> None:
    for key in data:
        if key not in valid:
            raise unknown_choice(f"{where}unknown key", key, valid)
    parameters = data.get("parameters")
    if isinstance(parameters, Mapping):
        for name, table in parameters.items():
            if isinstance(table, Mapping):
                _check_file_keys(table, f"{where}parameters.{name}: ", DIMENSION_KEYS)
            elif not isinstance(table, list):
                raise InputError(
                    f"{where.removesuffix(': ')}{'.' if where else ''}parameters.{name}="
                    f"{short_repr(table)}: expected {{ values = [...] }} or "
                    "{ range = [low, high] }"
                )


def _merge_quick(data: Mapping[str, Any], quick: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(data)
    for key, value in quick.items():
        if key in ("fixed", "parameters") and isinstance(value, Mapping):
            below = data.get(key, {})
            merged[key] = {**(dict(below) if isinstance(below, Mapping) else {}), **value}
        else:
            merged[key] = value
    return merged


def _file_name(data: Mapping[str, Any], default: str, has_quick: bool) -> str:
    name = data.get("name", default)
    try:
        _NAME.validate_python(name)
    except ValidationError as exc:
        detail = "" if "name" in data else " (taken from the file's name; set name = '...')"
        error = format_validation_error(exc, SweepSpec, name, prefix="name")
        raise InputError(f"{error}{detail}", path="name") from None
    longest = 64 - len(QUICK_SUFFIX)
    if has_quick and len(name) > longest:
        raise _refuse(
            "name",
            repr(name),
            f"expected at most {longest} characters, so that its quick variant's name "
            f"'<name>{QUICK_SUFFIX}' has at most 64",
        )
    return str(name)


def spec_from_mapping(
    data: Mapping[str, Any],
    *,
    name: str,
    quick: bool = False,
    origin: str = "",
    allow_large: bool = False,
) -> SweepSpec:
    """Validate a parsed sweep file (``quick=True``: its ``[quick]`` variant). ``name`` is the
    default name (the file's stem). Errors are one line naming the key, prefixed by
    ``origin``; a design above the limits needs ``allow_large=True``."""
    prefix = f"{origin}: " if origin else ""
    try:
        return _from_file(data, name=name, quick=quick, origin=origin, allow_large=allow_large)
    except InputError as exc:
        raise InputError(f"{prefix}{exc}", path=exc.path, detail=exc.detail) from None


def _from_file(
    data: Mapping[str, Any], *, name: str, quick: bool, origin: str, allow_large: bool
) -> SweepSpec:
    if not isinstance(data, Mapping):
        raise InputError(f"{short_repr(data)}: expected a table of sweep keys")
    _check_file_keys(data, "", FILE_KEYS)
    table = data.get("quick")
    if table is not None and not isinstance(table, Mapping):
        raise InputError(f"quick={short_repr(table)}: expected a table ([quick])")
    if table is not None:
        _check_file_keys(table, "quick: ", [k for k in FILE_KEYS if k != "quick"])
    if quick and table is None:
        raise InputError("quick: this sweep file has no [quick] table")
    body = {k: v for k, v in data.items() if k != "quick"}
    if quick:
        assert table is not None
        body = _merge_quick(body, table)
    try:
        spec_name = _file_name(body, name, table is not None)
        body["name"] = f"{spec_name}{QUICK_SUFFIX}" if quick else spec_name
        body["quick"] = quick
        body["source"] = origin
        return _validate(body, allow_large)
    except InputError as exc:
        error = _file_terms(exc)
        if quick and table is not None and error.path and _from_quick(error.path, table):
            error = InputError(f"quick.{error}", path=f"quick.{error.path}", detail=error.detail)
        raise error from None


def _validate(data: Mapping[str, Any], allow_large: bool) -> SweepSpec:
    data = dict(data)
    if isinstance(data.get("parameters"), Mapping):  # a list of named tables: errors name them
        data["parameters"] = _dimensions(data["parameters"])
    token = _ALLOW_LARGE.set(allow_large)
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, SweepSpec, data) from None
    finally:
        _ALLOW_LARGE.reset(token)


def load_spec(path: str | Path, *, quick: bool = False, allow_large: bool = False) -> SweepSpec:
    """Read and validate a sweep file (``quick=True``: its ``[quick]`` variant; a design above
    the limits needs ``allow_large=True``)."""
    path = Path(path)
    data = read_toml(path, "sweep file")
    return spec_from_mapping(
        data, name=path.stem, quick=quick, origin=str(path), allow_large=allow_large
    )


def spec_from_definition(definition: Mapping[str, Any]) -> SweepSpec:
    """Rebuild a spec from the definition stored in a manifest (its design was accepted when
    the sweep started, so the size limits are not applied again)."""
    data = dict(definition)
    data["parameters"] = [
        {
            "name": d["name"],
            **({"values": d["values"]} if "values" in d else {}),
            **({"range": [d["low"], d["high"]]} if "low" in d else {}),
            **({"levels": d["levels"]} if "levels" in d else {}),
            "scale": d.get("scale", "linear"),
        }
        for d in data.get("parameters", [])
    ]
    return _validate(data, allow_large=True)


# ---- JSON Schema ----------------------------------------------------------------------------


def sweep_file_schema() -> dict[str, Any]:
    """JSON Schema of a sweep file: the keys of :class:`SweepSpec` (none required; ``name``
    defaults to the file's stem), ``[fixed]`` and ``[parameters]`` as tables keyed by
    parameter name, and a ``[quick]`` table taking any of the other keys."""
    schema = file_form(SweepSpec.model_json_schema())
    schema["title"] = "techcomp-sim sweep file"
    schema.pop("required", None)
    props = schema["properties"]
    for key in ("quick", "source"):
        props.pop(key)
    props["base"]["enum"] = list(scenario_names())
    docs = ("description", "unit", "source")
    props["fixed"] = {
        "type": "object",
        **{k: props["fixed"][k] for k in docs},
        "additionalProperties": True,
    }
    dimension = schema["$defs"]["Dimension"]
    dimension["properties"].pop("name")
    dimension.pop("required", None)
    # values or range, or {}: sampler oat's base value perturbed
    dimension["oneOf"] = [{"required": ["values"]}, {"required": ["range"]}, {"maxProperties": 0}]
    dimension["properties"]["values"]["minItems"] = 1
    props["parameters"] = {
        "type": "object",
        **{k: props["parameters"][k] for k in docs},
        "additionalProperties": {
            "anyOf": [
                {"$ref": "#/$defs/Dimension"},
                {"type": "array", "minItems": 1, "description": "shorthand for values"},
            ]
        },
    }
    props["quick"] = {
        "type": "object",
        "description": "the quick variant: any key above, merged over the file ([fixed] and "
        "[parameters] by name); its results go to <name>-quick",
        "properties": {k: v for k, v in props.items() if k != "quick"},
        "additionalProperties": False,
    }
    return dict(schema)
