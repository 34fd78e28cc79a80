r"""Threshold search: bisection on one parameter for where a boolean outcome flips.

A run's outcome is boolean (the sweep's ``outcome``: every condition on a stored column holds
at the horizon, e.g. ``partner-cloud/strategy = 'restrict'``). Runs are stochastic, so at a
parameter value ``x`` the outcome is a *share* of seeds, an estimate of ``p(x)``; the
threshold is where ``p`` crosses a ``level`` (one half unless stated). The search assumes
``p`` is monotone on ``[low, high]`` and does not know its direction:

* round 0 runs ``replicates`` seeds at each end of the range. When both shares lie on the same
  side of the level there is no crossing in the range, and the search stops and says so;
* round ``r >= 1`` runs ``replicates`` seeds at the bracket's midpoint (the geometric mean with
  ``scale = "log"``; whole-number parameters rounded, stopping once the bracket holds two
  neighbouring integers) and keeps the half whose ends' shares lie on opposite sides
  (a share equal to the level counts as at or above it).

After ``R`` rounds the bisection bracket is ``2^-R`` of the range. Each decision is itself
noisy: a probe whose share is within sampling error of the level may send the search into the
wrong half. So the result also states

* each probe's share with its Wilson 95 % interval (Wilson 1927) and whether that interval
  excludes the level (a *confident* probe);
* the *confident bracket*: between the nearest confident probes on either side of the
  crossing, which holds the threshold when ``p`` is monotone and those intervals hold;
* a logistic fit of all probes, ``logit p(x) = a + b t`` (``t = x``, or ``log x`` with
  ``scale = "log"``) by maximum likelihood, and the threshold ``t* = (logit(level) - a) / b``
  with a 95 % delta-method interval from the Fisher information; omitted when the probes are
  separable (every share 0 or 1), where the maximum-likelihood slope is infinite.

Storage: round ``r`` is an ordinary grid sweep (kind ``generic``, sampler ``grid``, the
probe's value as its one point) run with :func:`sim.experiments.sweep.run_sweep` into
``<dir>/rounds/r<r>`` (``load`` reads it like any sweep), its ``root_seed`` the ``r``-th of
``SeedSequence(root_seed).spawn(MAX_ROUNDS + 1)`` children, so a search is reproducible, a
re-run resumes round by round (finished rounds are not run again), and more rounds extend a
search in the same directory (``rounds`` is left out when comparing the stored definition)
without re-running the first ones. ``<dir>/threshold.json`` records the definition,
every probe and the brackets; ``<dir>/threshold.csv`` the probes as a table.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from sim.experiments.spec import MAX_ROUNDS, SweepSpec, spec_from_mapping
from sim.experiments.store import StoreError, atomic_write_text, check_writable, load
from sim.experiments.sweep import run_sweep

SUMMARY = "threshold.json"
TABLE = "threshold.csv"
ROUNDS = "rounds"
FORMAT_VERSION = 1
Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (Wilson 1927)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Probe:
    """One evaluated value: ``successes`` of ``runs`` seeds had the outcome."""

    round: int
    value: float
    runs: int
    successes: int

    @property
    def share(self) -> float:
        return self.successes / self.runs

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95 % interval of the share."""
        return wilson(self.successes, self.runs)

    def above(self, level: float) -> bool:
        """Whether the share is at or above ``level`` (the side the bisection uses)."""
        return self.share >= level

    def confident(self, level: float) -> bool:
        """Whether the Wilson 95 % interval excludes ``level``."""
        low, high = self.interval
        return low > level or high < level


