"""Figures of a results directory (matplotlib, PNG and SVG) under ``<dir>/figures/``.

Which figures are drawn depends on the sweep's ``kind``:

* ``baseline``: mean over seeds of the share of foreign providers allowing, foreign vs domestic
  share, capability gap and revenues against time, shaded 2.5-97.5 percentile bands over seeds
  (the range holding 95% of runs).
* ``phase_diagram``: the regime of each (expected penalty ``e*f``, market value ``V``) cell as
  a map, also written as ``regimes.csv``.
* ``counterfactuals``: domestic share and capability gap against time for each scenario (mean
  and 95% band over seeds).
* ``sensitivity``: Sobol' first-order and total indices with bootstrap 95% confidence intervals
  (SALib), also written as ``sobol_indices.csv``.
* ``generic``: each output's horizon value against each varied parameter.
* a threshold search (sampler ``bisect``, :mod:`.threshold`): the share of seeds with the
  outcome at each probed value, with Wilson 95 % intervals, the level and the brackets.

Every figure's caption line gives the number of runs behind it, as points x replicates (each
run has its own seed), and the run settings.

``make_figures(DIR)`` takes exactly the directory ``python -m sim sweep FILE --out DIR`` wrote
(``results/<name>`` without ``--out``): a sweep's (``manifest.json``) or a threshold search's
(``threshold.json``). Figures go to ``DIR/figures/``, tables beside them in ``DIR``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.experiments.runners import provider_column
from sim.experiments.samplers import salib_problem
from sim.experiments.spec import SweepSpec, spec_from_definition
from sim.experiments.store import (
    StoreError,
    atomic_write_bytes,
    read_chunks,
    read_manifest,
    results_manifest,
)
from sim.phases import PHASE_COLOURS, PHASES, channel_allowing, classify

FIGURES = "figures"
REGIMES = PHASES  # the experiments call a phase of sim.phases a regime
LABELS = {
    "frac_foreign_allowing": "foreign providers allowing (fraction)",
    "foreign_share": "foreign share of rival enterprises",
    "domestic_share": "domestic share of rival enterprises",
    "capability_gap": "capability gap (frontier = 1)",
    "foreign_revenue": "foreign revenue ($M/month)",
    "domestic_revenue": "domestic revenue ($M/month)",
}
SOBOL_OUTPUTS = ("capability_gap", "frac_foreign_allowing")


def _settings(spec: SweepSpec) -> str:
    fixed = dict(spec.fixed)
    bits = [f"{spec.steps} months"]
    if "n_enterprises" in fixed:
        bits.append(f"{fixed['n_enterprises']} enterprises")
    if spec.quick:
        bits.append("quick variant")
    return ", ".join(bits)


def runs_caption(frame: pd.DataFrame, per: str = "point") -> str:
    """How many runs a frame holds, as the caption says it: ``50 seeds`` for one point,
    ``12 points x 10 replicates = 120 runs`` for several (``per`` names a point), or a range of
    replicates when points differ."""
    reps = frame.groupby("point_id")["replicate"].nunique()
    runs = int(frame.groupby("point_id")["seed"].nunique().sum())
    if len(reps) == 1:
        return f"{runs} seeds"
    low, high = int(reps.min()), int(reps.max())
    each = f"{low}" if low == high else f"{low}-{high}"
    return f"{len(reps)} {per}s x {each} replicates = {runs} runs (one seed each)"


def _figure(figsize: tuple[float, float], *grid: int, **kw: Any) -> tuple[Figure, Any]:
    """A figure not tied to any pyplot backend (safe headless and in worker processes)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **kw)


def _caption(fig: Figure, text: str) -> None:
    fig.text(0.01, 0.005, text, ha="left", va="bottom", fontsize=8, color="0.3")


