r"""Robustness of the headline (SF1): one-at-a-time perturbations and threshold searches.

SF1, the headline divergence, holds in a run at month ``h`` when the direct lab restricts and
the partner cloud allows at that month. For each scenario (``seed``, and ``calibrated`` when
the package ships it) this module

1. runs an ``oat`` sweep (:mod:`sim.experiments.samplers`): the base point and each listed
   parameter at -20 % and +20 % of its base value, :data:`REPLICATES` seeds each, recording
   every :data:`RECORD` months to :data:`HORIZONS`'s last, and reads at each horizon the share
   of seeds with the divergence, with its Wilson 95 % interval;
2. calls a perturbation a *flip* at a horizon when the share falls below one half while the
   base's is at least one half (the majority outcome changes) and the two shares differ by
   more than 1.96 standard errors of their difference; *restores* the same the other way (a
   base without the divergence in most seeds, a perturbation with it); *weakening* when the
   shares differ that much but the majority holds. A crossing of one half within sampling
   error counts as neither (a base near one half would otherwise "flip" by chance);
3. runs a ``bisect`` threshold search (:mod:`sim.experiments.threshold`) for every flip:
   between the base value and the flipping value, where the share crosses one half at that
   horizon. When nothing flips, it searches the most weakened perturbations out to
   :data:`WIDE` (x 0.5 or x 1.5 of the base) to say how far the headline reaches.

Every sweep runs through :func:`sim.experiments.run_sweep` into a scratch directory with fixed
root seeds, so the section is the same on every run. Parameters: the scalar fields below
(those a segment inherits only when one does), the direct lab's and the partner cloud's
economic fields, and each segment's own price sensitivity and enterprise rationality when it
sets them (in ``seed`` every segment sets its price sensitivity, so the global one is inert
there and is left out).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.samplers import oat_labels
from sim.experiments.spec import SweepSpec, point_value, spec_from_mapping
from sim.experiments.store import load
from sim.experiments.sweep import run_sweep
from sim.experiments.threshold import Z95, ThresholdResult, run_threshold, wilson
from sim.params import INHERITED, Params, list_scenarios, load_scenario

SCENARIOS = ("seed", "calibrated")
HORIZONS = (24, 60, 120)
RECORD = 12
REPLICATES = 50
N_ENTERPRISES = 1000
PERTURBATION = 0.2
SEARCH_REPLICATES = 100
SEARCH_ROUNDS = 6
MAX_RESTORE_SEARCHES = 3  # threshold searches for perturbations that restore SF1
WIDE = 0.5
ROOT_SEED = 20240709

GLOBAL_PARAMETERS = (
    "market_value",
    *INHERITED,
    "outside_utility",
    "frontier_growth",
    "learning_rate",
    "spillover_rate",
    "security_weight",
    "home_enforcement",
    "home_fine",
    "home_revenue_weight",
    "home_security_weight",
    "home_rival_growth_weight",
    "rival_domestic_weight",
    "rival_dependence_weight",
    "rival_control_value",
    "firm_rationality",
    "rival_rationality",
    "firm_revision_rate",
    "gov_revision_rate",
    "peer_effect",
    "diffusion_rate",
    "compute_effect",
    "compute_per_revenue",
    "compute_subsidy",
)
PROVIDER_FIELDS = {
    "direct": ("home_exposure", "margin", "security_exposure", "price"),
    "partner": (
        "rival_dependence",
        "margin",
        "security_exposure",
        "price",
        "home_exposure",
        "mandate_coverage",
        "revenue_share",
    ),
}
SEGMENT_FIELDS = ("price_sensitivity", "enterprise_rationality")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value != 0


def _foreign(params: Params, channel: str) -> str:
    return next(p.name for p in params.providers if p.channel == channel)


def oat_parameters(params: Params) -> list[str]:
    """The parameters perturbed in ``params``: nonzero numbers, globals a segment inherits
    only when one does (see the module docstring)."""
    inherited = {
        k
        for k in INHERITED
        if not params.segments or any(getattr(s, k) is None for s in params.segments)
    }
    names = [k for k in GLOBAL_PARAMETERS if k not in INHERITED or k in inherited]
    for channel, fields in PROVIDER_FIELDS.items():
        names += [f"{_foreign(params, channel)}.{f}" for f in fields]
    for segment in params.segments:
        names += [f"{segment.name}.{f}" for f in SEGMENT_FIELDS if getattr(segment, f) is not None]
    return [n for n in names if _number(point_value(params, n, None))]


def sf1_outcome(params: Params) -> list[dict[str, str]]:
    """SF1 as a bisect outcome: the direct provider restricts and the partner allows."""
    return [
        {"column": f"{_foreign(params, 'direct')}/strategy", "equals": "restrict"},
        {"column": f"{_foreign(params, 'partner')}/strategy", "equals": "allow"},
    ]


def oat_spec(
    scenario: str, *, replicates: int = REPLICATES, parameters: Sequence[str] | None = None
) -> SweepSpec:
    """The oat sweep of SF1 in ``scenario`` (over ``parameters``; default
    :func:`oat_parameters`)."""
    params = load_scenario(scenario).replace(n_enterprises=N_ENTERPRISES)
    names = oat_parameters(params) if parameters is None else list(parameters)
    data = {
        "name": f"sf1-oat-{scenario}"[:64],
        "description": f"SF1 robustness in {scenario}: each parameter at -/+{PERTURBATION:.0%}",
        "base": scenario,
        "sampler": "oat",
        "perturbation": PERTURBATION,
        "replicates": replicates,
        "steps": max(HORIZONS),
        "record": RECORD,
        "providers": True,
        "root_seed": ROOT_SEED,
        "fixed": {"n_enterprises": N_ENTERPRISES},
        "parameters": {name: {} for name in names},
    }
    return spec_from_mapping(data, name=str(data["name"]), allow_large=True)


@dataclass(frozen=True)
class Share:
    """``hits`` of ``runs`` seeds with the divergence."""

    hits: int
    runs: int

    @property
    def share(self) -> float:
        return self.hits / self.runs

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.hits, self.runs)


@dataclass(frozen=True)
class OatRow:
    """One point of the oat design and its shares at each horizon."""

    parameter: str | None
    direction: int
    value: Any
    base: Any
    shares: dict[int, Share]


@dataclass(frozen=True)
class Robustness:
    """SF1's robustness in one scenario (see the module docstring)."""

    scenario: str
    rows: tuple[OatRow, ...]
    searches: tuple[tuple[str, int, int, ThresholdResult, str], ...]
    searched_wide: bool
    seconds: float
    replicates: int
    base_outcome: dict[int, str] = field(default_factory=dict)  # horizon -> what the base shows

    @property
    def base(self) -> OatRow:
        return self.rows[0]

    def status(self, row: OatRow, horizon: int) -> str:
        """``flips``, ``weakened``, ``strengthened`` or ``holds`` against the base."""
        base, here = self.base.shares[horizon], row.shares[horizon]
        pooled = (base.hits + here.hits) / (base.runs + here.runs)
        se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / base.runs + 1 / here.runs))
        diff = here.share - base.share
        if abs(diff) <= Z95 * se:
            return "holds"
        if base.share >= 0.5 > here.share:
            return "flips"
        if base.share < 0.5 <= here.share:
            return "restores"
        return "weakened" if diff < 0 else "strengthened"

    def flips(self) -> list[tuple[OatRow, int]]:
        return [(r, h) for r in self.rows[1:] for h in HORIZONS if self.status(r, h) == "flips"]

    def restores(self) -> list[tuple[OatRow, int]]:
        """Perturbations that bring SF1 back to a majority of seeds where the base lacks it."""
        return [(r, h) for r in self.rows[1:] for h in HORIZONS if self.status(r, h) == "restores"]