@dataclass(frozen=True)
class ThresholdResult:
    """The outcome of a search (see the module docstring). Values are the parameter's.

    ``crossing``: whether the ends' shares lie on opposite sides of the level. ``bracket``:
    the bisection's last bracket (None without a crossing). ``confident_bracket``: between the
    nearest confident probes on either side (an end of the range stands in, flagged by
    ``confident_ends``, where no probe on that side is confident). ``estimate`` and
    ``estimate_interval``: the logistic fit's crossing and its 95 % interval (None when the
    probes are separable or the fit's slope is not distinguishable from zero)."""

    name: str
    parameter: str
    level: float
    outcome: str
    low: float
    high: float
    probes: tuple[Probe, ...]
    crossing: bool
    increasing: bool | None
    bracket: tuple[float, float] | None
    confident_bracket: tuple[float, float] | None
    confident_ends: tuple[bool, bool] = (False, False)
    estimate: float | None = None
    estimate_interval: tuple[float, float] | None = None
    directory: Path | None = field(default=None, compare=False)

    def summary(self) -> str:
        """One line: the bracket, the confident bracket and the fit, or "no crossing"."""
        runs = sum(p.runs for p in self.probes)
        head = f"{self.name}: {self.parameter}, share with {self.outcome} crossing {self.level:g}"
        if not self.crossing:
            shares = ", ".join(f"{p.share:.2f} at {p.value:g}" for p in self.probes[:2])
            return f"{head}: no crossing in [{self.low:g}, {self.high:g}] ({shares}; {runs} runs)"
        assert self.bracket is not None
        text = f"{head}: bisection bracket [{self.bracket[0]:.4g}, {self.bracket[1]:.4g}]"
        if self.confident_bracket is not None:
            lo, hi = self.confident_bracket
            text += f", 95 % bracket [{lo:.4g}, {hi:.4g}]"
        if self.estimate is not None and self.estimate_interval is not None:
            lo, hi = self.estimate_interval
            text += f", logistic fit {self.estimate:.4g} [{lo:.4g}, {hi:.4g}]"
        return f"{text} ({len(self.probes)} probes, {runs} runs)"

    def table(self) -> pd.DataFrame:
        """One row per probe: round, value, runs, successes, share, Wilson bounds, and whether
        the interval excludes the level."""
        rows = []
        for p in self.probes:
            low, high = p.interval
            rows.append(
                {
                    "round": p.round,
                    "value": p.value,
                    "runs": p.runs,
                    "successes": p.successes,
                    "share": p.share,
                    "wilson_low": low,
                    "wilson_high": high,
                    "confident": p.confident(self.level),
                }
            )
        return pd.DataFrame(rows)

    def record(self) -> dict[str, Any]:
        """JSON-ready form (written as ``threshold.json``)."""
        out = asdict(self)
        out.pop("directory")
        out["probes"] = [asdict(p) for p in self.probes]
        return dict(json.loads(json.dumps(out)))


def round_seed(spec: SweepSpec, round_index: int) -> int:
    """Root seed of round ``round_index``: a 63-bit integer from the ``round_index``-th of
    ``SeedSequence(root_seed).spawn(MAX_ROUNDS + 1)`` (a fixed count, so a round's seeds do
    not depend on how many rounds the search has)."""
    child = np.random.SeedSequence(spec.root_seed).spawn(MAX_ROUNDS + 1)[round_index]
    return int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))


def round_spec(spec: SweepSpec, round_index: int, values: list[float]) -> SweepSpec:
    """Round ``round_index`` as an ordinary grid sweep over ``values`` of the one parameter."""
    dim = spec.parameters[0]
    data: dict[str, Any] = {
        "name": f"{spec.name[: 64 - 4]}-r{round_index:02d}",
        "description": f"round {round_index} of the threshold search {spec.name}",
        "kind": "generic",
        "base": spec.base,
        "sampler": "grid",
        "replicates": spec.replicates,
        "replicates_per_unit": spec.replicates_per_unit,
        "steps": spec.steps,
        "record": spec.record,
        "providers": spec.providers,
        "segments": spec.segments,
        "root_seed": round_seed(spec, round_index),
        "fixed": dict(spec.fixed),
        "parameters": {dim.name: {"values": list(values)}},
    }
    return spec_from_mapping(data, name=data["name"], origin=spec.source, allow_large=True)