def _finish(fig: Figure, directory: Path, stem: str, caption: str, bottom: float) -> list[Path]:
    """Lay ``fig`` out above a strip of height ``bottom`` (figure fraction) holding the caption,
    and write it as ``<directory>/<stem>.png`` and ``.svg``."""
    fig.tight_layout(rect=(0, bottom, 1, 1))
    _caption(fig, caption)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in ("png", "svg"):
        path = directory / f"{stem}.{ext}"
        atomic_write_bytes(path, partial(fig.savefig, format=ext, dpi=130))
        written.append(path)
    return written


def _write_csv(path: Path, table: pd.DataFrame) -> Path:
    atomic_write_bytes(path, lambda tmp: table.to_csv(tmp, index=False))
    return path


def _band(ax: Any, frame: pd.DataFrame, column: str, label: str, colour: str | None) -> None:
    """Mean over seeds, and the band holding the central 95% of runs, against months."""
    grouped = frame.groupby("step")[column]
    mean = grouped.mean()
    low, high = grouped.quantile(0.025), grouped.quantile(0.975)
    (line,) = ax.plot(mean.index, mean.to_numpy(), label=label, color=colour, lw=1.6)
    ax.fill_between(mean.index, low.to_numpy(), high.to_numpy(), color=line.get_color(), alpha=0.2)