def _shares(
    spec: SweepSpec, frame: pd.DataFrame, outcome: list[dict[str, str]]
) -> dict[int, dict[int, Share]]:
    """Per point id and horizon: the seeds with the divergence."""
    out: dict[int, dict[int, Share]] = {}
    for horizon in HORIZONS:
        at = frame[frame["step"] == horizon]
        holds = np.ones(len(at), dtype=bool)
        for c in outcome:
            holds &= at[c["column"]].to_numpy() == c["equals"]
        counts = pd.DataFrame({"p": at["point_id"].to_numpy(), "h": holds}).groupby("p")["h"]
        for point, (hits, runs) in enumerate(zip(counts.sum(), counts.size(), strict=True)):
            out.setdefault(point, {})[horizon] = Share(int(hits), int(runs))
    return out


def _search(
    scenario: str, parameter: str, base: float, target: float, horizon: int, work: Path
) -> ThresholdResult:
    params = load_scenario(scenario)
    low, high = sorted((float(base), float(target)))
    way = "up" if target > base else "down"
    name = f"sf1-{scenario}-{parameter.replace('.', '-')}-{way}-{horizon}"
    data = {
        "name": name[:64],
        "base": scenario,
        "sampler": "bisect",
        "rounds": SEARCH_ROUNDS,
        "replicates": SEARCH_REPLICATES,
        "steps": horizon,
        "record": "final",
        "providers": True,
        "root_seed": ROOT_SEED + horizon,
        "fixed": {"n_enterprises": N_ENTERPRISES},
        "outcome": sf1_outcome(params),
        "parameters": {parameter: {"range": [low, high]}},
    }
    spec = spec_from_mapping(data, name=str(data["name"]), allow_large=True)
    return run_threshold(spec, work / spec.name, progress=False)


