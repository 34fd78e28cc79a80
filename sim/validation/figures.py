"""One PNG per validation check: simulated points with their error bars against theory.

Drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot, no backend switch), so writing the
report changes no global matplotlib state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from sim.phases import PHASE_COLOURS, PHASES
from sim.validation.checks import Z95, Check


def _meanfield(fig: Figure, check: Check, bar: Any) -> None:
    """Left: distance against N with the fitted N^(-1/2) line; right: the trajectories."""
    extra = check.extra
    ax, ax2 = fig.subplots(1, 2)
    ax.errorbar(check.x, check.simulated, yerr=bar, fmt="o", capsize=3, label="ABM (95 % CI)")
    ax.plot(check.x, check.expected, "-", label=f"N^(-1/2) (fitted slope {extra['slope']:.3f})")
    ax.set(xscale="log", yscale="log", xlabel=check.x_label, ylabel=check.y_label)
    ax.legend()
    for n, curve in zip(check.x, extra["abm_curves"], strict=True):
        ax2.plot(curve, lw=1, label=f"ABM average, N = {n:g}")
    ax2.plot(extra["mf_curve"], "k--", lw=2, label="mean field")
    ax2.set(xlabel="step (month)", ylabel="domestic share")
    ax2.legend(fontsize=8)


def _meanfield_segments(fig: Figure, check: Check) -> None:
    """Left: domestic share over time, ABM mean (95 % band) against the mean field; right: each
    segment's domestic share, ABM means (markers) on the mean field's lines."""
    curves = check.extra["curves"]
    ax, ax2 = fig.subplots(1, 2)
    steps = np.asarray(curves["steps"])
    mean, band = np.asarray(curves["abm_mean"]), Z95 * np.asarray(curves["abm_se"])
    ax.plot(curves["mf"], "k--", lw=2, label="mean field")
    ax.errorbar(steps, mean, yerr=band, fmt="o", ms=4, capsize=2, label="ABM mean (95 %)")
    ax.set(xlabel="step (month)", ylabel="domestic share (all enterprises)")
    ax.legend(fontsize=8)
    for s, name in enumerate(curves["segment_names"]):
        ax2.plot(curves["segment_mf"][s], "-", lw=1, color=f"C{s}")
        ax2.plot(steps, curves["segment_abm"][s], "o", ms=3, color=f"C{s}", label=name)
    ax2.set(xlabel="step (month)", ylabel="domestic share of the segment")
    ax2.legend(fontsize=7, title="lines: mean field", title_fontsize=7)


def _peer_departure(fig: Figure, check: Check) -> None:
    """Per-seed domestic shares at the last step against the mean field and the binomial
    spread; local agreement and concentration over time, ABM against the closure."""
    runs = check.extra["runs"]
    ax, ax2, ax3 = fig.subplots(1, 3)
    for colour, key in (("C0", "reference"), ("C3", "small world")):
        run = runs[key]
        values = np.asarray(run["final_domestic"])
        ax.hist(values, bins=30, density=True, alpha=0.45, color=colour, label=run["label"])
        grid = np.linspace(values.min(), values.max(), 200)
        sd = run["binomial_sd"]
        normal = np.exp(-0.5 * ((grid - run["mf_final_domestic"]) / sd) ** 2) / (
            sd * np.sqrt(2 * np.pi)
        )
        ax.plot(grid, normal, "-", color=colour, lw=1)
        ax.axvline(run["mf_final_domestic"], color=colour, ls="--", lw=1)
    ax.set(xlabel=f"domestic share at step {check.extra['final']}", ylabel="density")
    ax.set_title("seeds; lines: mean field and binomial spread", fontsize=8)
    ax.legend(fontsize=7)
    for colour, key in (("C0", "reference"), ("C3", "small world"), ("C2", "strong")):
        run = runs[key]
        ax2.plot(run["steps"], run["agreement_mean"], "o-", ms=3, color=colour, label=run["label"])
        ax2.plot(run["mf_agreement"], "--", color=colour, lw=1)
        ax3.plot(run["steps"], run["hhi_mean"], "o-", ms=3, color=colour, label=run["label"])
        ax3.plot(run["mf_hhi"], "--", color=colour, lw=1)
    ax2.set(xlabel="step (month)", ylabel="local agreement")
    ax2.set_title("ABM (markers) vs mixing closure (dashed)", fontsize=8)
    ax2.legend(fontsize=7)
    ax3.set(xlabel="step (month)", ylabel="HHI of provider usage")
    ax3.set_title("clusters hold out: ABM below the closure", fontsize=8)


def _protection(fig: Figure, check: Check, bar: Any) -> None:
    """Block share against the initial gap, with the rival's static thresholds."""
    extra = check.extra
    ax = fig.subplots()
    ax.errorbar(check.x, check.simulated, yerr=bar, fmt="o-", capsize=4, label="ABM (95 %)")
    ax.axvline(extra["threshold"], color="C3", ls="--", label="threshold: lab restricts")
    ax.axvline(extra["threshold_open"], color="C3", ls=":", label="threshold: both allow")
    ax.invert_xaxis()  # domestic quality nears the frontier to the right
    ax.set(xlabel=check.x_label + " (towards the frontier ->)", ylabel=check.y_label)
    ax.legend(fontsize=8)


