"""The dated episode beside the model: ``docs/timeline.md`` from a run of a dated scenario.

``python -m sim.timeline --out docs`` (``make timeline``) runs the ``timeline-2024`` scenario
(month 0 = January 2024) over many seeds and writes ``docs/timeline.md`` and
``docs/figures/timeline.png``: every dated fact of the model brief with its source, and what the
model says at that month (mean and 90% band over seeds). Nothing here is fitted: the scenario's
parameters are assumptions (``docs/ODD.md``, section 9); ``docs/calibration.md`` fits them.

Facts the model can speak to are compared with an output column at a month; facts it cannot
speak to (a company's total revenue, patent counts) are listed as such.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.batch import run_batch
from sim.errors import InputError
from sim.params import Params, load_scenario


@dataclass(frozen=True)
class Fact:
    """One dated fact: ``month`` (0 = January 2024), what happened or was measured, its
    source, and the model output that speaks to it (``column`` at ``month``, compared with
    ``observed`` in the column's units), or None."""

    month: int
    fact: str
    source: str
    column: str | None = None
    observed: float | None = None


FACTS: tuple[Fact, ...] = (
    Fact(
        0,
        "best home model ahead of the best rival model by 9.26% on Chatbot Arena",
        "Stanford AI Index 2025, ch. 2",
        "capability_gap",
        0.0926,
    ),
    Fact(
        0,
        "best closed-weight model ahead of the best open-weight model by 8.0% on Arena",
        "Stanford AI Index 2025",
        "open_capability_gap",
        0.080,
    ),
    Fact(
        4,
        "rival providers cut API prices by 90-97% (Doubao, Qwen-Long, free ERNIE models)",
        "press (e.g. DeepLearning.AI, The Batch)",
        "mean_domestic_price",
        None,
    ),
    Fact(
        5, "the lab notifies developers in unsupported regions of a block", "press (The Register)"
    ),
    Fact(
        6,
        "the block takes effect (9 July); rival providers offer free migration",
        "press",
        "domestic_share",
        None,
    ),
    Fact(
        9,
        "the partner cloud ends model service to individual developers, keeps enterprises",
        "press",
    ),
    Fact(
        12,
        "home-rival benchmark gaps over 2024 (points): MMLU 17.5 -> 0.3, MMMU 13.5 -> 8.1, "
        "MATH 24.3 -> 1.6, HumanEval 31.6 -> 3.7",
        "Stanford AI Index 2025",
    ),
    Fact(
        12,
        "near-frontier rival open-weight release (DeepSeek-R1; AIME 2024 79.8 vs 79.2, "
        "MATH-500 97.3 vs 96.4 against the home frontier's reasoning model)",
        "model card, deepseek-ai/DeepSeek-R1",
        "open_capability_gap",
        None,
    ),
    Fact(
        13,
        "best home model ahead of the best rival model by 1.70% on Arena",
        "Stanford AI Index 2025",
        "capability_gap",
        0.0170,
    ),
    Fact(
        13,
        "best closed-weight model ahead of the best open-weight model by 1.7% on Arena",
        "Stanford AI Index 2025",
        "open_capability_gap",
        0.017,
    ),
)
"""The model brief's dated facts, month 0 = January 2024."""

UNDATED: tuple[tuple[str, str], ...] = (
    (
        "the partner's whole business in the rival region about 1.5% of its total revenue "
        "(2024); the model has no figure for a company's total revenue",
        "company testimony to the US Congress, June 2024",
    ),
    (
        "after US suppliers cut ties, Chinese customers substitute to other suppliers; the "
        "model's forced migration and logit choice encode this qualitatively",
        "Crosignani, Han, Macchiavelli & Silva, FRBNY Staff Report 1096 (2024)",
    ),
    (
        "training compute of leading rival-region models grew about 3x a year against 5x at "
        "the frontier (2021-2024); a prior on the compute parameters, not an output",
        "Epoch AI, data insight, 22 January 2025",
    ),
    (
        "WIPO counted about 38,200 generative-AI inventions from China and 6,300 from the US "
        "(2014-2023); patents do not measure model quality",
        "WIPO, Patent Landscape Report: Generative AI (2024)",
    ),
)


def month_label(params: Params, month: int) -> str:
    """``"Jan 2024"`` for a dated scenario's month (:func:`sim.plot.month_label`), ``"month 7"``
    otherwise."""
    if not params.start_month:
        return f"month {month}"
    from sim.plot import month_label as calendar_label  # sim.plot loads matplotlib: import late

    return calendar_label(month, params.start_month)


def trajectory(params: Params, seeds: Sequence[int], steps: int) -> pd.DataFrame:
    """Per month: mean, 5% and 95% quantiles over seeds of every model column."""
    frame = run_batch(params, list(seeds), steps).model
    grouped = frame.drop(columns="run").groupby("step")
    return pd.concat(
        {"mean": grouped.mean(), "q05": grouped.quantile(0.05), "q95": grouped.quantile(0.95)},
        axis=1,
    )


def _figure(params: Params, stats: pd.DataFrame, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    steps = stats.index.to_numpy()
    for column, colour in (("capability_gap", "C0"), ("open_capability_gap", "C2")):
        ax.plot(steps, stats["mean"][column], color=colour, label=f"{column} (model mean)")
        ax.fill_between(steps, stats["q05"][column], stats["q95"][column], color=colour, alpha=0.2)
    for fact in FACTS:
        if fact.observed is not None and fact.column in ("capability_gap", "open_capability_gap"):
            colour = "C0" if fact.column == "capability_gap" else "C2"
            ax.plot(fact.month, fact.observed, "o", color=colour, markeredgecolor="black")
    for event in params.events:
        if event.label:
            ax.axvline(event.month, color="grey", linestyle=":", linewidth=1)
    ticks = [t for t in steps if t % 3 == 0]
    ax.set_xticks(ticks, [month_label(params, int(t)) for t in ticks], rotation=45, ha="right")
    ax.set_ylabel("gap to the home frontier (frontier = 1)")
    ax.set_title("timeline-2024: the model beside Chatbot Arena gaps (dots)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _value(stats: pd.DataFrame, column: str, month: int) -> str:
    if month not in stats.index:
        return "-"
    mean = stats["mean"].loc[month, column]
    low, high = stats["q05"].loc[month, column], stats["q95"].loc[month, column]
    if not np.isfinite(mean):
        return "-"
    return f"{mean:.4f} [{low:.4f}, {high:.4f}]"


def write_report(
    out: Path, scenario: str = "timeline-2024", seeds: int = 40, n_enterprises: int = 5000
) -> Path:
    """Run ``scenario`` and write ``out/timeline.md`` and ``out/figures/timeline.png``."""
    params = load_scenario(scenario).replace(n_enterprises=n_enterprises)
    steps = max(f.month for f in FACTS) + 12
    stats = trajectory(params, range(seeds), steps)
    _figure(params, stats, out / "figures" / "timeline.png")
    lines = [
        "# The dated episode beside the model",
        "",
        f"Generated by `python -m sim.timeline --out docs` (`make timeline`): the `{scenario}` "
        f"scenario, {seeds} seeds of {n_enterprises:,} enterprises, month 0 = "
        f"{month_label(params, 0)}. Model values are the mean over seeds with the 5%-95% range "
        "in brackets. Nothing here is fitted: the scenario's parameters are the assumptions "
        "of `docs/ODD.md` (section 9); `docs/calibration.md` fits them to the Arena gaps.",
        "",
        "![timeline](figures/timeline.png)",
        "",
        "## Events in the scenario",
        "",
        "| month | event | what the scenario sets |",
        "| --- | --- | --- |",
    ]
    for event in params.events:
        sets = ", ".join(f"`{k} = {v}`" for k, v in event.set.items())
        lines.append(f"| {month_label(params, event.month)} | {event.label or '-'} | {sets} |")
    lines += [
        "",
        "## Dated facts and the model",
        "",
        "| month | fact | source | model output | observed | model |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for fact in FACTS:
        column = f"`{fact.column}`" if fact.column else "not represented"
        observed = "-" if fact.observed is None else f"{fact.observed:.4f}"
        model = _value(stats, fact.column, fact.month) if fact.column else "-"
        lines.append(
            f"| {month_label(params, fact.month)} | {fact.fact} | {fact.source} | {column} | "
            f"{observed} | {model} |"
        )
    before, after = 3, 8
    price = stats["mean"]["mean_domestic_price"]
    lines += [
        "",
        f"Domestic price cut in the model: mean domestic price {price.loc[after]:.3f} in "
        f"{month_label(params, after)} against {price.loc[before]:.3f} in "
        f"{month_label(params, before)} ({(1 - price.loc[after] / price.loc[before]):.0%} lower; "
        "the press reports cuts of 90-97%).",
        "",
        "## Facts the model cannot speak to",
        "",
        "| fact | source |",
        "| --- | --- |",
        *[f"| {fact} | {source} |" for fact, source in UNDATED],
        "",
    ]
    path = out / "timeline.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.timeline", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--seeds", type=int, default=40)
    args = parser.parse_args(argv)
    try:
        if args.seeds < 1:
            raise InputError(f"--seeds={args.seeds}: expected a whole number >= 1")
        print(write_report(args.out, seeds=args.seeds))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