def outcome_at(params: Params, runs: pd.DataFrame) -> str:
    """How often, among ``runs`` (rows of one horizon), the direct lab restricts, the partner
    cloud allows and the rival government blocks, with the mean gap and foreign share."""
    direct, partner = _foreign(params, "direct"), _foreign(params, "partner")
    restricts = runs[f"{direct}/strategy"].eq("restrict").mean()
    allows = runs[f"{partner}/strategy"].eq("allow").mean()
    return (
        f"the direct lab restricts in {restricts:.0%} of seeds, the partner cloud "
        f"allows in {allows:.0%} and the rival government blocks foreign services in "
        f"{runs['rival_restricts'].mean():.0%}"
        f" (capability gap {runs['capability_gap'].mean():.3f}, foreign share "
        f"{runs['foreign_share'].mean():.3f})"
    )


def what_breaks(scenario: str, search: ThresholdResult, base: float) -> str:
    """What the runs at the far end of a search (the end away from the base value) show: how
    often the direct lab restricts, the partner cloud allows and the rival government blocks
    at the horizon (read from the search's round 0)."""
    if search.directory is None:
        return ""
    frame = load(search.directory / "rounds" / "r00")
    far = search.low if search.high <= base else search.high
    column = search.parameter
    end = frame[(frame["step"] == frame["step"].max()) & np.isclose(frame[column], far)]
    if end.empty:
        return ""
    return f"At {far:.4g} {outcome_at(load_scenario(scenario), end)}."