def outcome_shares(spec: SweepSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Per point of a round's frame: the parameter's value, runs and runs with the outcome
    (every condition holding at the last recorded step)."""
    final = frame[frame["step"] == frame["step"].max()]
    holds = np.ones(len(final), dtype=bool)
    for condition in spec.outcome:
        holds &= condition.holds(final[condition.column].to_numpy())
    name = spec.parameters[0].name
    per_point = pd.DataFrame(
        {"point_id": final["point_id"].to_numpy(), "value": final[name], "holds": holds}
    )
    return (
        per_point.groupby("point_id")
        .agg(value=("value", "first"), runs=("holds", "size"), successes=("holds", "sum"))
        .reset_index()
    )


def _midpoint(spec: SweepSpec, a: float, b: float, whole: bool) -> float | None:
    """The bracket's midpoint (geometric with a log scale), or None when a whole-number
    parameter's bracket cannot be split."""
    mid = math.sqrt(a * b) if spec.parameters[0].scale == "log" else (a + b) / 2
    if whole:
        mid = float(round(mid))
        if mid in (a, b):
            return None
    return mid


def _transform(spec: SweepSpec, x: np.ndarray) -> np.ndarray:
    return np.log(x) if spec.parameters[0].scale == "log" else x


def logistic_crossing(
    t: np.ndarray, successes: np.ndarray, runs: np.ndarray, level: float
) -> tuple[float, float] | None:
    """Maximum-likelihood logistic fit ``logit p = a + b t`` of binomial counts; returns the
    crossing ``t*`` of ``level`` and its delta-method standard error, or None when the counts
    are separable or the slope's 95 % interval includes 0."""
    shares = successes / runs
    if np.all((shares == 0) | (shares == 1)) or len(t) < 2:
        return None
    centre, scale = float(np.mean(t)), float(np.std(t)) or 1.0
    u = (t - centre) / scale

    def nll(theta: np.ndarray) -> float:
        eta = theta[0] + theta[1] * u
        return float(np.sum(runs * np.logaddexp(0, eta) - successes * eta))

    def grad(theta: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(theta[0] + theta[1] * u)))
        r = runs * p - successes
        return np.array([r.sum(), (r * u).sum()])

    fit = optimize.minimize(nll, np.zeros(2), jac=grad, method="BFGS")
    a, b = fit.x
    p = 1 / (1 + np.exp(-(a + b * u)))
    w = runs * p * (1 - p)
    info = np.array([[w.sum(), (w * u).sum()], [(w * u).sum(), (w * u * u).sum()]])
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(cov)) or abs(b) <= Z95 * math.sqrt(max(cov[1, 1], 0.0)):
        return None
    target = math.log(level / (1 - level))
    u_star = (target - a) / b
    gradient = np.array([-1 / b, -(target - a) / b**2])
    se_u = math.sqrt(float(gradient @ cov @ gradient))
    return centre + scale * u_star, scale * se_u


def summarize(
    spec: SweepSpec, probes: list[Probe], directory: Path | None = None
) -> ThresholdResult:
    """The result of a search from its probes (round 0's two ends first)."""
    dim = spec.parameters[0]
    assert dim.range is not None
    low, high = dim.range
    level = spec.bisect_level
    outcome = " and ".join(c.text() for c in spec.outcome)
    ends = probes[:2]
    crossing = ends[0].above(level) != ends[1].above(level)
    common: dict[str, Any] = {
        "name": spec.name,
        "parameter": dim.name,
        "level": level,
        "outcome": outcome,
        "low": low,
        "high": high,
        "probes": tuple(probes),
        "directory": directory,
    }
    if not crossing:
        return ThresholdResult(
            **common, crossing=False, increasing=None, bracket=None, confident_bracket=None
        )
    low_side = ends[0].above(level)
    a, b = low, high
    for probe in probes[2:]:
        if probe.above(level) == low_side:
            a = max(a, probe.value)
        else:
            b = min(b, probe.value)
    sure_low = [p.value for p in probes if p.confident(level) and p.above(level) == low_side]
    sure_high = [p.value for p in probes if p.confident(level) and p.above(level) != low_side]
    confident = (
        max(sure_low) if sure_low else low,
        min(sure_high) if sure_high else high,
    )
    if confident[0] > confident[1]:  # confident probes contradict monotonicity
        confident_bracket = None
    else:
        confident_bracket = confident
    values = np.array([p.value for p in probes], dtype=float)
    fit = logistic_crossing(
        _transform(spec, values),
        np.array([p.successes for p in probes], dtype=float),
        np.array([p.runs for p in probes], dtype=float),
        level,
    )
    estimate = interval = None
    if fit is not None:
        t_star, se = fit
        lo_t, hi_t = t_star - Z95 * se, t_star + Z95 * se
        if dim.scale == "log":
            estimate, interval = math.exp(t_star), (math.exp(lo_t), math.exp(hi_t))
        else:
            estimate, interval = t_star, (lo_t, hi_t)
    return ThresholdResult(
        **common,
        crossing=True,
        increasing=not low_side,
        bracket=(a, b),
        confident_bracket=confident_bracket,
        confident_ends=(bool(sure_low), bool(sure_high)),
        estimate=estimate,
        estimate_interval=interval,
    )