def baseline(frame: pd.DataFrame, spec: SweepSpec, out: Path) -> list[Path]:
    fig, axes = _figure((10, 7), 2, 2, sharex=True)
    ax = axes[0, 0]
    _band(ax, frame, "frac_foreign_allowing", "foreign providers allowing", "C0")
    ax.set_ylabel("fraction of foreign providers")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Access")
    ax = axes[0, 1]
    _band(ax, frame, "foreign_share", "foreign providers", "C0")
    _band(ax, frame, "domestic_share", "domestic providers", "C3")
    ax.set_ylabel("share of rival enterprises")
    ax.set_title("Market shares")
    ax = axes[1, 0]
    _band(ax, frame, "capability_gap", "frontier minus best rival model", "C2")
    ax.set_ylabel("capability gap (frontier = 1)")
    ax.set_title("Capability gap")
    ax = axes[1, 1]
    _band(ax, frame, "foreign_revenue", "foreign providers", "C0")
    _band(ax, frame, "domestic_revenue", "domestic providers", "C3")
    ax.set_ylabel("revenue from the rival region ($M/month)")
    ax.set_title("Revenues")
    for ax in axes.flat:
        ax.legend(loc="best", fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("time (months)")
    fig.suptitle(f"Baseline: scenario '{spec.base}'")
    return _finish(
        fig,
        out,
        "baseline_timeseries",
        f"{runs_caption(frame)}; line: mean, band: 2.5-97.5 percentile over seeds; "
        f"{_settings(spec)}",
        0.03,
    )


def regimes(frame: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """One row per point: market value, expected penalty ``e*f`` (the home government's
    enforcement probability times the fine, $M/month), the fraction of direct and of partner
    providers allowing at the horizon averaged over replicates, and the regime
    (:func:`sim.phases.classify`: majority of replicates on each channel)."""
    final = frame[frame["step"] == frame["step"].max()].copy()
    foreign = [p for p in spec.params_for({}).providers if p.channel in ("direct", "partner")]
    allows = np.column_stack(
        [final[provider_column(p.name, "strategy")].eq("allow").to_numpy() for p in foreign]
    )
    channels = [p.channel for p in foreign]
    final["direct_allowing"] = channel_allowing(allows, channels, "direct")
    final["partner_allowing"] = channel_allowing(allows, channels, "partner")
    cells = final.groupby("point_id").agg(
        direct_allowing=("direct_allowing", "mean"),
        partner_allowing=("partner_allowing", "mean"),
        seeds=("seed", "nunique"),
    )
    # each point's values are stored with its rows: its parameters without the design
    values = final.groupby("point_id")[[d.name for d in spec.parameters]].first()
    params = [spec.params_for(values.loc[point_id].to_dict()) for point_id in cells.index]
    cells["market_value"] = [p.market_value for p in params]
    cells["expected_penalty"] = np.asarray([p.home_enforcement for p in params]) * np.asarray(
        [p.home_fine for p in params]
    )
    cells["regime"] = [
        classify(d, p)
        for d, p in zip(cells["direct_allowing"], cells["partner_allowing"], strict=True)
    ]
    return cells.reset_index()


def phase_diagram(frame: pd.DataFrame, spec: SweepSpec, out: Path) -> list[Path]:
    cells = regimes(frame, spec)
    csv = _write_csv(out.parent / "regimes.csv", cells)
    penalties = np.sort(cells["expected_penalty"].unique())
    values = np.sort(cells["market_value"].unique())
    grid = np.full((len(values), len(penalties)), np.nan)
    for _, c in cells.iterrows():
        i = int(np.searchsorted(values, c["market_value"]))
        j = int(np.searchsorted(penalties, c["expected_penalty"]))
        grid[i, j] = REGIMES.index(c["regime"])
    fig, ax = _figure((8, 6))
    ax.imshow(
        grid,
        origin="lower",
        aspect="auto",
        cmap=ListedColormap(PHASE_COLOURS),
        vmin=-0.5,
        vmax=len(REGIMES) - 0.5,
        interpolation="nearest",
    )
    ax.set_xticks(range(len(penalties)), [f"{p:g}" for p in penalties])
    ax.set_yticks(range(len(values)), [f"{v:.0f}" for v in values])
    ax.set_xlabel("expected penalty e·f under a standing mandate ($M/month)")
    ax.set_ylabel("rival market value V ($M/month)")
    seen = [r for r in REGIMES if r in set(cells["regime"])]
    ax.legend(
        handles=[Patch(color=PHASE_COLOURS[REGIMES.index(r)], label=r) for r in seen],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title="regime at horizon",
    )
    ax.set_title("Who restricts: direct lab vs partner cloud")
    seeds = int(cells["seeds"].min())
    caption = (
        f"{seeds} seeds per cell; regime by majority of seeds; divergence: direct restricts, "
        f"partner allows; {_settings(spec)}"
    )
    return [*_finish(fig, out, "phase_diagram", caption, 0.04), csv]


def counterfactuals(frame: pd.DataFrame, spec: SweepSpec, out: Path) -> list[Path]:
    column = "scenario" if "scenario" in frame.columns else "point_id"
    labels = {
        "seed": "seed (no mandate)",
        "mandate": "home mandate",
        "protectionist": "protectionist rival",
    }
    fig, axes = _figure((14, 4.5), 1, 3, sharex=True)
    panels = ("domestic_share", "capability_gap", "frac_foreign_allowing")
    for k, name in enumerate(sorted(frame[column].unique(), key=str)):
        part = frame[frame[column] == name]
        for ax, output in zip(axes, panels, strict=True):
            _band(ax, part, output, labels.get(str(name), str(name)), f"C{k}")
    for ax, output in zip(axes, panels, strict=True):
        ax.set_xlabel("time (months)")
        ax.set_ylabel(LABELS[output])
        ax.legend(fontsize=8, loc="best")
    axes[0].set_title("Substitution")
    axes[1].set_title("Catch-up")
    axes[2].set_title("Access")
    seeds = frame.groupby(column)["seed"].nunique()
    each = f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()}-{seeds.max()}"
    per = "scenario" if column == "scenario" else "point"
    fig.suptitle("Counterfactuals")
    return _finish(
        fig,
        out,
        "counterfactuals",
        f"{len(seeds)} {per}s x {each} seeds = {seeds.sum()} runs; line: mean, band: 2.5-97.5 "
        f"percentile over seeds; {_settings(spec)}",
        0.04,
    )


def sobol_indices(frame: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """First-order and total Sobol' indices with 95% bootstrap half-widths for each output of
    :data:`SOBOL_OUTPUTS` at the horizon (Saltelli 2002; Jansen 1999 estimators in SALib).
    Each point's output is the mean over its replicates; bootstrap resampling is seeded from
    the sweep's root seed."""
    from SALib.analyze import sobol as salib_sobol

    final = frame[frame["step"] == frame["step"].max()]
    means = final.groupby("point_id")[list(SOBOL_OUTPUTS)].mean().sort_index()
    expected = np.arange(len(means))
    if not np.array_equal(means.index.to_numpy(), expected):
        raise ValueError("sensitivity: the Saltelli design is incomplete; run the sweep to the end")
    problem = salib_problem(spec)
    rows = []
    for output in SOBOL_OUTPUTS:
        result = salib_sobol.analyze(
            problem,
            means[output].to_numpy(dtype=float),
            calc_second_order=spec.second_order,
            num_resamples=200,
            conf_level=0.95,
            seed=spec.root_seed,
        )
        for k, name in enumerate(problem["names"]):
            rows.append(
                {
                    "output": output,
                    "parameter": name,
                    "S1": result["S1"][k],
                    "S1_conf": result["S1_conf"][k],
                    "ST": result["ST"][k],
                    "ST_conf": result["ST_conf"][k],
                }
            )
    return pd.DataFrame(rows)


def sensitivity(frame: pd.DataFrame, spec: SweepSpec, out: Path) -> list[Path]:
    table = sobol_indices(frame, spec)
    csv = _write_csv(out.parent / "sobol_indices.csv", table)
    fig, axes = _figure((12, 4.8), 1, len(SOBOL_OUTPUTS), sharey=True)
    names = [d.name for d in spec.parameters]
    y = np.arange(len(names))
    for ax, output in zip(axes, SOBOL_OUTPUTS, strict=True):
        part = table[table["output"] == output].set_index("parameter").loc[names]
        ax.barh(y - 0.18, part["S1"], 0.36, xerr=part["S1_conf"], label="first order S1", capsize=2)
        ax.barh(y + 0.18, part["ST"], 0.36, xerr=part["ST_conf"], label="total ST", capsize=2)
        ax.set_yticks(y, names)
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_xlabel("Sobol' index (fraction of output variance)")
        ax.set_title(f"{LABELS[output]} at month {spec.steps}", fontsize=10)
        ax.legend(fontsize=8, loc="best")
    caption = (
        f"{runs_caption(frame, per='Saltelli point')}; each point's output is the mean over its "
        f"replicates; error bars: 95% bootstrap intervals; {_settings(spec)}"
    )
    return [*_finish(fig, out, "sensitivity", caption, 0.04), csv]


def generic(frame: pd.DataFrame, spec: SweepSpec, out: Path) -> list[Path]:
    final = frame[frame["step"] == frame["step"].max()]
    numeric = [
        d.name
        for d in spec.parameters
        if d.name in final.columns and pd.api.types.is_numeric_dtype(final[d.name])
    ]
    outputs = list(LABELS)
    if not numeric:
        numeric = ["point_id"]
    fig, axes = _figure(
        (3.6 * len(numeric), 2.4 * len(outputs)), len(outputs), len(numeric), squeeze=False
    )
    for i, output in enumerate(outputs):
        for j, name in enumerate(numeric):
            ax = axes[i, j]
            ax.scatter(final[name], final[output], s=6, alpha=0.5, label="one run")
            ax.set_xlabel(name)
            ax.set_ylabel(LABELS[output], fontsize=7)
    axes[0, 0].legend(fontsize=7)
    caption = f"{runs_caption(final)}; values at the horizon; {_settings(spec)}"
    return _finish(fig, out, "outputs_at_horizon", caption, 0.03)


DRAW = {
    "baseline": baseline,
    "phase_diagram": phase_diagram,
    "counterfactuals": counterfactuals,
    "sensitivity": sensitivity,
    "generic": generic,
}


def threshold_figure(directory: Path, *, check: bool = True) -> list[Path]:
    """The share of seeds with the outcome at each value a threshold search probed, with
    Wilson 95 % intervals, the level, the bisection bracket and the 95 % bracket. With
    ``check``, the stores of the rounds behind the probes (``rounds/r<r>``) are read checked
    first, as :func:`make_figures` reads a sweep's."""
    from sim.experiments.threshold import ROUNDS, read_threshold, wilson

    record = read_threshold(directory)
    if record.get("status") != "complete":
        raise ValueError(f"{directory}: search not complete; re-run the sweep command to finish it")
    if check:
        for index in sorted({int(p["round"]) for p in record["probes"]}):
            rounds = directory / ROUNDS / f"r{index:02d}"
            read_chunks(rounds, results_manifest(rounds), check=True)
    spec = spec_from_definition(record["definition"])
    probes = pd.DataFrame(record["probes"])
    level = float(record["level"])
    fig, ax = _figure((8, 4.8))
    shares = probes["successes"] / probes["runs"]
    lows, highs = [], []
    for k, n in zip(probes["successes"], probes["runs"], strict=True):
        low, high = wilson(int(k), int(n))
        lows.append(low)
        highs.append(high)
    err = np.vstack([shares - np.asarray(lows), np.asarray(highs) - shares])
    ax.errorbar(
        probes["value"], shares, yerr=err, fmt="o", color="C0", capsize=3, label="probe (95 %)"
    )
    for _, p in probes.iterrows():
        ax.annotate(
            str(int(p["round"])),
            (p["value"], p["successes"] / p["runs"]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.axhline(level, color="0.4", ls="--", lw=1, label=f"level {level:g}")
    if record.get("confident_bracket"):
        lo, hi = record["confident_bracket"]
        ax.axvspan(lo, hi, color="C1", alpha=0.15, label="95 % bracket")
    if record.get("bracket"):
        lo, hi = record["bracket"]
        ax.axvspan(lo, hi, color="C3", alpha=0.3, label="bisection bracket")
    if spec.parameters[0].scale == "log":
        ax.set_xscale("log")
    ax.set_xlabel(str(record["parameter"]))
    ax.set_ylabel(f"share of seeds with {record['outcome']}", fontsize=8)
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(f"Threshold search: {record['name']} (numbers: round)")
    runs = int(probes["runs"].sum())
    each = sorted(set(int(n) for n in probes["runs"]))
    caption = (
        f"{len(probes)} probes x {'-'.join(str(n) for n in each)} seeds = {runs} runs; bars: "
        f"Wilson 95 % intervals; outcome at the horizon; {_settings(spec)}"
    )
    return _finish(fig, directory / FIGURES, "threshold", caption, 0.05)


def make_figures(directory: str | Path, *, check: bool = True) -> list[Path]:
    """Draw the figures of a complete results directory, exactly the directory ``sweep --out
    DIR`` wrote (a sweep's, or a threshold search's); returns the files written.

    Every chunk's checksum and identity are verified first (``check=False`` skips that);
    a directory that is not a complete, readable result is a one-line :class:`StoreError`."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest is None and (directory / "threshold.json").exists():
        return threshold_figure(directory, check=check)
    if manifest is None:
        inside = sorted(
            p.name
            for p in (directory.iterdir() if directory.is_dir() else [])
            if (p / "manifest.json").exists() or (p / "threshold.json").exists()
        )
        if inside:
            more = ", ..." if len(inside) > 5 else ""
            raise StoreError(
                f"{directory}: no manifest.json; not a results directory; it holds results "
                f"directories ({', '.join(inside[:5])}{more}): pass one, e.g. "
                f"{directory / inside[0]}"
            )
        raise StoreError(f"{directory}: no manifest.json; not a results directory")
    if manifest.get("status") != "complete":
        raise StoreError(f"{directory}: sweep not complete; re-run the sweep command to finish it")
    try:
        spec = spec_from_definition(manifest["definition"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(
            f"{directory / 'manifest.json'}: definition is not a valid sweep ({reason})"
        ) from None
    frame = read_chunks(directory, manifest, check=check)
    return DRAW[spec.kind](frame, spec, directory / FIGURES)