def run_robustness(
    scenario: str,
    work: Path,
    *,
    replicates: int = REPLICATES,
    workers: int | None = None,
    parameters: Sequence[str] | None = None,
) -> Robustness:
    """The oat sweep and the threshold searches of SF1 in ``scenario`` (results under
    ``work``; ``parameters`` default :func:`oat_parameters`)."""
    started = time.perf_counter()
    spec = oat_spec(scenario, replicates=replicates, parameters=parameters)
    run_sweep(spec, work / spec.name, workers=workers, progress=False)
    frame = load(work / spec.name)
    outcome = sf1_outcome(spec.params_for({}))
    shares = _shares(spec, frame, outcome)
    rows = tuple(
        OatRow(label.parameter, label.direction, label.value, label.base, shares[label.point_id])
        for label in oat_labels(spec)
    )
    partial = Robustness(scenario, rows, (), False, 0.0, replicates)
    searches = []
    flips = partial.flips()
    # where the base lacks SF1: the perturbations that restore it most, searched like flips
    restores = sorted(partial.restores(), key=lambda rh: -rh[0].shares[rh[1]].share)
    restores = restores[:MAX_RESTORE_SEARCHES]
    wide = not flips and not restores
    if wide:  # nothing flips at +-20 %: search the most weakened out to x 0.5 / x 1.5
        drops = sorted(
            (
                (row.shares[h].share - partial.base.shares[h].share, i, h)
                for i, row in enumerate(rows[1:], start=1)
                for h in HORIZONS
                if partial.status(row, h) == "weakened"
            ),
        )[:2]
        candidates = [(rows[i], h) for _, i, h in drops]
    else:
        candidates = flips + restores
    for row, horizon in candidates:
        assert row.parameter is not None
        target = row.value
        if wide:
            target = row.base * (1 + WIDE * row.direction)
            if isinstance(row.base, int):
                target = round(target)
        result = _search(scenario, row.parameter, row.base, target, horizon, work)
        note = what_breaks(scenario, result, float(row.base))
        searches.append((row.parameter, row.direction, horizon, result, note))
    base_point = next(label.point_id for label in oat_labels(spec) if label.parameter is None)
    base_runs = frame[frame["point_id"] == base_point]
    base_outcome = {
        h: outcome_at(spec.params_for({}), base_runs[base_runs["step"] == h]) for h in HORIZONS
    }
    return Robustness(
        scenario,
        rows,
        tuple(searches),
        wide,
        time.perf_counter() - started,
        replicates,
        base_outcome,
    )


def _pct(share: Share) -> str:
    return f"{share.share:.2f}"


def _value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def markdown(results: Sequence[Robustness], missing: Sequence[str] = ()) -> list[str]:
    """The report's robustness section."""
    lines = [
        "",
        '<a id="robustness"></a>',
        "## Robustness of the headline (SF1)",
        "",
        "Produced by `sim/validation/robustness.py` in the same run. SF1 holds in a run at "
        "month h when the direct lab restricts and the partner cloud allows at month h. An "
        f"`oat` sweep moves each parameter alone to -{PERTURBATION:.0%} and "
        f"+{PERTURBATION:.0%} of its value in the scenario ({N_ENTERPRISES} enterprises, "
        f"{results[0].replicates if results else REPLICATES} seeds per point, each point its "
        "own seeds); the table gives the share of seeds with the divergence at each horizon. "
        "A perturbation *flips* SF1 at a horizon when that share falls below one half while "
        "the base's is at least one half, and *restores* it when the share rises to one half "
        "or more from a base below; *weakened*/*strengthened*: the majority unchanged. Each of "
        "the four needs the shares to differ by more than 1.96 standard errors of their "
        "difference (a crossing within sampling error counts as none). Each flip gets "
        "a `bisect` threshold search between the base value and the flipping one "
        f"({SEARCH_ROUNDS} rounds after the two ends, {SEARCH_REPLICATES} seeds per probe): "
        "the bisection bracket, the bracket between the nearest probes whose Wilson 95 % "
        "interval excludes one half (the threshold lies there if the share is monotone), and "
        "a logistic fit with its 95 % interval where the probes allow one.",
    ]
    for name in missing:
        lines += [
            "",
            f"Scenario `{name}` is not in this package yet; its rows appear here once it is "
            "(the section runs every scenario of `SCENARIOS` that exists).",
        ]
    for result in results:
        lines += _scenario_lines(result)
    return lines


