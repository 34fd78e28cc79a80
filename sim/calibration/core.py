r"""Likelihood-free Bayesian calibration (ABC-SMC with pyabc) of the model to dated facts.

A calibration file declares priors over parameters, the targets, the distance and the
population schedule (keys below; ``docs/calibration.md`` has the reference and the shipped
calibration). ``python -m sim calibrate FILE --out DIR`` runs it (or resumes it) and writes::

    DIR/manifest.json          definition, fingerprints, versions, generations, timings
    DIR/abc.db                 pyabc's SQLite history (what a resumed run continues from)
    DIR/posterior.parquet      one row per particle of the last generation: parameters, weight
    DIR/predictive.parquet     target, month, observed, q05, q50, q95 (posterior predictive)
    DIR/predictive_paths.parquet  quantity, month, q05, q50, q95: the fitted series by month
    DIR/posterior_summary.csv  per parameter: prior range, weighted median, 90% interval,
                               contraction 1 - var_post / var_prior
    DIR/scenario.toml          a scenario file from the posterior (base = the file's base)
    DIR/figures/posterior.png, predictive.png

The statistics
    A target ``i`` is a model output ``y`` (a column of :data:`sim.engine.MODEL_COLUMNS`) at
    ``month`` m, or its ratio ``y(m) / y(relative_to)``, averaged over the candidate's
    ``replicates`` runs. On ``scale = "log"`` the statistic is its logarithm. The distance of a
    candidate is a norm of the scaled residuals ``z_i = (s_i - o_i) / tol_i`` over the targets
    with ``fit = true``: ``euclidean`` (sqrt sum z^2), ``manhattan`` (sum |z|) or ``max``.

The sampler (why not pyabc's own parallel samplers)
    pyabc draws proposals from NumPy's global random state, and its ``MappingSampler`` and
    multicore samplers reseed every worker from the operating system's entropy, so their
    results change with the number of workers and from run to run. :class:`BatchSampler`
    keeps the result independent of the workers and of the backend: in generation ``t``
    candidate ``k`` (``k = 0, 1, 2, ...``) seeds NumPy's global state from
    ``SeedSequence(root_seed, spawn_key=(1, t + 1, k, 0))`` before pyabc draws its parameters
    and runs the model with the seed ``SeedSequence(root_seed, spawn_key=(1, t + 1, k, 1))``
    (the model never reads the global state). Candidates are evaluated in rounds of ``batch``
    consecutive indices, anywhere (in this process, a process pool or a Dask cluster); the
    generation keeps the first ``population`` accepted candidates in index order, exactly what a
    serial sampler trying ``k = 0, 1, 2, ...`` would keep. The same file and root seed
    therefore give the same posterior with 1 or N workers, locally or on Dask (tested).

Resuming
    pyabc stores each generation in ``abc.db`` when it completes. Re-running the same command
    continues after the last completed generation (a generation cut short is sampled again
    from its start, with the same seeds, so the result is that of an uninterrupted run). The
    manifest fingerprints the calibration definition (the file after validation, the base
    scenario's resolved parameters) and the code (the package's Python sources and pyabc's
    version); a directory holding another definition or another code version is refused
    unless ``force``, which deletes it first.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import itertools
import json
import logging
import math
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import ValidationError, field_validator, model_validator

from sim.batch import run_batch
from sim.engine import MODEL_COLUMNS
from sim.errors import (
    InputError,
    field_error,
    format_validation_error,
    read_toml,
    short_repr,
    unknown_choice,
)
from sim.params import Params, apply_changes, list_scenarios, load_scenario, valid_keys
from sim.schema import Flag, Frozen, Name, Number, Whole, param

Scale = Literal["linear", "log"]
Norm = Literal["euclidean", "manhattan", "max"]
SCALES: tuple[str, ...] = get_args(Scale)
NORMS: tuple[str, ...] = get_args(Norm)

MAX_STEPS = 1200
"""Months a calibration simulates (a century): every candidate runs them all."""
MAX_POPULATION = 100_000
MAX_GENERATIONS = 100
MAX_REPLICATES = 1000
MAX_PRIORS = 50
MAX_TARGETS = 100
MAX_EVALUATIONS = 10_000_000
"""Candidates one generation may try before the calibration stops (``min_acceptance``)."""
QUICK_SUFFIX = "-quick"
EVENT_PREFIX = "events"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "abc.db"
POSTERIOR = "posterior.parquet"
PREDICTIVE = "predictive.parquet"
PATHS = "predictive_paths.parquet"
SUMMARY = "posterior_summary.csv"
SCENARIO = "scenario.toml"
QUANTILES = (0.05, 0.5, 0.95)


# ---- the calibration file ------------------------------------------------------------------


class Prior(Frozen):
    """A uniform prior on ``[low, high]`` (``scale = "log"``: uniform in the logarithm)."""

    low: Number = param(..., unit="the parameter's", meaning="lower end", source="file")
    high: Number = param(..., unit="the parameter's", meaning="upper end", source="file")
    scale: Scale = param(
        "linear",
        unit="-",
        meaning="linear: uniform on [low, high]; log: log-uniform (needs low > 0)",
        source="file",
    )
    source: str = param("", unit="-", meaning="where the range comes from", source="file")

    @model_validator(mode="after")
    def _ordered(self) -> Prior:
        if self.low >= self.high:
            raise field_error("high", self.high, f"expected a value above low ({self.low!r})")
        if self.scale == "log" and self.low <= 0:
            raise field_error("low", self.low, "scale 'log' needs low > 0")
        return self

    def to_internal(self, value: float) -> float:
        """The value in the space pyabc samples (the logarithm on a log scale)."""
        return math.log(value) if self.scale == "log" else value

    def from_internal(self, value: float) -> float:
        return math.exp(value) if self.scale == "log" else value

    @property
    def internal_bounds(self) -> tuple[float, float]:
        return self.to_internal(self.low), self.to_internal(self.high)


class Target(Frozen):
    """An observed fact the model speaks to: an output at a month, or the ratio of its values
    at two months."""

    quantity: str = param(
        ...,
        unit="-",
        meaning="a model output column (python -m sim run lists them), e.g. capability_gap",
        source="file",
    )
    month: Whole = param(
        ..., low=0, high=MAX_STEPS, unit="month", meaning="month 0 = step 0", source="file"
    )
    relative_to: Whole | None = param(
        None,
        low=0,
        high=MAX_STEPS,
        unit="month",
        meaning="if set, the target is quantity(month) / quantity(relative_to)",
        source="file",
    )
    observed: Number = param(..., unit="the quantity's", meaning="the fact", source="file")
    tolerance: Number = param(
        ...,
        low=1e-12,
        high=1e12,
        unit="the statistic's",
        meaning="scale of the residual in the distance (on scale 'log': of the log residual)",
        source="file",
    )
    scale: Scale = param(
        "linear", unit="-", meaning="log: compare logarithms (positive quantities)", source="file"
    )
    fit: Flag = param(
        True,
        unit="-",
        meaning="false: predicted but not used in the distance (out-of-sample check)",
        source="file",
    )
    source: str = param("", unit="-", meaning="where the fact comes from", source="file")

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if self.quantity not in MODEL_COLUMNS:
            hint = unknown_choice("unknown model output", self.quantity, MODEL_COLUMNS)
            detail = f"={self.quantity!r}: {str(hint).replace(f' {self.quantity!r}', '', 1)}"
            raise InputError(f"quantity{detail}", path="quantity", detail=detail)
        if self.relative_to is not None and self.relative_to == self.month:
            raise field_error("relative_to", self.relative_to, "expected a month other than month")
        if self.scale == "log" and self.observed <= 0:
            raise field_error("observed", self.observed, "scale 'log' needs a positive value")
        return self

    def statistic(self, value: float) -> float:
        """A simulated or observed value in the distance's space (on a log scale a value that
        is not positive counts as log = -1000, far from any target)."""
        if self.scale == "log":
            return math.log(value) if value > 0 else -1e3
        return value


class Schedule(Frozen):
    """The population schedule of ABC-SMC."""

    population: Whole = param(
        200,
        low=2,
        high=MAX_POPULATION,
        unit="particles",
        meaning="accepted per generation",
        source="file",
    )
    generations: Whole = param(
        6,
        low=1,
        high=MAX_GENERATIONS,
        unit="generations",
        meaning="ABC-SMC generations",
        source="file",
    )
    quantile: Number = param(
        0.5,
        low=0.01,
        high=1.0,
        unit="fraction",
        meaning="epsilon of generation t+1: this quantile of generation t's weighted distances "
        "(generation 0 accepts every prior draw)",
        source="pyabc.QuantileEpsilon",
    )
    min_epsilon: Number = param(
        0.0,
        low=0.0,
        high=1e12,
        unit="distance",
        meaning="stop below this epsilon",
        source="file",
    )
    min_acceptance: Number = param(
        0.005,
        low=1e-6,
        high=1.0,
        unit="fraction",
        meaning="stop when a generation would need more than population / min_acceptance "
        "candidates",
        source="file",
    )
    batch: Whole | None = param(
        None,
        low=1,
        high=MAX_EVALUATIONS,
        unit="candidates",
        meaning="candidates evaluated per round (unset: the population); part of the "
        "definition, not of the machine, so results do not depend on the workers",
        source="file",
    )
    predictive_runs: Whole = param(
        1,
        low=1,
        high=MAX_REPLICATES,
        unit="runs per particle",
        meaning="fresh runs of every posterior particle for the posterior predictive",
        source="file",
    )

    @property
    def round_size(self) -> int:
        return int(self.batch or self.population)


class CalibrationSpec(Frozen):
    """A validated calibration file (see the module docstring and ``docs/calibration.md``)."""

    name: Name = param(
        ...,
        unit="-",
        meaning="results go to <out> (default results/<name>)",
        source="default: the file's stem",
    )
    description: str = param("", unit="-", meaning="one line", source="file")
    base: str = param(
        "timeline-2024",
        unit="-",
        meaning="shipped scenario every candidate starts from",
        source="file",
    )
    steps: Whole = param(
        14, low=1, high=MAX_STEPS, unit="months", meaning="months simulated", source="file"
    )
    replicates: Whole = param(
        1,
        low=1,
        high=MAX_REPLICATES,
        unit="runs per candidate",
        meaning="seeded runs per candidate; its statistics are their means",
        source="file",
    )
    root_seed: Whole = param(
        0,
        low=0,
        high=2**63 - 1,
        unit="-",
        meaning="root of every seed (numpy.random.SeedSequence)",
        source="file",
    )
    distance: Norm = param(
        "euclidean",
        unit="-",
        meaning="norm of the scaled residuals: euclidean, manhattan, max",
        source="file",
    )
    fixed: tuple[tuple[str, Any], ...] = param(
        (),
        unit="-",
        meaning="[fixed]: values applied to every candidate, named as Params.replace names "
        "them, or events.<month>.<key> for the value an event of the base sets",
        source="file",
    )
    priors: dict[str, Prior] = param(
        {}, unit="-", meaning="[priors.<name>]: the calibrated parameters", source="file"
    )
    targets: dict[str, Target] = param(
        {}, unit="-", meaning="[targets.<name>]: the facts", source="file"
    )
    schedule: Schedule = param(Schedule(), unit="-", meaning="[schedule]", source="file")
    quick: Flag = param(
        False,
        unit="-",
        meaning="this is the file's [quick] variant",
        source="load_calibration(..., quick=True)",
    )
    source: str = param("", unit="-", meaning="the file it was read from", source="-")

    @field_validator("fixed", mode="before")
    @classmethod
    def _fixed_pairs(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return tuple(
                (str(k), v.item() if isinstance(v, np.generic) else v) for k, v in value.items()
            )
        return value

    @field_validator("base", mode="after")
    @classmethod
    def _shipped(cls, base: str) -> str:
        names = sorted(list_scenarios())
        if base not in names:
            raise unknown_choice("unknown scenario", base, names)
        return base

    @model_validator(mode="after")
    def _consistent(self) -> CalibrationSpec:
        _check_spec(self)
        return self

    # ---- what the rest uses ------------------------------------------------------------

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(name for name in self.priors)

    @property
    def fitted(self) -> tuple[tuple[str, Target], ...]:
        return tuple((n, t) for n, t in self.targets.items() if t.fit)

    def definition(self) -> dict[str, Any]:
        """Everything that changes results, JSON-ready (not the file's path)."""
        out = {
            "name": self.name,
            "description": self.description,
            "base": self.base,
            "base_params_sha256": _params_sha256(self.base),
            "steps": self.steps,
            "replicates": self.replicates,
            "root_seed": self.root_seed,
            "distance": self.distance,
            "fixed": dict(self.fixed),
            "priors": {n: p.model_dump() for n, p in self.priors.items()},
            "targets": {n: t.model_dump() for n, t in self.targets.items()},
            "schedule": self.schedule.model_dump(),
            "quick": self.quick,
        }
        return dict(json.loads(json.dumps(out)))

    def fingerprint(self) -> str:
        text = json.dumps(self.definition(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def base_params(self) -> Params:
        """The base scenario with ``[fixed]`` applied."""
        return with_values(_scenario(self.base), dict(self.fixed))

    def params_for(self, values: Mapping[str, float], *, validate: bool = False) -> Params:
        """One candidate's parameters: the base, ``[fixed]``, then ``values`` (the file's
        names, natural units).

        Without ``validate`` the values are set without validating the whole parameter set
        again (:func:`set_numbers`): the file's validation applied both ends of every prior
        to the base with ``[fixed]``, and each field's range is an interval, so any value
        inside a prior's range passes the same checks. ``validate=True`` goes through
        :meth:`Params.replace` (tests check the two agree)."""
        if validate:
            return with_values(_scenario(self.base), {**dict(self.fixed), **dict(values)})
        base = _BASES.get(self.fingerprint())
        if base is None:
            base = _BASES[self.fingerprint()] = self.base_params()
        for name, prior in self.priors.items():
            value = values[name]
            if (
                not prior.low - 1e-12 * abs(prior.low)
                <= value
                <= prior.high + 1e-12 * abs(prior.high)
            ):
                raise InputError(f"{name}={value!r}: outside its prior [{prior.low}, {prior.high}]")
        return set_numbers(base, values)


_BASES: dict[str, Params] = {}


@cache
def _scenario(name: str) -> Params:
    return load_scenario(name)


@cache
def _params_sha256(name: str) -> str:
    text = json.dumps(_scenario(name).model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _event_key(name: str) -> tuple[int, str] | None:
    """``events.<month>.<key>`` as (month, key), else None."""
    head, _, rest = name.partition(".")
    if head != EVENT_PREFIX or not rest:
        return None
    month, _, key = rest.partition(".")
    if not month.isdigit() or not key:
        raise InputError(f"{name}: expected events.<month>.<key>, e.g. events.4.price_subsidy")
    return int(month), key


def with_values(params: Params, values: Mapping[str, Any]) -> Params:
    """``params`` with ``values`` applied: names as :meth:`Params.replace` takes them, or
    ``events.<month>.<key>`` for the value that the base's event at that month sets for
    ``key`` (the event must set it already; one event per month and key)."""
    plain = {k: v for k, v in values.items() if _event_key(k) is None}
    dated = {k: v for k, v in values.items() if _event_key(k) is not None}
    if not dated:
        return params.replace(**plain)
    data = apply_changes(params.model_dump(), plain)
    events = [dict(e) for e in data["events"]]
    for name, value in dated.items():
        month, key = _event_key(name)  # type: ignore[misc]
        hits = [i for i, e in enumerate(events) if e["month"] == month and key in e["set"]]
        if len(hits) != 1:
            setting = [f"{e['month']}:{k}" for e in events for k in e["set"]]
            raise unknown_choice(
                f"{name}: no single event at month {month} sets",
                f"{month}:{key}",
                setting,
            )
        events[hits[0]] = {**events[hits[0]], "set": {**events[hits[0]]["set"], key: value}}
    data["events"] = events
    return Params.parse(data)


def set_numbers(params: Params, values: Mapping[str, float]) -> Params:
    """``params`` with numeric ``values`` set by name (as :func:`with_values` names them)
    without validating again: for values already known to be valid (see
    :meth:`CalibrationSpec.params_for`)."""
    updates: dict[str, Any] = {}
    providers = list(params.providers)
    segments = list(params.segments)
    events = list(params.events)
    network = params.network
    for name, value in values.items():
        dated = _event_key(name)
        if dated is not None:
            month, key = dated
            i = next(i for i, e in enumerate(events) if e.month == month and key in e.set)
            events[i] = events[i].model_copy(update={"set": {**events[i].set, key: value}})
        elif "." not in name:
            updates[name] = value
        else:
            owner, field = name.split(".", 1)
            if owner == "network":
                network = network.model_copy(update={field: value})
                continue
            for i, p in enumerate(providers):
                if p.name == owner:
                    providers[i] = p.model_copy(update={field: value})
            for i, seg in enumerate(segments):
                if seg.name == owner:
                    segments[i] = seg.model_copy(update={field: value})
    updates.update(
        providers=tuple(providers),
        segments=tuple(segments),
        events=tuple(events),
        network=network,
    )
    return params.model_copy(update=updates)


def _current(params: Params, name: str) -> Any:
    """The value ``name`` has in ``params`` (an event's value for ``events.<m>.<key>``)."""
    dated = _event_key(name)
    if dated is not None:
        month, key = dated
        for event in params.events:
            if event.month == month and key in event.set:
                return event.set[key]
        return None
    if "." not in name:
        return getattr(params, name)
    owner, field = name.split(".", 1)
    if owner == "network":
        return getattr(params.network, field)
    for provider in params.providers:
        if provider.name == owner:
            return getattr(provider, field)
    for segment in params.segments:
        if segment.name == owner:
            return getattr(segment, field)
    return None


def _check_name(params: Params, name: str, where: str) -> None:
    if _event_key(name) is not None:
        with_values(params, {name: _current(params, name)})
        return
    if name in valid_keys(params):
        return
    try:
        apply_changes(params.model_dump(), {name: None})
    except InputError as exc:
        raise InputError(f"{where}: {exc}", path=where) from None
    raise unknown_choice(f"{where}: unknown parameter", name, valid_keys(params))


def _apply(params: Params, name: str, value: Any, where: str) -> Params:
    try:
        return with_values(params, {name: value})
    except InputError as exc:
        detail = f"={short_repr(value)}: {exc}"
        raise InputError(f"{where}{detail}", path=where, detail=detail) from None


def _check_spec(spec: CalibrationSpec) -> None:
    if not spec.priors:
        raise InputError("priors: expected at least one calibrated parameter ([priors.<name>])")
    if len(spec.priors) > MAX_PRIORS:
        raise InputError(f"priors: {len(spec.priors)} parameters; expected at most {MAX_PRIORS}")
    if not spec.fitted:
        raise InputError("targets: expected at least one target with fit = true")
    if len(spec.targets) > MAX_TARGETS:
        raise InputError(f"targets: {len(spec.targets)} targets; expected at most {MAX_TARGETS}")
    params = _scenario(spec.base)
    fixed_names = [k for k, _ in spec.fixed]
    for key, value in spec.fixed:
        where = f"fixed.{key}"
        if fixed_names.count(key) > 1:
            raise InputError(f"{where}: listed twice")
        try:
            _check_name(params, key, where)
        except InputError as exc:
            raise InputError(f"{where}: {exc}", path=where) from None
        params = _apply(params, key, value, where)
    for name, prior in spec.priors.items():
        where = f"priors.{name}"
        if name in fixed_names:
            raise InputError(f"{where}: also set in [fixed]; keep one")
        try:
            _check_name(params, name, where)
        except InputError as exc:
            raise InputError(f"{where}: {exc}", path=where) from None
        probe = _current(params, name)
        if isinstance(probe, bool) or not isinstance(probe, float):
            raise InputError(
                f"{where}: only a continuous number can have a prior (the value is "
                f"{short_repr(probe)})"
            )
        for end in ("low", "high"):
            _apply(params, name, getattr(prior, end), f"{where}.{end}")
    for name, target in spec.targets.items():
        for key in ("month", "relative_to"):
            month = getattr(target, key)
            if month is not None and month > spec.steps:
                raise InputError(
                    f"targets.{name}.{key}={month}: after the last month simulated "
                    f"(steps = {spec.steps})",
                    path=f"targets.{name}.{key}",
                    detail=f"={month}: after the last month simulated (steps = {spec.steps})",
                )


FILE_KEYS: tuple[str, ...] = (
    *(k for k in CalibrationSpec.model_fields if k not in ("quick", "source")),
    "quick",
)
_MERGED = ("fixed", "priors", "targets", "schedule")


def _merge_quick(data: Mapping[str, Any], quick: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(data)
    for key, value in quick.items():
        below = data.get(key)
        if key in _MERGED and isinstance(value, Mapping) and isinstance(below, Mapping):
            if key in ("priors", "targets"):  # merge each named table by its keys
                table = {k: dict(v) if isinstance(v, Mapping) else v for k, v in below.items()}
                for name, entry in value.items():
                    old = table.get(name)
                    if isinstance(old, Mapping) and isinstance(entry, Mapping):
                        table[name] = {**old, **entry}
                    else:
                        table[name] = entry
                merged[key] = table
            else:
                merged[key] = {**below, **value}
        else:
            merged[key] = value
    return merged


def _check_keys(data: Mapping[str, Any], where: str, valid: Sequence[str]) -> None:
    for key in data:
        if key not in valid:
            raise unknown_choice(f"{where}unknown key", key, valid)


def _check_tables(data: Mapping[str, Any], where: str) -> None:
    """Unknown keys inside [priors.*], [targets.*] and [schedule], named by their path."""
    for section, model in (("priors", Prior), ("targets", Target)):
        table = data.get(section)
        if isinstance(table, Mapping):
            for name, entry in table.items():
                if isinstance(entry, Mapping):
                    _check_keys(entry, f"{where}{section}.{name}: ", list(model.model_fields))
                else:
                    raise InputError(
                        f"{where}{section}.{name}={short_repr(entry)}: expected a table"
                    )
    schedule = data.get("schedule")
    if isinstance(schedule, Mapping):
        _check_keys(schedule, f"{where}schedule: ", list(Schedule.model_fields))


def _validate(data: Mapping[str, Any]) -> CalibrationSpec:
    try:
        return CalibrationSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise format_validation_error(exc, CalibrationSpec, data) from None


def spec_from_mapping(
    data: Mapping[str, Any], *, name: str, quick: bool = False, origin: str = ""
) -> CalibrationSpec:
    """Validate a parsed calibration file (``quick=True``: its ``[quick]`` variant); errors
    are one line naming the key, prefixed by ``origin``."""
    prefix = f"{origin}: " if origin else ""
    try:
        return _from_file(data, name=name, quick=quick, origin=origin)
    except InputError as exc:
        raise InputError(f"{prefix}{exc}", path=exc.path, detail=exc.detail) from None


def _from_file(data: Mapping[str, Any], *, name: str, quick: bool, origin: str) -> CalibrationSpec:
    if not isinstance(data, Mapping):
        raise InputError(f"{short_repr(data)}: expected a table of calibration keys")
    _check_keys(data, "", FILE_KEYS)
    _check_tables(data, "")
    table = data.get("quick")
    if table is not None and not isinstance(table, Mapping):
        raise InputError(f"quick={short_repr(table)}: expected a table ([quick])")
    if table is not None:
        _check_keys(table, "quick: ", [k for k in FILE_KEYS if k != "quick"])
        _check_tables(table, "quick.")
    if quick and table is None:
        raise InputError("quick: this calibration file has no [quick] table")
    body = {k: v for k, v in data.items() if k != "quick"}
    if quick:
        assert table is not None
        body = _merge_quick(body, table)
    stem = body.get("name", name)
    if isinstance(stem, str) and table is not None and len(stem) > 64 - len(QUICK_SUFFIX):
        raise InputError(
            f"name={stem!r}: expected at most {64 - len(QUICK_SUFFIX)} characters (its quick "
            f"variant is named <name>{QUICK_SUFFIX})"
        )
    body["name"] = f"{stem}{QUICK_SUFFIX}" if quick and isinstance(stem, str) else stem
    body["quick"] = quick
    body["source"] = origin
    try:
        return _validate(body)
    except InputError as exc:
        if quick and table is not None and exc.path:
            head = exc.path.split(".", 1)[0]
            rest = exc.path.split(".", 2)
            from_quick = head in table and (
                head not in ("priors", "targets", "schedule", "fixed")
                or (isinstance(table[head], Mapping) and len(rest) > 1 and rest[1] in table[head])
            )
            if from_quick:
                raise InputError(
                    f"quick.{exc}", path=f"quick.{exc.path}", detail=exc.detail
                ) from None
        raise


def is_calibration_file(path: str | Path) -> bool:
    """Whether ``path`` is a calibration file (it has a ``[priors]`` table) rather than a
    sweep file: the two kinds share ``experiments/``. A file that cannot be read is not
    one (its reader reports why)."""
    try:
        data = read_toml(path, "calibration file")
    except InputError:
        return False
    return is_calibration_data(data)


def is_calibration_data(data: Mapping[str, Any]) -> bool:
    """Whether a file's parsed contents are a calibration (a ``[priors]`` table)."""
    return isinstance(data.get("priors"), Mapping)


def load_calibration(path: str | Path, *, quick: bool = False) -> CalibrationSpec:
    """Read and validate a calibration file (``quick=True``: its ``[quick]`` variant)."""
    path = Path(path)
    data = read_toml(path, "calibration file")
    return spec_from_mapping(data, name=path.stem, quick=quick, origin=str(path))


# ---- the simulator -------------------------------------------------------------------------


def evaluation_seeds(root_seed: int, t: int, k: int) -> tuple[np.ndarray, int]:
    """Seeds of candidate ``k`` of generation ``t``: a key for NumPy's global state (pyabc's
    parameter draw) and the model run's seed (a 63-bit integer)."""
    draw = np.random.SeedSequence(root_seed, spawn_key=(1, t + 1, k, 0)).generate_state(4)
    run = np.random.SeedSequence(root_seed, spawn_key=(1, t + 1, k, 1))
    return draw, int(run.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def predictive_seed(root_seed: int, particle: int, run: int) -> int:
    """Seed of the posterior predictive's run ``run`` of particle ``particle``."""
    seq = np.random.SeedSequence(root_seed, spawn_key=(2, particle, run))
    return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def internal_names(spec: CalibrationSpec) -> dict[str, str]:
    """pyabc's parameter keys (``p00``, ``p01``, ...) -> the file's names."""
    return {f"p{i:02d}": name for i, name in enumerate(spec.parameter_names)}


def target_values(spec: CalibrationSpec, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each target's simulated value per run, from ``run_batch(...).model``."""
    runs = int(frame["run"].max()) + 1
    steps = spec.steps + 1
    out: dict[str, np.ndarray] = {}
    for name, target in spec.targets.items():
        series = frame[target.quantity].to_numpy(dtype=float).reshape(runs, steps)
        value = series[:, target.month]
        if target.relative_to is not None:
            below = series[:, target.relative_to]
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(below != 0, value / below, np.nan)
        out[name] = value
    return out


def simulate(
    spec: CalibrationSpec, values: Mapping[str, float], seeds: Sequence[int]
) -> pd.DataFrame:
    """``run_batch`` of one parameter vector (the file's names, natural units)."""
    params = spec.params_for(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_batch(params, list(seeds), spec.steps).model


_RUN_SEED: list[int] = [0]
"""The current candidate's model seed, set by :func:`_evaluate` just before pyabc calls the
model in this process (pyabc passes the model only the parameters)."""


class Simulator:
    """The model as pyabc calls it: internal parameters in, statistics out. Picklable."""

    def __init__(self, spec: CalibrationSpec) -> None:
        self.spec = spec
        self.keys = internal_names(spec)
        self.priors = dict(spec.priors)

    def natural(self, internal: Mapping[str, float]) -> dict[str, float]:
        return {
            name: self.priors[name].from_internal(float(internal[key]))
            for key, name in self.keys.items()
        }

    def __call__(self, internal: Mapping[str, float]) -> dict[str, float]:
        seed = _RUN_SEED[0]
        spec = self.spec
        run_seeds = np.random.SeedSequence(seed).generate_state(spec.replicates, np.uint64) >> 1
        seeds = [int(s) for s in run_seeds] if spec.replicates > 1 else [seed]
        frame = simulate(spec, self.natural(internal), seeds)
        values = target_values(spec, frame)
        out = {}
        for name, target in spec.targets.items():
            mean = float(np.nanmean(values[name])) if np.isfinite(values[name]).any() else math.nan
            out[name] = target.statistic(mean) if math.isfinite(mean) else 1e3
        return out


class Distance:
    """The norm of ``(s_i - o_i) / tol_i`` over the fitted targets. Picklable."""

    def __init__(self, spec: CalibrationSpec) -> None:
        self.terms = [(name, t.tolerance) for name, t in spec.fitted]
        self.norm = spec.distance

    def __call__(self, x: Mapping[str, float], x0: Mapping[str, float]) -> float:
        z = np.array([(x[n] - x0[n]) / tol for n, tol in self.terms], dtype=float)
        z = np.where(np.isfinite(z), np.abs(z), 1e6)
        if self.norm == "euclidean":
            return float(np.sqrt((z**2).sum()))
        if self.norm == "manhattan":
            return float(z.sum())
        return float(z.max())


def observed_statistics(spec: CalibrationSpec) -> dict[str, float]:
    return {name: t.statistic(t.observed) for name, t in spec.targets.items()}


# ---- the sampler ---------------------------------------------------------------------------

Mapper = Callable[[Callable[..., Any], list[Any], Any], list[Any]]
"""``map_(function, tasks, shared)``: ``function(task, shared)`` for every task, results in task
order; ``shared`` (pyabc's sampling function, or None) reaches every worker once per call."""

_SHARED: list[Any] = [None]
"""What a forked worker reads as ``shared`` (set in the parent before the pool forks)."""


def _evaluate(task: tuple[int, int, int, int], shared: Any = None) -> list[tuple[int, Any]]:
    """Evaluate candidates ``first .. first + count - 1`` of generation ``t`` with pyabc's
    sampling function ``shared`` (in a forked worker: the one its parent set)."""
    root_seed, t, first, count = task
    simulate_one = _SHARED[0] if shared is None else shared
    out = []
    for k in range(first, first + count):
        draw, run = evaluation_seeds(root_seed, t, k)
        np.random.seed(draw)  # noqa: NPY002 (pyabc draws proposals from the global state)
        _RUN_SEED[0] = run
        out.append((k, simulate_one()))
    return out


class BatchSampler:
    """A pyabc sampler whose generations do not depend on where candidates run (see the
    module docstring). ``mapper(function, tasks)`` returns the results in task order."""

    def __init__(
        self, root_seed: int, batch: int, mapper: Mapper, workers: int, progress: bool = False
    ) -> None:
        from pyabc.sampler import Sampler

        # pyabc's metaclass wraps sample_until_n_accepted with its checks: build the class
        # here so that importing this module does not import pyabc
        self._impl: Any = _sampler_class(Sampler)(root_seed, batch, mapper, workers, progress)

    @property
    def impl(self) -> Any:
        return self._impl


@cache
def _sampler_class(base: type) -> type:
    class _Batch(base):
        def __init__(
            self, root_seed: int, batch: int, mapper: Mapper, workers: int, progress: bool
        ) -> None:
            super().__init__()
            self.progress = progress
            self.root_seed = root_seed
            self.batch = batch
            self.mapper = mapper
            self.workers = workers
            self.computed_ = 0

        def sample_until_n_accepted(
            self,
            n: int,
            simulate_one: Callable[[], Any],
            t: int,
            *,
            max_eval: float = np.inf,
            all_accepted: bool = False,
            ana_vars: Any = None,
        ) -> Any:
            started = time.monotonic()
            sample = self._create_empty_sample()
            accepted = 0
            k0 = 0
            used = 0
            self.computed_ = 0
            while accepted < n and k0 < max_eval:
                size = (
                    int(min(self.batch, max_eval - k0)) if math.isfinite(max_eval) else self.batch
                )
                parts = max(1, min(size, 4 * self.workers))
                edges = np.linspace(k0, k0 + size, parts + 1).astype(int)
                tasks = [
                    (self.root_seed, t, int(a), int(b - a))
                    for a, b in itertools.pairwise(edges)
                    if b > a
                ]
                chunks = self.mapper(_evaluate, tasks, simulate_one)
                results = [item for chunk in chunks for item in chunk]
                results.sort(key=lambda item: item[0])
                self.computed_ += len(results)
                for k, particle in results:
                    sample.append(particle)
                    used = k + 1
                    if particle.accepted:
                        accepted += 1
                        if accepted == n:
                            break
                k0 += size
            # as a serial sampler: the candidates up to the n-th accepted one
            self.nr_evaluations_ = used
            if accepted < n:
                sample.ok = False
            if self.progress:
                print(
                    f"  generation {t}: {accepted} accepted of {used} candidates "
                    f"({self.computed_} run) in {time.monotonic() - started:.1f} s",
                    file=sys.stderr,
                )
            return sample

    return _Batch


def _close_descriptors(fds: tuple[int, ...]) -> None:
    """In a forked worker: close what must die with the parent (its lock)."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


@contextlib.contextmanager
def mapper(
    backend: str,
    workers: int,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
    close: tuple[int, ...] = (),
) -> Iterator[Mapper]:
    """A ``map`` over tasks: in this process (``local``, one worker), a process pool
    (``local``; forked workers close the descriptors ``close``, the directory's lock) or a
    Dask cluster (``dask``: ``scheduler``, or a ``LocalCluster`` of ``workers``
    single-threaded processes)."""
    from sim.experiments.runners import dask_client

    fork = "fork" in multiprocessing.get_all_start_methods()
    if backend == "local" and (workers == 1 or not fork):

        def serial(fn: Callable[..., Any], tasks: list[Any], shared: Any) -> list[Any]:
            return [fn(t, shared) for t in tasks]

        yield serial
        return
    if backend == "local":

        def forked(fn: Callable[..., Any], tasks: list[Any], shared: Any) -> list[Any]:
            # a pool per call, forked after ``shared`` is set: the workers inherit it, so
            # nothing of pyabc's has to be serialized here
            _SHARED[0] = shared
            try:
                with futures.ProcessPoolExecutor(
                    min(workers, max(len(tasks), 1)),
                    mp_context=multiprocessing.get_context("fork"),
                    initializer=_close_descriptors,
                    initargs=(close,),
                ) as pool:
                    return list(pool.map(fn, tasks))
            finally:
                _SHARED[0] = None

        yield forked
        return
    with dask_client(workers, scheduler, connect_timeout) as client:

        def dask_map(fn: Callable[..., Any], tasks: list[Any], shared: Any) -> list[Any]:
            # Dask serializes ``shared`` (with cloudpickle) and sends it to each worker once
            common = None if shared is None else client.scatter(shared, broadcast=True, hash=False)
            futures_ = client.map(fn, tasks, shared=common, pure=False)
            return list(client.gather(futures_))

        yield dask_map


# ---- provenance ----------------------------------------------------------------------------


@cache
def code_fingerprint() -> str:
    """The store's fingerprint of the model code (:func:`sim.experiments.provenance.
    code_fingerprint`: every source and scenario of the package and the versions of the
    packages that change results) joined with pyabc's version: what a resumed calibration
    must run with."""
    import pyabc

    from sim.experiments import provenance

    text = f"{provenance.code_fingerprint()}\0pyabc=={pyabc.__version__}"
    return hashlib.sha256(text.encode()).hexdigest()


class CalibrationError(Exception):
    """A failure while calibrating (exit code 1 on the command line)."""


@dataclass(frozen=True)
class CalibrationResult:
    name: str
    directory: Path
    generations: int
    evaluations: int
    elapsed: float
    resumed_from: int

    def summary(self) -> str:
        how = f", resumed after generation {self.resumed_from - 1}" if self.resumed_from else ""
        return (
            f"{self.name}: {self.generations} generations, {self.evaluations} model evaluations "
            f"in {self.elapsed:.1f} s{how} -> {self.directory}"
        )


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    """A calibration's ``manifest.json`` (None when there is none); :class:`StoreError` when
    it is not a JSON object with the fields a calibration's manifest has."""
    from sim.experiments.store import StoreError

    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise StoreError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: unreadable manifest (not a JSON object)")
    return data


def _open_directory(spec: CalibrationSpec, directory: Path, force: bool) -> dict[str, Any] | None:
    """The manifest of a resumable run of ``spec`` in ``directory`` (None: start afresh).
    Refuses another definition, another code version or a directory that holds something
    else unless ``force`` (which clears what a calibration writes, nothing else)."""
    from sim.experiments.store import StoreError

    existing = _read_manifest(directory) if directory.is_dir() else None
    database = directory / DATABASE
    hint = "use another --out, or --force to start again"
    if existing is None:
        if database.exists() and not force:
            raise StoreError(f"--out {directory}: holds {DATABASE} without a {MANIFEST}; {hint}")
        return None
    reasons = []
    if existing.get("kind") != "calibration":
        reasons.append("results that are not a calibration")
    elif existing.get("calibration_sha256") != spec.fingerprint():
        reasons.append(f"a different calibration definition ({existing.get('name')!r})")
    elif existing.get("code_sha256") != code_fingerprint():
        reasons.append("a calibration run with another version of the code")
    if reasons:
        if not force or existing.get("kind") != "calibration":
            raise StoreError(f"--out {directory}: holds {reasons[0]}; {hint}")
        return None
    return existing


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[int]:
    """One writer per directory, as the store has it: an exclusive ``flock`` on
    ``<directory>/.lock`` held to the end (the kernel drops it when the process exits, however
    it exits); a second calibration on a locked directory is refused, naming the holder.
    Yields the lock's descriptor (forked workers close it)."""
    import errno
    import fcntl

    from sim.experiments.store import LOCK, StoreError, _lock_holder

    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = _lock_holder(fd) if exc.errno in (errno.EAGAIN, errno.EACCES) else None
        os.close(fd)
        who = f"PID {holder}" if holder else "another process"
        raise StoreError(
            f"--out {directory}: in use by another calibration ({who} holds its lock); wait "
            "for it to finish, stop it, or use another --out"
        ) from None
    try:
        yield fd
    finally:
        os.close(fd)


def _clear(directory: Path) -> None:
    for name in (MANIFEST, DATABASE, POSTERIOR, PREDICTIVE, PATHS, SUMMARY, SCENARIO):
        (directory / name).unlink(missing_ok=True)
    for name in ("posterior.png", "predictive.png"):
        (directory / "figures" / name).unlink(missing_ok=True)


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    from sim.experiments.store import atomic_write_text

    atomic_write_text(directory / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def _environment() -> dict[str, Any]:
    import pyabc

    from sim.experiments.provenance import environment

    return {**environment(), "pyabc": pyabc.__version__}


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


# ---- running -------------------------------------------------------------------------------


def _abc(spec: CalibrationSpec, sampler: Any, *, resuming: bool = False) -> Any:
    """pyabc's ABC-SMC for ``spec``. Generation 0 accepts every prior draw (epsilon infinite);
    each later epsilon is the ``quantile`` of the previous generation's weighted distances.
    Resuming, the first epsilon is computed from the last stored generation the same way
    (pyabc would otherwise start the resumed run from the initial epsilon again)."""
    import pyabc

    keys = internal_names(spec)
    priors = dict(spec.priors)
    prior = pyabc.Distribution(
        **{
            key: pyabc.RV("uniform", lo, hi - lo)
            for key, (lo, hi) in ((k, priors[n].internal_bounds) for k, n in keys.items())
        }
    )
    return pyabc.ABCSMC(
        Simulator(spec),
        prior,
        Distance(spec),
        population_size=spec.schedule.population,
        sampler=sampler,
        eps=pyabc.QuantileEpsilon(
            initial_epsilon="from_sample" if resuming else np.inf, alpha=spec.schedule.quantile
        ),
        transitions=pyabc.MultivariateNormalTransition(),
    )


def _history_generations(history: Any) -> list[dict[str, Any]]:
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    particles = history.get_nr_particles_per_population()  # one query, not one a generation
    return [
        {
            "t": int(row.t),
            "epsilon": float(row.epsilon),
            "evaluations": int(row.samples),
            "acceptance_rate": round(float(particles[row.t]) / max(int(row.samples), 1), 6),
        }
        for row in pops.itertuples()
    ]


def run_calibration(
    spec: CalibrationSpec,
    directory: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    connect_timeout: float = 10.0,
    progress: bool = True,
    stop_after: int | None = None,
) -> CalibrationResult:
    """Run (or resume) ``spec`` into ``directory`` and write its outputs. ``stop_after``
    stops after that many generations of this invocation, leaving the run resumable (tests
    of resuming use it)."""
    import pyabc

    from sim.experiments import runners
    from sim.experiments.store import check_writable

    started = time.monotonic()
    cpu_started = _cpu_seconds()
    runners.check_options(backend, workers, scheduler)
    directory = Path(directory)
    check_writable(directory, "--out")
    n_workers = workers or runners.default_workers()
    database = directory / DATABASE
    directory.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{database.resolve()}"
    with _locked(directory) as lock_fd:
        existing = _open_directory(spec, directory, force)
        with (
            mapper(backend, n_workers, scheduler, connect_timeout, close=(lock_fd,)) as map_,
            _quiet_pyabc(),
        ):
            if existing is None:
                _clear(directory)
            manifest = _begin_manifest(spec, existing, backend, n_workers)
            manifest["invocations"][-1]["load_average_at_start"] = [
                round(x, 2) for x in os.getloadavg()
            ]
            if manifest["status"] == "complete" and _outputs_intact(directory, manifest):
                manifest["invocations"].pop()
                if progress:
                    print(f"{spec.name}: already complete in {directory}", file=sys.stderr)
                return CalibrationResult(
                    spec.name,
                    directory,
                    len(manifest["generations"]),
                    sum(g["evaluations"] for g in manifest["generations"]),
                    0.0,
                    len(manifest["generations"]),
                )
            _write_manifest(directory, manifest)
            sampler = BatchSampler(
                spec.root_seed, spec.schedule.round_size, map_, n_workers, progress
            ).impl
            stored = -1
            resumable = False
            if existing is not None and database.exists():
                stored_history = pyabc.History(db_url, _id=1)
                resumable = bool(stored_history.all_runs())
                if resumable:
                    stored = stored_history.max_t
            abc = _abc(spec, sampler, resuming=stored >= 0)
            if resumable:
                abc.load(db_url, 1)
                done = abc.history.max_t + 1
            else:
                database.unlink(missing_ok=True)
                abc.new(db_url, observed_statistics(spec))
                done = 0
            remaining = spec.schedule.generations - done
            if stop_after is not None:
                remaining = min(remaining, stop_after)
            if remaining > 0 and manifest["status"] != "complete":
                _announce(progress, spec, done)
                with warnings.catch_warnings():
                    # generation 0's epsilon is infinite: pyabc's check of its change computes
                    # inf - inf
                    warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
                    try:
                        abc.run(
                            minimum_epsilon=spec.schedule.min_epsilon,
                            max_nr_populations=remaining,
                            min_acceptance_rate=spec.schedule.min_acceptance,
                        )
                    except Exception as exc:  # a failure while running, not bad input
                        raise CalibrationError(
                            f"calibration {spec.name!r} failed: {type(exc).__name__}: {exc}; "
                            "the generations done are kept, re-run the command to resume"
                        ) from exc
            generations = _history_generations(abc.history)
            ran = len(generations) - done
            manifest["generations"] = generations
            manifest["invocations"][-1]["resumed_after_generation"] = done - 1
            manifest["invocations"][-1]["generations_run"] = ran
            # finished: every generation done, or pyabc stopped early (epsilon or acceptance)
            finished = len(generations) >= spec.schedule.generations or ran < remaining
            if manifest["status"] == "complete" or (finished and generations):
                posterior = posterior_frame(spec, abc.history)
                _write_outputs(spec, directory, posterior, map_, manifest)
                manifest["status"] = "complete"
                manifest["finished"] = _now()
            elapsed = time.monotonic() - started
            manifest["invocations"][-1]["elapsed_seconds"] = round(elapsed, 3)
            _write_manifest(directory, manifest)
        # after the pool's workers are reaped: their CPU time counts among the children's
        manifest["invocations"][-1]["cpu_seconds"] = round(_cpu_seconds() - cpu_started, 3)
        manifest["invocations"][-1]["load_average"] = [round(x, 2) for x in os.getloadavg()]
        _write_manifest(directory, manifest)
    evaluations = sum(g["evaluations"] for g in manifest["generations"])
    return CalibrationResult(
        spec.name, directory, len(manifest["generations"]), evaluations, elapsed, done
    )


def _cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (a local pool's workers)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _outputs_intact(directory: Path, manifest: Mapping[str, Any]) -> bool:
    from sim.experiments.store import sha256_file

    outputs = manifest.get("outputs") or {}
    return bool(outputs) and all(
        (directory / name).is_file() and sha256_file(directory / name) == digest
        for name, digest in outputs.items()
    )


def _announce(progress: bool, spec: CalibrationSpec, done: int) -> None:
    if progress:
        what = f"resuming after generation {done - 1}" if done else "starting"
        print(
            f"{spec.name}: {what}; {spec.schedule.generations} generations of "
            f"{spec.schedule.population} particles",
            file=sys.stderr,
        )


@contextlib.contextmanager
def _quiet_pyabc() -> Iterator[None]:
    """pyabc logs at INFO through loggers named ``ABC...``; the sampler reports progress."""
    logger = logging.getLogger("ABC")
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _begin_manifest(
    spec: CalibrationSpec, existing: dict[str, Any] | None, backend: str, workers: int
) -> dict[str, Any]:
    previous = existing or {}
    return {
        "format_version": FORMAT_VERSION,
        "kind": "calibration",
        "name": spec.name,
        "description": spec.description,
        "source": spec.source,
        "status": previous.get("status", "running"),
        "created": previous.get("created", _now()),
        "finished": previous.get("finished"),
        "calibration_sha256": spec.fingerprint(),
        "code_sha256": code_fingerprint(),
        "definition": spec.definition(),
        "root_seed": spec.root_seed,
        "environment": _environment(),
        "invocations": [
            *previous.get("invocations", []),
            {"started": _now(), "backend": backend, "workers": workers},
        ],
        "generations": previous.get("generations", []),
        "outputs": previous.get("outputs", {}),
    }


# ---- outputs -------------------------------------------------------------------------------


def posterior_frame(spec: CalibrationSpec, history: Any) -> pd.DataFrame:
    """The last generation: one row per particle, the parameters (natural units, the file's
    names, in file order) and ``weight`` (summing to one)."""
    frame, weights = history.get_distribution(m=0, t=history.max_t)
    keys = internal_names(spec)
    priors = dict(spec.priors)
    out = pd.DataFrame(
        {
            name: [priors[name].from_internal(float(v)) for v in frame[key].to_numpy()]
            for key, name in keys.items()
        }
    )
    w = np.asarray(weights, dtype=float)
    out["weight"] = w / w.sum()
    return out


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of the weighted sample: the inverse of its weighted empirical CDF with
    linear interpolation between the midpoints of the sorted values' weights (ordered in q,
    and within the sample's range). Non-finite values are dropped."""
    keep = np.isfinite(values) & (weights > 0)
    x = values[keep]
    w = weights[keep]
    if x.size == 0:
        return np.full(len(qs), np.nan)
    order = np.argsort(x, kind="stable")
    x = x[order]
    w = w[order] / w.sum()
    mid = np.cumsum(w) - 0.5 * w
    return np.interp(np.asarray(qs, dtype=float), mid, x)


def _predictive_task(
    task: tuple[CalibrationSpec, int, dict[str, float], int], shared: Any = None
) -> tuple[int, pd.DataFrame]:
    spec, particle, values, runs = task
    seeds = [predictive_seed(spec.root_seed, particle, r) for r in range(runs)]
    return particle, simulate(spec, values, seeds)


def posterior_predictive(
    spec: CalibrationSpec, posterior: pd.DataFrame, map_: Mapper
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fresh runs of every particle: the targets' weighted quantiles (``target, month,
    observed, q05, q50, q95`` and more) and those of each targeted output by month."""
    names = list(spec.parameter_names)
    runs = spec.schedule.predictive_runs
    tasks = [
        (spec, i, {n: float(row[n]) for n in names}, runs)
        for i, row in enumerate(posterior.to_dict("records"))
    ]
    results = sorted(map_(_predictive_task, tasks, None), key=lambda item: item[0])
    weights = np.repeat(posterior["weight"].to_numpy(dtype=float) / runs, runs)
    frames = [frame.assign(run=frame["run"] + i * runs) for i, frame in results]
    frame = pd.concat(frames, ignore_index=True)
    values = target_values(spec, frame)
    rows = []
    for name, target in spec.targets.items():
        q = weighted_quantiles(values[name], weights, QUANTILES)
        slack = 1e-9 * max(abs(target.observed), 1e-12)  # exact targets: rounding only
        inside = bool(q[0] - slack <= target.observed <= q[2] + slack)
        rows.append(
            {
                "target": name,
                "quantity": target.quantity,
                "month": target.month,
                "relative_to": -1 if target.relative_to is None else target.relative_to,
                "observed": target.observed,
                "q05": q[0],
                "q50": q[1],
                "q95": q[2],
                "fit": target.fit,
                "covered": inside,
            }
        )
    predictive = pd.DataFrame(rows)
    quantities = sorted({t.quantity for t in spec.targets.values()})
    steps = spec.steps + 1
    path_rows = []
    for quantity in quantities:
        series = frame[quantity].to_numpy(dtype=float).reshape(-1, steps)
        for month in range(steps):
            q = weighted_quantiles(series[:, month], weights, QUANTILES)
            path_rows.append(
                {"quantity": quantity, "month": month, "q05": q[0], "q50": q[1], "q95": q[2]}
            )
    return predictive, pd.DataFrame(path_rows)


def posterior_summary(spec: CalibrationSpec, posterior: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: prior range and scale, weighted median and 90% interval, and the
    contraction ``1 - var_post / var_prior`` (in the space the prior is uniform in)."""
    weights = posterior["weight"].to_numpy(dtype=float)
    rows = []
    for name, prior in spec.priors.items():
        x = posterior[name].to_numpy(dtype=float)
        q = weighted_quantiles(x, weights, QUANTILES)
        internal = np.log(x) if prior.scale == "log" else x
        lo, hi = prior.internal_bounds
        var_prior = (hi - lo) ** 2 / 12.0
        mean = float(np.sum(weights * internal))
        var_post = float(np.sum(weights * (internal - mean) ** 2))
        rows.append(
            {
                "parameter": name,
                "low": prior.low,
                "high": prior.high,
                "scale": prior.scale,
                "q05": q[0],
                "median": q[1],
                "q95": q[2],
                "contraction": 1.0 - var_post / var_prior,
            }
        )
    return pd.DataFrame(rows)


def representative(spec: CalibrationSpec, posterior: pd.DataFrame) -> pd.Series:
    """The particle nearest the weighted marginal medians, in units of the prior's width (in
    the space each prior is uniform in): a real joint draw of the posterior, central in every
    marginal. The vector of medians itself need not lie on the posterior's ridge when
    parameters trade off against one another."""
    weights = posterior["weight"].to_numpy(dtype=float)
    score = np.zeros(len(posterior))
    for name, prior in spec.priors.items():
        x = posterior[name].to_numpy(dtype=float)
        internal = np.log(x) if prior.scale == "log" else x
        lo, hi = prior.internal_bounds
        median = weighted_quantiles(internal, weights, [0.5])[0]
        score += ((internal - median) / (hi - lo)) ** 2
    return posterior.iloc[int(np.argmin(score))]


def _month_zero(base: str, prefix: str = "") -> str:
    """``prefix + "month 0 = January 2024"`` for a dated base scenario (its ``start_month``),
    ``""`` for an undated one."""
    start = _scenario(base).start_month
    if not start:
        return ""
    year, month = (int(x) for x in start.split("-"))
    return f"{prefix}month 0 = {calendar.month_name[month]} {year}"


def scenario_text(
    spec: CalibrationSpec, posterior: pd.DataFrame, manifest: Mapping[str, Any]
) -> str:
    """A scenario file (``base`` = the calibration's base) setting ``[fixed]`` and the
    representative particle's values; values of an event go in an event at the same month
    (applied after the base's, so it overrides them)."""
    chosen = representative(spec, posterior)
    values: dict[str, Any] = {**dict(spec.fixed)}
    for name in spec.parameter_names:
        values[name] = float(f"{float(chosen[name]):.6g}")
    env = manifest.get("environment", {})
    lines = [
        f"# Calibrated to the dated facts: calibration {spec.name!r} ({spec.source or 'file'}),",
        f"# root seed {spec.root_seed}, {len(manifest.get('generations', []))} generations of "
        f"{spec.schedule.population} particles,",
        f"# definition sha256 {spec.fingerprint()[:16]}, code sha256 {code_fingerprint()[:16]}, "
        f"git {str(env.get('git_commit'))[:12]}.",
        "# Values: the posterior particle nearest the weighted marginal medians (a real joint "
        "draw;",
        f"# see docs/calibration.md){_month_zero(spec.base, '; ')}.",
        f'description = "Calibrated: {spec.base} with the posterior of {spec.name} '
        '(ABC-SMC, docs/calibration.md)"',
        f'base = "{spec.base}"',
    ]
    scalars: dict[str, Any] = {}
    owned: dict[str, dict[str, Any]] = {}
    network: dict[str, Any] = {}
    dated: dict[int, dict[str, Any]] = {}
    base = _scenario(spec.base)
    providers = {p.name for p in base.providers}
    for name, value in values.items():
        event = _event_key(name)
        if event is not None:
            dated.setdefault(event[0], {})[event[1]] = value
        elif "." not in name:
            scalars[name] = value
        else:
            owner, field = name.split(".", 1)
            if owner == "network":
                network[field] = value
            else:
                owned.setdefault(owner, {})[field] = value
    for name, value in scalars.items():
        lines.append(f"{name} = {_toml(value)}")
    if network:
        lines += ["", "[network]", *(f"{k} = {_toml(v)}" for k, v in network.items())]
    for owner, fields in owned.items():
        table = "providers" if owner in providers else "segments"
        lines += ["", f"[[{table}]]", f'name = "{owner}"']
        lines += [f"{k} = {_toml(v)}" for k, v in fields.items()]
    for month, fields in sorted(dated.items()):
        label = next((e.label for e in base.events if e.month == month and e.label), "")
        pairs = ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in fields.items())
        lines += ["", "[[events]]", f"month = {month}", f'label = "{label} (calibrated)"']
        lines.append(f"set = {{ {pairs} }}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _toml_key(key: str) -> str:
    return json.dumps(key) if "." in key or "-" in key else key


def _write_outputs(
    spec: CalibrationSpec,
    directory: Path,
    posterior: pd.DataFrame,
    map_: Mapper,
    manifest: dict[str, Any],
) -> None:
    from sim.experiments.store import atomic_write_text, sha256_file, write_parquet

    predictive, paths = posterior_predictive(spec, posterior, map_)
    summary = posterior_summary(spec, posterior)
    write_parquet(directory / POSTERIOR, posterior)
    write_parquet(directory / PREDICTIVE, predictive)
    write_parquet(directory / PATHS, paths)
    atomic_write_text(directory / SUMMARY, summary.to_csv(index=False))
    atomic_write_text(directory / SCENARIO, scenario_text(spec, posterior, manifest))
    figures = directory / "figures"
    figures.mkdir(exist_ok=True)
    from sim.calibration.figures import posterior_figure, predictive_figure

    posterior_figure(spec, posterior, figures / "posterior.png")
    predictive_figure(spec, predictive, paths, figures / "predictive.png")
    manifest["outputs"] = {
        name: sha256_file(directory / name)
        for name in (POSTERIOR, PREDICTIVE, PATHS, SUMMARY, SCENARIO)
    }
    manifest["coverage"] = {row.target: bool(row.covered) for row in predictive.itertuples()}
