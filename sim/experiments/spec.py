"""Sweep files: a declared experiment, validated like :class:`sim.params.Params`.

A sweep file is TOML with these keys (``docs/experiments.md`` has a worked example)::

    name        = "phase_diagram"     # results go to <out>/<name>; default: the file's stem
    description = "one line"
    kind        = "phase_diagram"     # which figures to draw: baseline | phase_diagram |
                                      # counterfactuals | sensitivity | generic (default)
    base        = "seed"              # scenario the points start from
    sampler     = "grid"              # grid | lhs | sobol | saltelli
    points      = 64                  # lhs/sobol: design size; saltelli: base sample N
    second_order = false              # saltelli: also second-order indices
    replicates  = 10                  # seeded runs per point (>= 1)
    replicates_per_unit = 10          # work-unit size (a point's replicates, or a slice)
    steps       = 120                 # months simulated
    record      = "final"             # "final", or k: every k steps (and the last)
    providers   = false               # also store per-provider outputs (<name>/<column>)
    root_seed   = 20240709            # SeedSequence root of every run
    [fixed]                           # overrides applied to every point
    n_enterprises = 2000
    [parameters]                      # what varies: a values list or a [low, high] range
    market_value = { range = [25, 1600], levels = 6, scale = "log" }
    home_fine    = { values = [0, 40, 160] }
    "direct-lab.home_exposure" = { range = [0, 50] }   # a provider's field: <name>.<field>
    scenario     = { values = ["seed", "mandate"] }    # grid only: the base scenario varies
    [quick]                           # the quick variant: any of the keys above, merged over

Each point's parameters are ``load_scenario(base)`` with ``fixed`` and then the point's values
applied through :meth:`Params.replace`, so every range check of the model applies here too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sim.errors import unknown_choice
from sim.params import (
    PROVIDER_FIELDS,
    SCALAR_FIELDS,
    Params,
    list_scenarios,
    load_scenario,
)

SAMPLERS = ("grid", "lhs", "sobol", "saltelli")
KINDS = ("generic", "baseline", "phase_diagram", "counterfactuals", "sensitivity")
SCALES = ("linear", "log")
TOP_KEYS = (
    "name",
    "description",
    "kind",
    "base",
    "sampler",
    "points",
    "second_order",
    "replicates",
    "replicates_per_unit",
    "steps",
    "record",
    "providers",
    "root_seed",
    "fixed",
    "parameters",
    "quick",
)
DIMENSION_KEYS = ("values", "range", "levels", "scale")
DEFAULT_UNIT_REPLICATES = 10
SCENARIO_DIMENSION = "scenario"
_PROVIDER_VARIABLE = tuple(f for f in PROVIDER_FIELDS if f not in ("name", "channel"))


def _check_sweep_name(name: Any) -> str:
    """The sweep's name becomes one directory under the results directory, so it must be a
    single ordinary path component: never empty, ``.`` or ``..``, and free of ``/``, ``\\``
    and control characters (NUL among them), or ``<out>/<name>`` could climb out of (or
    replace) the results directory."""
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or not name.isprintable()
    ):
        raise ValueError(
            f"name={name!r}: expected a single directory name: not empty, '.' or '..', "
            "without '/', '\\' or control characters"
        )
    return name


@cache
def _scenario(name: str) -> Params:
    return load_scenario(name)


@dataclass(frozen=True)
class Dimension:
    """One varied quantity: either a list of ``values`` or a ``[low, high]`` range (with
    ``levels`` evenly spaced values, linear or logarithmic, when the sampler is a grid)."""

    name: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    levels: int | None = None
    scale: str = "linear"

    def grid_values(self) -> tuple[Any, ...]:
        """The values a grid takes along this dimension."""
        if self.values is not None:
            return self.values
        assert self.low is not None and self.high is not None and self.levels is not None
        return tuple(self.from_unit(i / max(self.levels - 1, 1)) for i in range(self.levels))

    def from_unit(self, u: float) -> float:
        """Map ``u`` in [0, 1] onto the range (log-uniformly when ``scale = "log"``)."""
        assert self.low is not None and self.high is not None
        if self.scale == "log":
            return float(self.low * (self.high / self.low) ** u)
        return float(self.low + (self.high - self.low) * u)


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep definition (see the module docstring for every key)."""

    name: str
    description: str
    kind: str
    base: str
    sampler: str
    points: int | None
    second_order: bool
    replicates: int
    replicates_per_unit: int
    steps: int
    record: str | int
    providers: bool
    root_seed: int
    fixed: tuple[tuple[str, Any], ...]
    parameters: tuple[Dimension, ...]
    quick: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        # results go to <out>/<name>, so even a spec built directly must not name a path
        _check_sweep_name(self.name)

    def definition(self) -> dict[str, Any]:
        """The canonical, JSON-ready definition stored in the manifest and compared on resume
        (everything that changes results; not the file's path)."""
        out = dataclasses.asdict(self)
        out.pop("source")
        out["fixed"] = dict(self.fixed)
        out["parameters"] = [
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items() if v is not None}
            for d in out["parameters"]
        ]
        return json.loads(json.dumps(out))

    def fingerprint(self) -> str:
        """sha256 of the canonical definition."""
        text = json.dumps(self.definition(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def params_for(self, values: Mapping[str, Any]) -> Params:
        """The parameters of one point: the base scenario (or the point's ``scenario``), then
        ``fixed``, then the point's values."""
        return build_params(self.base, {**dict(self.fixed), **dict(values)})

    @property
    def recorded_steps(self) -> int:
        """Rows each run contributes (step 0, every k-th step and the last)."""
        if self.record == "final":
            return 1
        k = int(self.record)
        return len({*range(0, self.steps + 1, k), self.steps})


def build_params(base: str, changes: Mapping[str, Any]) -> Params:
    """``load_scenario(base)`` with scalar and ``<provider>.<field>`` changes applied."""
    changes = dict(changes)
    params = _scenario(str(changes.pop(SCENARIO_DIMENSION, base)))
    return params.replace(**changes)


def point_value(params: Params, name: str, requested: Any) -> Any:
    """The value a point actually has for ``name`` after validation and type coercion."""
    if name == SCENARIO_DIMENSION:
        return requested
    if "." in name:
        provider, fieldname = name.split(".", 1)
        return getattr(next(p for p in params.providers if p.name == provider), fieldname)
    return getattr(params, name)


def _whole(where: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}={value!r}: expected a whole number >= {minimum}")
    return value


def _check_name(where: str, name: str, base: Params, sampler: str) -> None:
    if name == SCENARIO_DIMENSION:
        if sampler != "grid":
            raise ValueError(
                f"{where}: the scenario can vary only with sampler 'grid' (got {sampler!r})"
            )
        return
    if "." in name:
        provider, fieldname = name.split(".", 1)
        names = [p.name for p in base.providers]
        if provider not in names:
            raise unknown_choice(f"{where}: unknown provider", provider, names)
        if fieldname not in _PROVIDER_VARIABLE:
            raise unknown_choice(f"{where}: unknown provider field", fieldname, _PROVIDER_VARIABLE)
        return
    valid = [*SCALAR_FIELDS, SCENARIO_DIMENSION]
    if name not in valid:
        raise unknown_choice(f"{where}: unknown parameter", name, valid)


def _check_value(where: str, base: str, name: str, value: Any) -> None:
    """Raise a one-line error when ``name = value`` is not a valid parameter value."""
    if name == SCENARIO_DIMENSION:
        names = sorted(list_scenarios())
        if value not in names:
            raise unknown_choice(f"{where}: unknown scenario", str(value), names)
        return
    try:
        build_params(base, {name: value})
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _dimension(name: str, raw: Any, base: str, base_params: Params, sampler: str) -> Dimension:
    where = f"parameters.{name}"
    _check_name(where, name, base_params, sampler)
    if isinstance(raw, list):  # shorthand: a bare list of values
        raw = {"values": raw}
    if not isinstance(raw, Mapping):
        raise ValueError(
            f"{where}={raw!r}: expected {{ values = [...] }} or {{ range = [lo, hi] }}"
        )
    for key in raw:
        if key not in DIMENSION_KEYS:
            raise unknown_choice(f"{where}: unknown key", key, DIMENSION_KEYS)
    if ("values" in raw) == ("range" in raw):
        raise ValueError(f"{where}: expected exactly one of 'values' or 'range'")
    scale = raw.get("scale", "linear")
    if scale not in SCALES:
        raise ValueError(f"{where}.scale={scale!r}: expected one of {', '.join(SCALES)}")
    if "values" in raw:
        values = raw["values"]
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}.values={values!r}: expected a non-empty list")
        if sampler != "grid":
            raise ValueError(
                f"{where}.values: sampler {sampler!r} needs a range = [low, high], not a list"
            )
        if "levels" in raw:
            raise ValueError(f"{where}.levels: only used with a range")
        for value in values:
            _check_value(f"{where}.values", base, name, value)
        return Dimension(name, values=tuple(values), scale=scale)
    bounds = raw["range"]
    if (
        not isinstance(bounds, list)
        or len(bounds) != 2
        or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
    ):
        raise ValueError(f"{where}.range={bounds!r}: expected [low, high] numbers")
    low, high = float(bounds[0]), float(bounds[1])
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{where}.range={bounds!r}: expected finite bounds")
    if low >= high:
        raise ValueError(f"{where}.range={bounds!r}: low must be below high (reversed bounds?)")
    if scale == "log" and low <= 0:
        raise ValueError(f"{where}.range={bounds!r}: scale 'log' needs low > 0")
    for value in (low, high):
        _check_value(f"{where}.range", base, name, value)
    levels = raw.get("levels")
    if sampler == "grid":
        if levels is None:
            raise ValueError(f"{where}: a range on a grid needs levels = <number of values>")
        levels = _whole(f"{where}.levels", levels, 2)
    elif levels is not None:
        raise ValueError(f"{where}.levels: only used by sampler 'grid' (got {sampler!r})")
    return Dimension(name, low=low, high=high, levels=levels, scale=scale)


def _merge_quick(data: dict[str, Any], quick: Any) -> dict[str, Any]:
    if not isinstance(quick, Mapping):
        raise ValueError(f"quick={quick!r}: expected a table")
    merged = dict(data)
    for key, value in quick.items():
        if key not in TOP_KEYS or key == "quick":
            valid = [k for k in TOP_KEYS if k != "quick"]
            raise unknown_choice("quick.unknown key", key, valid)
        if key in ("fixed", "parameters") and isinstance(value, Mapping):
            merged[key] = {**dict(data.get(key, {})), **dict(value)}
        else:
            merged[key] = value
    return merged


def spec_from_mapping(
    data: Mapping[str, Any], *, name: str, quick: bool = False, origin: str = ""
) -> SweepSpec:
    """Validate a parsed sweep file. Errors are one line naming the key, prefixed by
    ``origin``."""
    prefix = f"{origin}: " if origin else ""
    try:
        return _build(dict(data), name=name, quick=quick, origin=origin)
    except ValueError as exc:
        raise ValueError(f"{prefix}{exc}") from None


def _build(data: dict[str, Any], *, name: str, quick: bool, origin: str) -> SweepSpec:
    for key in data:
        if key not in TOP_KEYS:
            raise unknown_choice("unknown key", key, TOP_KEYS)
    quick_table = data.pop("quick", None)
    if quick:
        if quick_table is None:
            raise ValueError("quick: this sweep file has no [quick] table")
        data = _merge_quick(data, quick_table)
    elif quick_table is not None:
        _merge_quick(data, quick_table)  # validate its keys even when unused
    name = _check_sweep_name(data.get("name", name))
    if quick:
        name = f"{name}-quick"
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"description={description!r}: expected a string")
    kind = data.get("kind", "generic")
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: expected one of {', '.join(KINDS)}")
    base = data.get("base", "seed")
    scenarios = sorted(list_scenarios())
    if base not in scenarios:
        raise unknown_choice("base: unknown scenario", str(base), scenarios)
    sampler = data.get("sampler", "grid")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r}: expected one of {', '.join(SAMPLERS)}")
    replicates = _whole("replicates", data.get("replicates", 1), 1)
    per_unit = _whole(
        "replicates_per_unit",
        data.get("replicates_per_unit", min(replicates, DEFAULT_UNIT_REPLICATES)),
        1,
    )
    steps = _whole("steps", data.get("steps", 120), 1)
    record = data.get("record", 1)
    if isinstance(record, str) and record != "final":
        raise ValueError(f"record={record!r}: expected 'final' or a whole number k >= 1")
    if not isinstance(record, str):
        record = _whole("record", record, 1)
    providers = data.get("providers", False)
    if not isinstance(providers, bool):
        raise ValueError(f"providers={providers!r}: expected true or false")
    second_order = data.get("second_order", False)
    if not isinstance(second_order, bool):
        raise ValueError(f"second_order={second_order!r}: expected true or false")
    root_seed = _whole("root_seed", data.get("root_seed", 0), 0)

    fixed_raw = data.get("fixed", {})
    if not isinstance(fixed_raw, Mapping):
        raise ValueError(f"fixed={fixed_raw!r}: expected a table of parameter values")
    base_params = _scenario(base)
    for key, value in fixed_raw.items():
        if key == SCENARIO_DIMENSION:
            raise ValueError("fixed.scenario: set the scenario with 'base'")
        _check_name(f"fixed.{key}", key, base_params, "grid")
        _check_value(f"fixed.{key}", base, key, value)
    try:
        base_params = build_params(base, fixed_raw)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"fixed: {exc}") from None

    params_raw = data.get("parameters", {})
    if not isinstance(params_raw, Mapping):
        raise ValueError(f"parameters={params_raw!r}: expected a table of varied parameters")
    if not params_raw and sampler != "grid":
        raise ValueError(f"parameters: sampler {sampler!r} needs at least one varied parameter")
    dimensions = tuple(
        _dimension(key, value, base, base_params, sampler) for key, value in params_raw.items()
    )
    for dim in dimensions:
        if dim.name in fixed_raw:
            raise ValueError(f"parameters.{dim.name}: also set in [fixed]; keep one")

    points = data.get("points")
    if sampler == "grid":
        if points is not None:
            raise ValueError("points: not used by sampler 'grid' (its size is the product)")
    else:
        points = _whole("points", points, 1) if points is not None else None
        if points is None:
            raise ValueError(f"points: required by sampler {sampler!r}")
        if sampler in ("sobol", "saltelli") and points & (points - 1):
            raise ValueError(f"points={points}: sampler {sampler!r} needs a power of 2")
        if sampler == "saltelli" and len(dimensions) < 2:
            raise ValueError("parameters: sampler 'saltelli' needs at least two parameters")
    return SweepSpec(
        name=name,
        description=description,
        kind=kind,
        base=base,
        sampler=sampler,
        points=points,
        second_order=second_order,
        replicates=replicates,
        replicates_per_unit=per_unit,
        steps=steps,
        record=record,
        providers=providers,
        root_seed=root_seed,
        fixed=tuple(fixed_raw.items()),
        parameters=dimensions,
        quick=quick,
        source=origin,
    )


def load_spec(path: str | Path, *, quick: bool = False) -> SweepSpec:
    """Read and validate a sweep file (``quick=True``: its ``[quick]`` variant)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read sweep file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: cannot read sweep file (not UTF-8: byte 0x{exc.object[exc.start]:02x} "
            f"at offset {exc.start}); save it as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: malformed TOML ({exc})") from None
    return spec_from_mapping(data, name=path.stem, quick=quick, origin=str(path))


def spec_from_definition(definition: Mapping[str, Any]) -> SweepSpec:
    """Rebuild a spec from the definition stored in a manifest."""
    data = dict(definition)
    quick = bool(data.pop("quick", False))
    name = str(data.pop("name"))
    if quick:
        name = name.removesuffix("-quick")
    data["parameters"] = {
        d["name"]: {
            **({"values": d["values"]} if "values" in d else {"range": [d["low"], d["high"]]}),
            **({"levels": d["levels"]} if "levels" in d else {}),
            "scale": d.get("scale", "linear"),
        }
        for d in data["parameters"]
    }
    if quick:
        data["quick"] = {}
    return spec_from_mapping({**data, "name": name}, name=name, quick=quick)
