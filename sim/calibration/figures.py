"""Figures of a calibration: the posterior's pairwise plot and the posterior predictive
against the targets (written by :func:`sim.calibration.core.run_calibration`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sim.calibration.core import CalibrationSpec


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def posterior_figure(spec: CalibrationSpec, posterior: pd.DataFrame, path: Path) -> Path:
    """Pairwise posterior plot: weighted histograms on the diagonal, particles below it
    (darker: larger weight), every axis over the prior's range (log axes for log priors)."""
    plt = _pyplot()
    names = list(spec.parameter_names)
    priors = dict(spec.priors)
    n = len(names)
    size = max(6.0, 1.45 * n)
    fig, axes = plt.subplots(n, n, figsize=(size, size), squeeze=False)
    w = posterior["weight"].to_numpy(dtype=float)
    alpha = 0.15 + 0.85 * w / max(w.max(), 1e-300)
    colours = np.zeros((len(w), 4))
    colours[:, 2] = 0.55
    colours[:, 3] = alpha
    for i, row_name in enumerate(names):
        for j, col_name in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            px = priors[col_name]
            x = posterior[col_name].to_numpy(dtype=float)
            if i == j:
                if px.scale == "log":
                    bins = np.geomspace(px.low, px.high, 21)
                    ax.set_xscale("log")
                else:
                    bins = np.linspace(px.low, px.high, 21)
                ax.hist(x, bins=bins, weights=w, color="C0", alpha=0.8)
                ax.set_yticks([])
            else:
                py = priors[row_name]
                ax.scatter(x, posterior[row_name].to_numpy(dtype=float), s=3, c=colours, lw=0)
                if px.scale == "log":
                    ax.set_xscale("log")
                if py.scale == "log":
                    ax.set_yscale("log")
                ax.set_ylim(py.low, py.high)
            ax.set_xlim(px.low, px.high)
            ax.tick_params(labelsize=5)
            if i == n - 1:
                ax.set_xlabel(col_name, fontsize=6)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(row_name, fontsize=6)
            elif j > 0:
                ax.set_yticklabels([])
    fig.suptitle(
        f"Posterior of {spec.name}: {len(posterior)} particles (axes: prior ranges)", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def predictive_figure(
    spec: CalibrationSpec, predictive: pd.DataFrame, paths: pd.DataFrame, path: Path
) -> Path:
    """Posterior predictive: for each targeted output, its 5-95% band and median by month with
    the month-targets as points (error bars: tolerance); then every target's 90% interval
    against its observed value (ratios on a log axis)."""
    plt = _pyplot()
    quantities = list(dict.fromkeys(paths["quantity"]))
    panels = len(quantities) + 1
    cols = min(panels, 3)
    rows = int(np.ceil(panels / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    targets = dict(spec.targets)
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
        ax.set_xlabel("month (0 = January 2024)", fontsize=8)
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
    ax.set_xlabel("simulated / observed", fontsize=8)
    ax.set_title("every target", fontsize=9)
    ax.legend(fontsize=6)
    for extra in list(axes.flat)[panels:]:
        extra.set_visible(False)
    fig.suptitle(f"Posterior predictive of {spec.name}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
