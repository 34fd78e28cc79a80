r"""Network view: a sample of enterprises linked to the provider each one uses.

Layout, computed once per model and kept fixed so that a step only recolours and rewires:

* the ``J`` providers are hubs on the unit circle, hub ``j`` at angle
  ``pi/2 + 2 pi j / J`` (foreign providers first, so they sit at the top);
* a sample of ``S = min(N, 2000)`` enterprises, drawn without replacement, each at a fixed
  point uniform in the disk of radius 0.75: ``r = 0.75 sqrt(u)``, ``theta = 2 pi v`` with
  ``u, v ~ U(0, 1)``; coordinates are dimensionless.

Per step each sampled enterprise is coloured by its current option (provider ``j`` or "no
provider", index ``J``) and linked to its provider's hub; hub size grows with the provider's
share of all ``N`` enterprises.

The sample and the positions come from a generator derived from the model's seed, never from
the model's own stream (drawing from ``model.rng`` would change the simulated trajectory) and
never from global ``np.random``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from sim.viz.charts import NO_PROVIDER_COLOUR, provider_colours

if TYPE_CHECKING:
    from sim.model import TechCompetitionModel

MAX_SAMPLE = 2_000
SAMPLE_RADIUS = 0.75
VIZ_STREAM_KEY = 0x56_49_5A  # spawn-key word reserved for the visualization's stream


def viz_generator(model: TechCompetitionModel) -> np.random.Generator:
    """A generator independent of ``model.rng`` but determined by the same seed: the model's
    ``SeedSequence`` with :data:`VIZ_STREAM_KEY` appended to its spawn key. Deriving it does
    not advance or otherwise touch the model's stream."""
    seq = model.rng.bit_generator.seed_seq
    if not isinstance(seq, np.random.SeedSequence):
        raise ValueError(
            f"model.rng={model.rng!r}: expected a generator built from a seed (SeedSequence)"
        )
    derived = np.random.SeedSequence(
        seq.entropy, spawn_key=(*seq.spawn_key, VIZ_STREAM_KEY), pool_size=seq.pool_size
    )
    return np.random.default_rng(derived)


@dataclass(frozen=True)
class NetworkLayout:
    """Fixed positions of the hubs ``(J, 2)`` and of the sampled enterprises ``(S, 2)``;
    ``sample`` holds the sampled enterprise indices ``(S,)``, increasing."""

    sample: NDArray[np.intp]
    positions: NDArray[np.float64]
    hubs: NDArray[np.float64]
    names: tuple[str, ...]
    colours: tuple[str, ...]
    _rounded: NDArray[np.float64]  # positions to 3 decimals: what the page is sent
    _rounded_hubs: NDArray[np.float64]

    @classmethod
    def build(cls, model: TechCompetitionModel, max_sample: int = MAX_SAMPLE) -> NetworkLayout:
        """Draw the sample and the positions for ``model`` (see the module docstring)."""
        if isinstance(max_sample, bool) or not isinstance(max_sample, int) or max_sample < 1:
            raise ValueError(f"max_sample={max_sample!r}: expected a whole number >= 1")
        rng = viz_generator(model)
        n = model.params.n_enterprises
        size = min(n, max_sample)
        sample = np.sort(rng.choice(n, size=size, replace=False)).astype(np.intp)
        u, v = rng.random(size), rng.random(size)
        radius, theta = SAMPLE_RADIUS * np.sqrt(u), 2.0 * math.pi * v
        positions = np.column_stack([radius * np.cos(theta), radius * np.sin(theta)])
        j = model.params.n_providers
        angles = math.pi / 2 + 2.0 * math.pi * np.arange(j) / j
        hubs = np.column_stack([np.cos(angles), np.sin(angles)])
        return cls(
            sample=sample,
            positions=positions,
            hubs=hubs,
            names=tuple(p.name for p in model.params.providers),
            colours=tuple(provider_colours(model)),
            _rounded=np.round(positions, 3),
            _rounded_hubs=np.round(hubs, 3),
        )

    def options(self, model: TechCompetitionModel) -> NDArray[np.int16]:
        """Current option of each sampled enterprise ``(S,)``: provider index, or ``J``."""
        return model.state.choice[0, self.sample]

    def chart(self, model: TechCompetitionModel) -> dict[str, Any]:
        """ECharts figure: hubs (size by share, labelled), sampled enterprises coloured by
        provider, and a faint link from each enterprise to its provider's hub.

        Points and links come from column-oriented datasets (``{"x": [...], "y": [...]}``), one
        per provider for the links (points alternating enterprise, hub, gap ``None``) and one
        per option for the enterprises: plain lists of numbers rather than one object or pair
        per point keep the page's per-step update small and cheap for the browser to take in."""
        j = len(self.names)
        shares = model.observation.provider["share"][0]
        options = self.options(model)
        names = [*self.names, "no provider"]
        colours = [*self.colours, NO_PROVIDER_COLOUR]
        members = [self._rounded[options == k] for k in range(j + 1)]
        datasets, series = [], []
        for k in range(j):
            spokes = np.full((len(members[k]), 3, 2), np.nan)
            spokes[:, 0] = members[k]
            spokes[:, 1] = self._rounded_hubs[k]
            x, y = spokes.reshape(-1, 2).T
            datasets.append({"source": {"x": _with_gaps(x), "y": _with_gaps(y)}})
            series.append(
                {
                    "type": "line",
                    "name": names[k],
                    "datasetIndex": k,
                    "encode": {"x": "x", "y": "y"},
                    "showSymbol": False,
                    "connectNulls": False,
                    "color": colours[k],
                    "lineStyle": {"color": colours[k], "opacity": 0.06, "width": 0.5},
                    "silent": True,
                }
            )
        for k in range(j + 1):
            datasets.append(
                {"source": {"x": members[k][:, 0].tolist(), "y": members[k][:, 1].tolist()}}
            )
            series.append(
                {
                    "type": "scatter",
                    "name": names[k],
                    "datasetIndex": len(datasets) - 1,
                    "encode": {"x": "x", "y": "y"},
                    "symbolSize": 4,
                    "color": colours[k],
                    "large": True,  # all points as one path: a third of the drawing time
                    "largeThreshold": 500,
                    "silent": True,
                }
            )
        hubs = self._rounded_hubs.tolist()
        series.append(
            {
                "type": "scatter",
                "name": "providers",
                "data": [
                    {
                        "value": hubs[k],
                        "name": f"{self.names[k]} ({float(shares[k]):.0%})",
                        "symbolSize": 14 + 46 * math.sqrt(float(shares[k])),
                        "itemStyle": {"color": colours[k]},
                    }
                    for k in range(j)
                ],
                "label": {"show": True, "position": "top", "formatter": "{b}"},
                "z": 3,
                "silent": True,
            }
        )
        axis = {"type": "value", "show": False, "min": -1.25, "max": 1.25}
        return {
            "animation": False,
            "title": {
                "text": f"{len(self.sample)} of {model.params.n_enterprises} enterprises "
                f"by provider, month {model.steps}",
                "left": 8,
                "textStyle": {"fontSize": 13},
            },
            "legend": {"top": 24, "data": names, "icon": "circle"},
            "grid": {"top": 80, "bottom": 10, "left": 10, "right": 10},
            "xAxis": axis,
            "yAxis": axis,
            "dataset": datasets,
            "series": series,
        }


def _with_gaps(values: NDArray[np.float64]) -> list[float | None]:
    """Values as a list with NaN (a gap between links) sent as ``None`` (JSON null)."""
    return [None if math.isnan(v) else v for v in values.tolist()]