def _divergence(fig: Figure, check: Check) -> None:
    """Share of seeds diverging at each horizon with its one-sided 95 % Wilson bounds."""
    share = np.asarray(check.simulated)
    low, high = np.asarray(check.extra["lower"]), np.asarray(check.extra["upper"])
    pos = np.arange(len(share), dtype=float)
    ax = fig.subplots()
    ax.errorbar(
        pos, share, yerr=[share - low, high - share], fmt="o", capsize=4, label="share (Wilson)"
    )
    ax.axhline(check.expected[0], color="C1", ls="--", label="lower bound must exceed")
    ax.set_xticks(pos, check.labels)
    ax.set(xlabel=check.x_label, ylabel=check.y_label, ylim=(min(0.75, low.min() - 0.02), 1.01))
    ax.legend(fontsize=8)


def _backfire(fig: Figure, check: Check) -> None:
    """Domestic share and capability gap over time, mandate against none (95 % bands)."""
    for ax, column in zip(fig.subplots(1, 2), ("domestic_share", "capability_gap"), strict=True):
        for name, curve in check.extra["curves"].items():
            mean = np.asarray(curve[f"{column}_mean"])
            band = Z95 * np.asarray(curve[f"{column}_sem"])
            ax.errorbar(curve["step"], mean, yerr=band, capsize=2, label=name)
        ax.set(xlabel="step (month)", ylabel=column.replace("_", " "))
        ax.legend()


def _phases(fig: Figure, check: Check) -> None:
    """Modal phase of each (V, e f) cell, annotated with the share of seeds in it."""
    extra = check.extra
    share = np.asarray(extra["phase_share"])  # (V, penalty, phase)
    modal = share.argmax(-1)
    ax = fig.subplots()
    image = ax.imshow(
        modal,
        origin="lower",
        cmap=ListedColormap(PHASE_COLOURS),
        vmin=-0.5,
        vmax=len(PHASES) - 0.5,
    )
    ax.set_xticks(range(len(extra["penalties"])), [f"{p:g}" for p in extra["penalties"]])
    ax.set_yticks(range(len(extra["values"])), [f"{v:g}" for v in extra["values"]])
    ax.set(xlabel="expected penalty e f ($M/step)", ylabel="market value V ($M/step)")
    for (i, j), k in np.ndenumerate(modal):
        ax.text(j, i, f"{share[i, j, k]:.2f}", ha="center", va="center", color="w")
    colorbar = fig.colorbar(image, ax=ax, ticks=range(len(PHASES)))
    colorbar.ax.set_yticklabels(list(PHASES))
    ax.set_title("modal phase (share of seeds in it)")


def _points(fig: Figure, check: Check, bar: Any) -> None:
    """Simulated points with error bars, closed forms and the oracle's values."""
    extra = check.extra
    sim, exp, orc = (np.asarray(v) for v in (check.simulated, check.expected, check.oracle))
    ax = fig.subplots()
    if check.key == "stag_hunt":
        ax.plot(extra["phi_curve"], extra["phi"], "-", color="C1", label="TNP phi_k")
        ax.axvline(extra["boundary"], color="grey", ls=":", label="(d-b)/(a-b-c+d)")
        pos = np.asarray(check.x)
    else:
        pos = np.arange(len(sim), dtype=float)
    label = "simulated (95 %)" if check.error_kind == "se" else "simulated (interval)"
    ax.errorbar(pos, sim, yerr=bar, fmt="o", capsize=4, label=label)
    if np.isfinite(exp).any():
        ax.plot(pos, exp, "x", ms=10, mew=2, color="C1", label="closed form")
    if np.isfinite(orc).any():
        ax.plot(pos, orc, "o", mfc="none", ms=12, color="C2", label=check.oracle_name)
    if check.key != "stag_hunt":
        ticks = check.labels or tuple(f"{v:g}" for v in check.x)
        ax.set_xticks(pos, ticks, rotation=20, ha="right", fontsize=8)
    ax.set(xlabel=check.x_label, ylabel=check.y_label)
    ax.legend(fontsize=8)


def draw(check: Check, path: Path) -> None:
    """Write ``check``'s figure to ``path`` (PNG). Error bars are 95 % (1.96 standard errors)
    when ``check.error_kind == "se"``, else the check's own interval."""
    err = np.asarray(check.error)
    bar = Z95 * err if check.error_kind == "se" else err
    if check.key == "meanfield_scaling":
        fig = Figure(figsize=(10, 4))
        _meanfield(fig, check, bar)
    elif check.key == "meanfield_segments":
        fig = Figure(figsize=(10, 4))
        _meanfield_segments(fig, check)
    elif check.key == "peer_departure":
        fig = Figure(figsize=(14, 4.2))
        _peer_departure(fig, check)
    elif check.key == "sf1_divergence":
        fig = Figure(figsize=(6.5, 4))
        _divergence(fig, check)
    elif check.key == "sf4_protection":
        fig = Figure(figsize=(6.5, 4))
        _protection(fig, check, bar)
    elif check.key == "sf2_backfire":
        fig = Figure(figsize=(10, 4))
        _backfire(fig, check)
    elif check.key == "sf3_phases":
        fig = Figure(figsize=(6, 4.5))
        _phases(fig, check)
    else:
        fig = Figure(figsize=(6.5, 4))
        _points(fig, check, bar)
    fig.suptitle(check.title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
