"""Phases of the access game: which of the home region's channels serve the rival region.

A run, or a cell of replicate runs, is in one of four phases, read from the fraction of its
direct-channel providers and the fraction of its partner-channel providers that allow access.
A fraction of at least one half counts as allowing (majority rule), so a single run is
classified by its providers' strategies and a cell of runs by the majority of its replicates on
each channel.

==============  ===========  ===========
phase           direct       partner
==============  ===========  ===========
all-allow       allows       allows
divergence      restricts    allows       the July 2024 pattern (stylized fact SF1)
mixed           allows       restricts
all-restrict    restricts    restricts
==============  ===========  ===========

The experiments' phase diagram (``regimes.csv``, :func:`sim.experiments.figures.regimes`) and
the validation check of stylized fact SF3 (:func:`sim.validation.check_sf3_phases`) both
classify through this module, so the two mean the same by "divergence". The experiments call a
phase a *regime*.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

PHASES = ("all-allow", "divergence", "mixed", "all-restrict")
PHASE_COLOURS = ("#4daf4a", "#ff7f00", "#984ea3", "#e41a1c")  # one colour per phase, in order


def phase_index(direct_allowing: ArrayLike, partner_allowing: ArrayLike) -> NDArray[np.intp]:
    """Index into :data:`PHASES` for each pair of allowing fractions (arrays broadcast)."""
    direct = np.asarray(direct_allowing, dtype=float) >= 0.5
    partner = np.asarray(partner_allowing, dtype=float) >= 0.5
    return np.where(direct, np.where(partner, 0, 2), np.where(partner, 1, 3)).astype(np.intp)


def classify(direct_allowing: float, partner_allowing: float) -> str:
    """The phase of one run or cell from the fraction of its direct and of its partner
    providers allowing (each in [0, 1]; a cell's fractions are means over its replicates)."""
    return PHASES[int(phase_index(direct_allowing, partner_allowing))]


def channel_allowing(
    allows: ArrayLike, channels: Sequence[str], channel: str
) -> NDArray[np.float64]:
    """Fraction of the providers on ``channel`` that allow, per row.

    ``allows`` is a boolean ``(rows, providers)`` array (a row is a run, or a stored step of
    one); ``channels`` names each provider's channel, in the same order.
    """
    matrix = np.asarray(allows, dtype=bool)
    if matrix.ndim != 2 or matrix.shape[1] != len(channels):
        raise ValueError(
            f"allows has shape {matrix.shape}: expected (rows, {len(channels)}) for "
            f"{len(channels)} providers"
        )
    on_channel = np.asarray(channels) == channel
    if not on_channel.any():
        raise ValueError(f"no provider on channel {channel!r}; channels: {sorted(set(channels))}")
    return matrix[:, on_channel].mean(axis=1)


def run_phases(allows: ArrayLike, channels: Sequence[str]) -> NDArray[np.intp]:
    """Index into :data:`PHASES` of each row of a ``(rows, providers)`` boolean array of
    allowing providers (see :func:`channel_allowing`)."""
    return phase_index(
        channel_allowing(allows, channels, "direct"), channel_allowing(allows, channels, "partner")
    )


def phase_shares(phases: ArrayLike) -> NDArray[np.float64]:
    """Share of runs in each phase (length ``len(PHASES)``) from their phase indices."""
    index = np.asarray(phases, dtype=np.intp).ravel()
    if index.size == 0:
        raise ValueError("phase_shares: expected at least one run")
    return np.bincount(index, minlength=len(PHASES)) / index.size
