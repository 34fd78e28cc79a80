"""Figures of a calibration: the posterior's pairwise plot and the posterior predictive
against the targets (written by :func:`sim.calibration.core.run_calibration`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from sim.calibration.core import CalibrationSpec


def posterior_figure(spec: CalibrationSpec, posterior: pd.DataFrame, path: Path) -> Path:
    """Pairwise posterior plot: weighted histograms on the diagonal, particles below it
    (darker: larger weight), every axis over the prior's range; a log-uniform prior's
    parameter is shown as its base-10 logarithm."""
    names = list(spec.parameter_names)
    priors = dict(spec.priors)
    n = len(names)
    size = max(6.0, 1.3 * n)
    fig = Figure(figsize=(size, size))  # no pyplot: the caller's backend is left alone
    axes = fig.subplots(n, n, squeeze=False)
    w = posterior["weight"].to_numpy(dtype=float)
    alpha = 0.15 + 0.85 * w / max(w.max(), 1e-300)
    colours = np.zeros((len(w), 4))
    colours[:, 2] = 0.55
    colours[:, 3] = alpha

    def shown(name: str) -> tuple[np.ndarray, tuple[float, float], str]:
        prior = priors[name]
        x = posterior[name].to_numpy(dtype=float)
        if prior.scale == "log":
            return np.log10(x), (np.log10(prior.low), np.log10(prior.high)), f"log10 {name}"
        return x, (prior.low, prior.high), name

    for i, row_name in enumerate(names):
        y, ylim, ylabel = shown(row_name)
        for j, col_name in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            x, xlim, xlabel = shown(col_name)
            if i == j:
                ax.hist(x, bins=np.linspace(*xlim, 21), weights=w, color="C0", alpha=0.8)
                ax.set_yticks([])
            else:
                ax.scatter(x, y, s=2, c=colours, lw=0)
                ax.set_ylim(*ylim)
            ax.set_xlim(*xlim)
            ax.tick_params(labelsize=5, length=2, pad=1)
            ax.locator_params(nbins=3)
            if i == n - 1:
                ax.set_xlabel(xlabel, fontsize=6)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(ylabel, fontsize=6)
            elif j > 0:
                ax.set_yticklabels([])
    fig.suptitle(
        f"Posterior of {spec.name}: {len(posterior)} particles; axes span the priors",
        fontsize=10,
    )
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.06, top=0.96, wspace=0.1, hspace=0.1)
    fig.savefig(path, dpi=110)
    return path


def predictive_figure(
    spec: CalibrationSpec, predictive: pd.DataFrame, paths: pd.DataFrame, path: Path
) -> Path:
    """Posterior predictive: for each targeted output, its 5-95% band and median by month with
    the month targets as points (error bars: tolerance; squares: held out); then every
    target's 90% interval as a multiple of its observed value (log axis)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    quantities = list(dict.fromkeys(paths["quantity"]))
    panels = len(quantities) + 1
    cols = min(panels, 3)
    rows = int(np.ceil(panels / cols))
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    targets = dict(spec.targets)
    from sim.calibration.core import _month_zero

    zero = _month_zero(spec.base)
    for ax, quantity in zip(axes.flat, quantities, strict=False):
        sub = paths[paths["quantity"] == quantity]
        ax.fill_between(sub["month"], sub["q05"], sub["q95"], color="C0", alpha=0.3, label="5-95%")
        ax.plot(sub["month"], sub["q50"], color="C0", label="median")
        for name, t in targets.items():
            if t.quantity == quantity and t.relative_to is None:
                ax.errorbar(
                    t.month,
                    t.observed,
                    yerr=t.tolerance,
                    fmt="o" if t.fit else "s",
                    color="k" if t.fit else "C3",
                    ms=4,
                    capsize=3,
                    label=("fitted" if t.fit else "held out") + f": {name}",
                )
        ax.set_title(quantity, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"month ({zero})" if zero else "month", fontsize=8)
        ax.legend(fontsize=6)
    ax = list(axes.flat)[len(quantities)]
    y = np.arange(len(predictive))
    rel = predictive["q50"].to_numpy(dtype=float)
    lo = predictive["q05"].to_numpy(dtype=float)
    hi = predictive["q95"].to_numpy(dtype=float)
    obs = predictive["observed"].to_numpy(dtype=float)
    scale = np.where(obs != 0, np.abs(obs), 1.0)
    ax.errorbar(
        rel / scale,
        y,
        xerr=[(rel - lo) / scale, (hi - rel) / scale],
        fmt="o",
        color="C0",
        capsize=3,
        label="predictive median, 5-95%",
    )
    ax.axvline(1.0, color="k", lw=0.8, label="observed")
    ax.set_yticks(y)
    ax.set_yticklabels(
        [f"{r.target}{'' if r.fit else ' (held out)'}" for r in predictive.itertuples()],
        fontsize=6,
    )
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("simulated / observed", fontsize=8)
    ax.set_title("every target", fontsize=9)
    ax.legend(fontsize=6)
    for extra in list(axes.flat)[panels:]:
        extra.set_visible(False)
    fig.suptitle(f"Posterior predictive of {spec.name}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    return path