def _is_whole(spec: SweepSpec) -> bool:
    from sim.experiments.spec import point_value

    probe = point_value(spec.params_for({}), spec.parameters[0].name, None)
    return isinstance(probe, int) and not isinstance(probe, bool)


def _search_key(definition: dict[str, Any]) -> str:
    """The canonical JSON of a search's definition without ``rounds``: more or fewer rounds
    continue one search (round ``r``'s sweep does not depend on how many rounds follow)."""
    rest = {k: v for k, v in definition.items() if k != "rounds"}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"))


def _open(spec: SweepSpec, directory: Path, force: bool) -> None:
    """Refuse a directory holding a plain sweep, or another search (unless ``force``); the
    same search with another ``rounds`` is not another search."""
    check_writable(directory, "--out")
    if (directory / "manifest.json").exists():
        raise StoreError(
            f"--out {directory}: holds a sweep's results (manifest.json), not a threshold "
            "search; use another directory"
        )
    if (directory / SUMMARY).exists() and not force:
        old = read_threshold(directory)
        definition = old.get("definition")
        if not isinstance(definition, dict) or _search_key(definition) != _search_key(
            spec.definition()
        ):
            raise StoreError(
                f"--out {directory}: holds a different threshold search ({old.get('name')!r}); "
                "use another directory or --force to replace it"
            )


def _write(spec: SweepSpec, directory: Path, result: ThresholdResult, status: str) -> None:
    record = {
        "format_version": FORMAT_VERSION,
        "kind": "threshold",
        "name": spec.name,
        "status": status,
        "sweep_sha256": spec.fingerprint(),
        "definition": spec.definition(),
        "rounds_dir": ROUNDS,
        **result.record(),
    }
    directory.mkdir(parents=True, exist_ok=True)
    table = result.table().to_csv(index=False)
    atomic_write_text(directory / TABLE, table)
    atomic_write_text(directory / SUMMARY, json.dumps(record, indent=2) + "\n")


def run_threshold(
    spec: SweepSpec,
    directory: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    connect_timeout: float = 10.0,
    progress: bool = True,
) -> ThresholdResult:
    """Run (or resume) the bisect sweep ``spec`` into ``directory``, round by round (see the
    module docstring); the backend options are those of :func:`~sim.experiments.run_sweep`."""
    if spec.sampler != "bisect":
        raise ValueError(f"sampler={spec.sampler!r}: run_threshold needs sampler 'bisect'")
    directory = Path(directory)
    _open(spec, directory, force)
    options = {
        "backend": backend,
        "workers": workers,
        "scheduler": scheduler,
        "force": force,
        "connect_timeout": connect_timeout,
        "progress": progress,
    }
    whole = _is_whole(spec)

    def run_round(index: int, values: list[float]) -> list[Probe]:
        rspec = round_spec(spec, index, values)
        target = directory / ROUNDS / f"r{index:02d}"
        run_sweep(rspec, target, **options)  # type: ignore[arg-type]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an incomplete round is a failure here
            frame = load(target)
        counts = outcome_shares(spec, frame).sort_values("point_id")
        return [
            Probe(index, float(v), int(n), int(k))
            for v, n, k in zip(counts["value"], counts["runs"], counts["successes"], strict=True)
        ]

    dim = spec.parameters[0]
    assert dim.range is not None
    probes = run_round(0, [dim.range[0], dim.range[1]])
    result = summarize(spec, probes, directory)
    _write(spec, directory, result, "running")
    level = spec.bisect_level
    if result.crossing:
        low_side = probes[0].above(level)
        a, b = dim.range
        for index in range(1, spec.bisect_rounds + 1):
            mid = _midpoint(spec, a, b, whole)
            if mid is None:
                break
            probe = run_round(index, [mid])[0]
            probes.append(probe)
            if probe.above(level) == low_side:
                a = mid
            else:
                b = mid
            result = summarize(spec, probes, directory)
            _write(spec, directory, result, "running")
    result = summarize(spec, probes, directory)
    _write(spec, directory, result, "complete")
    return result


def read_threshold(directory: str | Path) -> dict[str, Any]:
    """The ``threshold.json`` of a search directory (:class:`StoreError` when absent)."""
    path = Path(directory) / SUMMARY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{directory}: no {SUMMARY}; not a threshold search") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: unreadable (not a JSON object)")
    return data