def _scenario_lines(result: Robustness) -> list[str]:
    base = result.base
    heads = " | ".join(f"{h} months" for h in HORIZONS)
    lines = [
        "",
        f"### `{result.scenario}` ({result.seconds:.0f} s)",
        "",
        "Base: share of seeds with the divergence "
        + ", ".join(
            f"{_pct(base.shares[h])} at {h} months (95 % {base.shares[h].interval[0]:.2f}-"
            f"{base.shares[h].interval[1]:.2f})"
            for h in HORIZONS
        )
        + ".",
        "",
    ]
    lacking = [h for h in HORIZONS if base.shares[h].share < 0.5]
    if lacking:
        lines.append(
            f"**SF1 does not hold at the base** at {', '.join(str(h) for h in lacking)} months"
            + "".join(
                f"; at {h} months {result.base_outcome[h]}"
                for h in lacking
                if h in result.base_outcome
            )
            + "."
        )
        restores = result.restores()
        if restores:
            lines.append(
                "Restored to a majority of seeds by: "
                + "; ".join(
                    f"`{r.parameter}` {'+' if r.direction > 0 else '-'}{PERTURBATION:.0%} at "
                    f"{h} months ({_pct(r.shares[h])})"
                    for r, h in restores
                )
                + "."
            )
        else:
            lines.append(
                f"No -/+{PERTURBATION:.0%} change of a listed parameter restores it to a "
                "majority of seeds."
            )
        lines.append("")
    even = [h for h in HORIZONS if base.shares[h].interval[0] <= 0.5 <= base.shares[h].interval[1]]
    if even:
        lines.append(
            f"At {', '.join(str(h) for h in even)} months the base's 95 % interval includes one "
            "half: the outcome there is close to even, and a flip, restoration or threshold "
            "found at those horizons is fragile."
        )
        lines.append("")
    holding = [h for h in HORIZONS if h not in lacking]
    flips = result.flips()
    if flips:
        by_param: dict[str, list[str]] = {}
        for row, h in flips:
            assert row.parameter is not None
            sign = "+" if row.direction > 0 else "-"
            by_param.setdefault(f"{row.parameter} {sign}{PERTURBATION:.0%}", []).append(str(h))
        lines.append(
            "**Flips SF1:** "
            + "; ".join(f"`{k}` at {', '.join(v)} months" for k, v in by_param.items())
            + ". The headline is fragile to these changes."
        )
    elif holding:
        lines.append(
            f"**Nothing flips SF1** at -/+{PERTURBATION:.0%} of any listed parameter at "
            f"{', '.join(str(h) for h in holding)} months."
        )
    weakened = [
        (r, h) for r in result.rows[1:] for h in HORIZONS if result.status(r, h) == "weakened"
    ]
    if weakened:
        lines.append(
            "Weakened without flipping: "
            + "; ".join(
                f"`{r.parameter}` {'+' if r.direction > 0 else '-'}{PERTURBATION:.0%} at {h} "
                f"months ({_pct(r.shares[h])})"
                for r, h in weakened
            )
            + "."
        )
    down, up = f"-{PERTURBATION:.0%}", f"+{PERTURBATION:.0%}"
    lines += [
        "",
        f"| parameter | base value | {down} | {heads} | {up} | {heads} |",
    ]
    lines.append(
        "| --- | --- | --- | "
        + " | ".join("---" for _ in HORIZONS)
        + " | --- | "
        + " | ".join("---" for _ in HORIZONS)
        + " |"
    )
    lines.append(
        "| (base) | | | "
        + " | ".join(_pct(base.shares[h]) for h in HORIZONS)
        + " | | "
        + " | ".join(_pct(base.shares[h]) for h in HORIZONS)
        + " |"
    )
    rows = result.rows[1:]
    for low, high in zip(rows[::2], rows[1::2], strict=True):
        cells = [f"`{low.parameter}`", _value(low.base)]
        for row in (low, high):
            cells.append(_value(row.value))
            for h in HORIZONS:
                status = result.status(row, h)
                text = _pct(row.shares[h])
                cells.append(
                    f"**{text} flips**"
                    if status == "flips"
                    else f"**{text} restores**"
                    if status == "restores"
                    else f"{text} ↓"
                    if status == "weakened"
                    else f"{text} ↑"
                    if status == "strengthened"
                    else text
                )
        lines.append("| " + " | ".join(cells) + " |")
    if result.searches:
        what = "Threshold searches for the flips and restorations:"
        if result.searched_wide:
            what = (
                "Threshold searches (nothing flips, so the most weakened perturbations, searched "
                f"out to x {1 - WIDE:g} or x {1 + WIDE:g} of the base value):"
            )
        lines += [
            "",
            what,
            "",
            "| parameter | horizon | searched | share at the ends | bisection bracket | "
            "95 % bracket | logistic fit (95 %) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for parameter, _, horizon, search, _ in result.searches:
            lines.append(
                f"| `{parameter}` | {horizon} | " + " | ".join(_search_cells(search)) + " |"
            )
        lines.append("")
        bases = {r.parameter: r.base for r in result.rows[1:]}
        for parameter, _, horizon, search, note in result.searches:
            gained = base.shares[horizon].share < 0.5
            statement = plain_statement(parameter, horizon, bases[parameter], search, gained)
            lines.append(f"{statement} {note}".strip())
    return lines


def plain_statement(
    parameter: str, horizon: int, base: Any, search: ThresholdResult, gained: bool = False
) -> str:
    """One sentence: where SF1 is lost in most seeds along ``parameter`` at ``horizon`` (or,
    ``gained``, where a base without it in most seeds gets it)."""
    if not search.crossing or search.bracket is None:
        return (
            f"Along `{parameter}` over [{search.low:.4g}, {search.high:.4g}] the share at "
            f"{horizon} months never crosses one half (ends {search.probes[0].share:.2f} and "
            f"{search.probes[1].share:.2f})."
        )
    base = float(base)
    lost_below = search.high <= base  # the search runs from the base value away from it
    side = "below" if lost_below else "above"
    where = search.confident_bracket or search.bracket
    pct = sorted(abs(v / base - 1) * 100 for v in where)
    return (
        f"At {horizon} months SF1 {'holds' if gained else 'is lost'} in most seeds once "
        f"`{parameter}` is {side} a "
        f"threshold between {where[0]:.4g} and {where[1]:.4g} (95 % bracket; bisection bracket "
        f"[{search.bracket[0]:.4g}, {search.bracket[1]:.4g}]), {pct[0]:.0f}-{pct[1]:.0f} % "
        f"{side} its base value {base:.4g}."
    )


def _search_cells(search: ThresholdResult) -> list[str]:
    """Searched range, shares at its ends, the brackets and the fit, as table cells."""
    cells = [
        f"[{search.low:.4g}, {search.high:.4g}]",
        f"{search.probes[0].share:.2f} / {search.probes[1].share:.2f}",
    ]
    if not search.crossing or search.bracket is None:
        return [*cells, "no crossing", "", ""]
    cells.append(f"[{search.bracket[0]:.4g}, {search.bracket[1]:.4g}]")
    sure = search.confident_bracket
    cells.append("contradictory probes" if sure is None else f"[{sure[0]:.4g}, {sure[1]:.4g}]")
    fit, interval = search.estimate, search.estimate_interval
    cells.append(
        "not identifiable"
        if fit is None or interval is None
        else f"{fit:.4g} [{interval[0]:.4g}, {interval[1]:.4g}]"
    )
    return cells


def robustness_section(
    scenarios: Sequence[str] = SCENARIOS,
    *,
    replicates: int = REPLICATES,
    workers: int | None = None,
) -> list[str]:
    """Run every scenario of ``scenarios`` the package ships and return the Markdown section
    (scenarios it does not ship are named as missing)."""
    shipped = list_scenarios()
    present = [s for s in scenarios if s in shipped]
    missing = [s for s in scenarios if s not in shipped]
    with tempfile.TemporaryDirectory(prefix="sf1-robustness-") as scratch:
        results = [
            run_robustness(s, Path(scratch), replicates=replicates, workers=workers)
            for s in present
        ]
    return markdown(results, missing)
