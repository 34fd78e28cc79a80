r"""Network view: a sample of the model's enterprises with the links among them, coloured by
the provider each one uses.

Sample (once per model). With the model's network (``model.state.population.graph``, CSR
arrays of :class:`sim.network.Graph`) of ``N`` enterprises, ``S = min(N, 2000)`` of them are
taken by a *snowball*: ``R = max(1, S // 200)`` roots drawn uniformly, then whole
neighbourhoods breadth first, layer by layer (every root's layer together), until ``S``
enterprises are in; a layer that does not fit is cut to a uniform random subset, and when the
snowballs run out (small components) new roots are drawn. The members of all but the last
two layers have their whole neighbourhood in the sample, and every sampled enterprise is
linked to the one that brought it in, so the drawing keeps neighbourhoods that a uniform
sample would break up: 2,000 out of 20,000 drawn uniformly keep each link with probability
1/100, the snowball about three times as many links (``tests/test_viz.py``). The links drawn
are every link of the model's graph between two sampled enterprises (the induced subgraph),
and nothing else. At ``N <= 2000`` the whole network is drawn.

Positions (once per model): :func:`force_layout`, a Fruchterman-Reingold force layout whose
repulsion is computed on a grid (particle-mesh), started from one cluster per enterprise
segment. Coordinates are dimensionless in ``[-1, 1]``.

Without a network (scenario ``network.kind = "none"``) ``S`` enterprises are drawn uniformly,
placed uniformly in the unit disk, and the panel says that the scenario has no network.

Per step each sampled enterprise is coloured by its current option (provider ``j``, or "no
provider", index ``J``); positions and links stay fixed, so the links are sent to the page
once per model (:meth:`NetworkView.links_chart`) and a step only re-sends the coloured points
(:meth:`NetworkView.chart`).

Every random draw here comes from a generator derived from the model's seed
(:func:`viz_generator`), never from the model's own stream (drawing from ``model.rng`` would
change the simulated trajectory) and never from global ``np.random``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from sim.viz.charts import NO_PROVIDER_COLOUR, month_name, provider_colours

if TYPE_CHECKING:
    from sim.model import TechCompetitionModel
    from sim.network import Graph

MAX_SAMPLE = 2_000
NODES_PER_ROOT = 200
VIZ_STREAM_KEY = 0x56_49_5A  # spawn-key word reserved for the visualization's stream
AXIS_LIMIT = 1.08  # both charts of the panel show [-AXIS_LIMIT, AXIS_LIMIT] on both axes
GRID = {"top": 76, "bottom": 8, "left": 8, "right": 8}  # shared by both charts: aligned

Int = NDArray[np.int64]
Float = NDArray[np.float64]


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


# --- sample ---------------------------------------------------------------------------------


def _neighbours(graph: Graph, nodes: Int) -> Int:
    """All neighbours of ``nodes`` (with repeats), ``(sum of degrees,)``."""
    starts, stops = graph.indptr[nodes], graph.indptr[nodes + 1]
    counts = stops - starts
    if counts.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    # positions starts[i] .. stops[i] - 1 for every i, without a Python loop
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return graph.indices[offsets + np.arange(counts.sum())].astype(np.int64)


def snowball_sample(
    graph: Graph, size: int, rng: np.random.Generator, roots: int | None = None
) -> Int:
    """``size`` distinct nodes of ``graph`` (all of them when ``size >= graph.n``), sorted: a
    breadth-first snowball from ``roots`` random roots (default ``max(1, size // 200)``), the
    last layer cut to a uniform random subset, new roots drawn when the snowballs run out."""
    n = graph.n
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size={size!r}: expected a whole number >= 1")
    if size >= n:
        return np.arange(n, dtype=np.int64)
    roots = max(1, size // NODES_PER_ROOT) if roots is None else roots
    taken = np.zeros(n, dtype=bool)
    count = 0
    order = rng.permutation(n)  # candidate roots, in the order they are used
    next_root = 0
    frontier = np.zeros(0, dtype=np.int64)
    while count < size:
        if frontier.size == 0:
            while taken[order[next_root]]:
                next_root += 1
            new = order[next_root : next_root + roots]
            new = new[~taken[new]][: size - count]
        else:
            new = np.unique(_neighbours(graph, frontier))
            new = new[~taken[new]]
            if new.size > size - count:
                new = rng.choice(new, size=size - count, replace=False)
        taken[new] = True
        count += new.size
        frontier = new.astype(np.int64)
    return np.flatnonzero(taken).astype(np.int64)


def induced_edges(graph: Graph, sample: Int) -> tuple[Int, Int]:
    """Every edge of ``graph`` with both ends in ``sample`` (sorted node ids), once, as
    positions into ``sample``: two ``(E,)`` arrays ``a < b``."""
    local = np.full(graph.n, -1, dtype=np.int64)
    local[sample] = np.arange(sample.size)
    rows = np.repeat(local[sample], np.diff(graph.indptr)[sample])
    cols = local[_neighbours(graph, sample)]
    keep = (cols >= 0) & (rows < cols)
    return rows[keep], cols[keep]


# --- layout ---------------------------------------------------------------------------------


def force_layout(
    n: int,
    a: Int,
    b: Int,
    rng: np.random.Generator,
    groups: NDArray[np.integer[Any]] | None = None,
    iterations: int = 100,
    grid: int = 96,
    gravity: float = 3.0,
) -> Float:
    """Positions ``(n, 2)`` in ``[-1, 1]`` for ``n`` nodes with edges ``(a[e], b[e])``.

    Fruchterman-Reingold (1991) forces with ideal distance ``k = sqrt(area / n)`` (area of
    ``[-1, 1]^2`` = 4): each edge pulls its ends together with force ``d^2 / k``, every pair
    of nodes pushes apart with ``k^2 / d``; moves are capped by a temperature falling linearly
    to zero. The repulsion is computed by particle-mesh: node counts on a ``grid x grid`` mesh,
    convolved (FFT) with the potential ``-k^2 log r`` of the pairwise force, whose negative
    gradient is read at each node's cell, so an iteration is O(n + E + grid^2 log grid)
    instead of O(n^2).

    ``groups`` (one label per node, e.g. the enterprise segment): group ``g``'s nodes are held
    around their own centre ``c_g`` by a spring ``gravity * |x - c_g| (x - c_g) / k``; the
    centres lie on a circle of radius 0.55 (at the origin for a single group), so groups stay
    apart and links between them show as links between clusters. Without groups, one centre at
    the origin.
    """
    if n == 0:
        return np.zeros((0, 2))
    labels, group = np.unique(
        np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups),
        return_inverse=True,
    )
    angle = 2 * math.pi * np.arange(labels.size) / labels.size + math.pi / 2
    radius = 0.55 if labels.size > 1 else 0.0
    centre = (radius * np.column_stack([np.cos(angle), np.sin(angle)]))[group]
    pos = centre + 0.2 * _in_disk(n, rng)
    k = math.sqrt(4.0 / n)
    half = 1.5  # the mesh covers [-half, half]^2; nodes are kept inside
    cell = 2 * half / grid
    # potential of one unit mass at every mesh offset (-grid .. grid - 1 cells), softened
    offsets = np.fft.fftfreq(2 * grid, d=1.0 / (2 * grid)) * cell
    r = np.hypot(offsets[:, None], offsets[None, :])
    kernel_hat = np.fft.rfft2(-(k**2) * np.log(np.maximum(r, 0.5 * cell)))
    start_temperature = 0.1
    for it in range(iterations):
        ix = np.clip(((pos + half) / cell).astype(np.int64), 1, grid - 2)
        density = np.bincount(ix[:, 0] * 2 * grid + ix[:, 1], minlength=4 * grid * grid)
        density = density.reshape(2 * grid, 2 * grid).astype(float)
        potential = np.fft.irfft2(np.fft.rfft2(density) * kernel_hat, s=density.shape)
        gx, gy = cast(list[Float], np.gradient(potential[:grid, :grid], cell))
        force = -np.column_stack([gx[ix[:, 0], ix[:, 1]], gy[ix[:, 0], ix[:, 1]]])
        if a.size:
            delta = pos[b] - pos[a]
            pull = delta * (np.hypot(delta[:, 0], delta[:, 1]) / k)[:, None]
            for axis in range(2):
                force[:, axis] += np.bincount(a, pull[:, axis], minlength=n)
                force[:, axis] -= np.bincount(b, pull[:, axis], minlength=n)
        off = pos - centre
        force -= gravity * off * (np.hypot(off[:, 0], off[:, 1]) / k)[:, None]
        length = np.hypot(force[:, 0], force[:, 1])
        temperature = start_temperature * (1.0 - it / iterations)
        step = np.minimum(length, temperature) / np.maximum(length, 1e-12)
        pos = np.clip(pos + force * step[:, None], -half + 2 * cell, half - 2 * cell)
    pos -= (pos.max(axis=0) + pos.min(axis=0)) / 2
    return pos / max(float(np.abs(pos).max()), 1e-12)


def _in_disk(n: int, rng: np.random.Generator) -> Float:
    """``n`` points uniform in the unit disk: ``r = sqrt(u)``, ``theta = 2 pi v``."""
    radius, theta = np.sqrt(rng.random(n)), 2.0 * math.pi * rng.random(n)
    return np.column_stack([radius * np.cos(theta), radius * np.sin(theta)])


# --- the view -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkView:
    """The drawn part of a model's enterprises, fixed for the model's life.

    ``sample`` ``(S,)`` enterprise indices, increasing; ``positions`` ``(S, 2)``; ``links``
    ``(E, 2)`` positions into ``sample`` (``links[:, 0] < links[:, 1]``), every edge of the
    model's graph between two sampled enterprises; ``has_network`` False when the scenario has
    none (then ``links`` is empty)."""

    sample: Int
    positions: Float
    links: Int
    has_network: bool
    n_enterprises: int
    names: tuple[str, ...]
    colours: tuple[str, ...]
    segment_labels: tuple[tuple[str, float, float], ...]  # (segment, x, y): its nodes' centre
    _rounded: Float  # positions to 3 decimals: what the page is sent

    @classmethod
    def build(cls, model: TechCompetitionModel, max_sample: int = MAX_SAMPLE) -> NetworkView:
        """Draw the sample and the positions for ``model`` (see the module docstring)."""
        if isinstance(max_sample, bool) or not isinstance(max_sample, int) or max_sample < 1:
            raise ValueError(f"max_sample={max_sample!r}: expected a whole number >= 1")
        rng = viz_generator(model)
        n = model.params.n_enterprises
        size = min(n, max_sample)
        graph = cast("Graph | None", model.state.population.graph)
        core = model.core
        if graph is None:
            sample = np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)
            positions = _in_disk(size, rng)
            links = np.zeros((0, 2), dtype=np.int64)
        else:
            sample = snowball_sample(graph, size, rng)
            a, b = induced_edges(graph, sample)
            groups = core.segment_of[sample]
            positions = force_layout(sample.size, a, b, rng, groups=groups)
            links = np.column_stack([a, b])
        labels = []
        if graph is not None and core.n_segments > 1:
            for s, name in enumerate(core.segment_names):
                members = positions[core.segment_of[sample] == s]
                if len(members):
                    x, y = members.mean(axis=0)
                    labels.append((name, round(float(x), 3), round(float(y), 3)))
        return cls(
            sample=sample,
            positions=positions,
            links=links,
            has_network=graph is not None,
            n_enterprises=n,
            names=tuple(p.name for p in model.params.providers),
            colours=tuple(provider_colours(model)),
            segment_labels=tuple(labels),
            _rounded=np.round(positions, 3),
        )

    def options(self, model: TechCompetitionModel) -> NDArray[np.int16]:
        """Current option of each sampled enterprise ``(S,)``: provider index, or ``J``."""
        return model.state.choice[0, self.sample]

    def title(self, model: TechCompetitionModel) -> str:
        shown = f"{len(self.sample)} of {self.n_enterprises} enterprises"
        when = month_name(model.params, model.steps)
        if not self.has_network:
            return f"{shown} by provider, {when}: this scenario has no enterprise network"
        return f"{shown} and the {len(self.links)} links among them, by provider, {when}"

    def links_chart(self) -> dict[str, Any]:
        """ECharts figure of the links alone (grey), drawn under :meth:`chart` on the same
        axes; it does not change while the model runs."""
        segments = np.full((len(self.links), 3, 2), np.nan)
        segments[:, 0] = self._rounded[self.links[:, 0]]
        segments[:, 1] = self._rounded[self.links[:, 1]]
        x, y = segments.reshape(-1, 2).T
        return {
            "animation": False,
            "grid": GRID,
            "xAxis": _AXIS,
            "yAxis": _AXIS,
            "dataset": [{"source": {"x": _with_gaps(x), "y": _with_gaps(y)}}],
            "series": [
                {
                    "type": "line",
                    "name": "links",
                    "datasetIndex": 0,
                    "encode": {"x": "x", "y": "y"},
                    "showSymbol": False,
                    "connectNulls": False,
                    "color": "#9a9a9a",
                    "lineStyle": {"color": "#9a9a9a", "opacity": 0.35, "width": 0.6},
                    "silent": True,
                }
            ],
        }

    def chart(self, model: TechCompetitionModel) -> dict[str, Any]:
        """ECharts figure of the sampled enterprises, one scatter series per option coloured by
        provider (grey: none), on a transparent background over :meth:`links_chart`.

        Points come from column-oriented datasets (``{"x": [...], "y": [...]}``): plain lists
        of numbers rather than one object per point keep the per-step update small and cheap
        for the browser to take in."""
        j = len(self.names)
        options = self.options(model)
        names = [*self.names, "no provider"]
        colours = [*self.colours, NO_PROVIDER_COLOUR]
        datasets, series = [], []
        for k in range(j + 1):
            members = self._rounded[options == k]
            datasets.append({"source": {"x": members[:, 0].tolist(), "y": members[:, 1].tolist()}})
            series.append(
                {
                    "type": "scatter",
                    "name": names[k],
                    "datasetIndex": k,
                    "encode": {"x": "x", "y": "y"},
                    "symbolSize": 5,
                    "color": colours[k],
                    "itemStyle": {"opacity": 1.0},  # scatter's default is 0.8
                    "large": True,  # all points as one path: a third of the drawing time
                    "largeThreshold": 500,
                    "silent": True,
                }
            )
        if self.segment_labels:
            series.append(
                {
                    "type": "scatter",
                    "name": "segments",
                    "data": [{"name": n, "value": [x, y]} for n, x, y in self.segment_labels],
                    "symbolSize": 0,
                    "label": {
                        "show": True,
                        "formatter": "{b}",
                        "fontSize": 11,
                        "fontWeight": "bold",
                        "color": "#222222",
                        "backgroundColor": "rgba(255, 255, 255, 0.75)",
                        "padding": [1, 3],
                    },
                    "z": 5,
                    "silent": True,
                }
            )
        return {
            "animation": False,
            "title": {"text": self.title(model), "left": 8, "textStyle": {"fontSize": 13}},
            "legend": {"top": 26, "data": names, "icon": "circle"},
            "grid": GRID,
            "xAxis": _AXIS,
            "yAxis": _AXIS,
            "dataset": datasets,
            "series": series,
        }


_AXIS = {"type": "value", "show": False, "min": -AXIS_LIMIT, "max": AXIS_LIMIT}


def _with_gaps(values: Float) -> list[float | None]:
    """Values as a list with NaN (a gap between links) sent as ``None`` (JSON null)."""
    return [None if math.isnan(v) else v for v in values.tolist()]
