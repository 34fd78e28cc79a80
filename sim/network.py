r"""The enterprises' interaction network: sparse random graphs as CSR arrays. Pure NumPy.

Shapes and conventions
    ``n`` nodes (enterprises) labelled ``0 .. n - 1``; an undirected simple graph (no self-loops,
    no multi-edges) with ``E`` edges is held as CSR arrays: ``indptr`` ``(n + 1,)`` int64 and
    ``indices`` ``(2 E,)`` int32, node ``i``'s neighbours being
    ``indices[indptr[i]:indptr[i + 1]]`` in increasing order. Every edge is stored in both
    rows. ``degrees = diff(indptr)``; the mean degree is ``2 E / n``.

Generators
    Each takes an explicit :class:`numpy.random.Generator` and draws only from it (no global
    state, no other source): the sequence of draws is a deterministic function of the arguments
    and the generator's state, so the same seed gives the same graph, and each docstring lists
    its draws in order. Redraws (a rewiring that hit an existing edge, a repeated preferential
    pick, a repeated pair) make the number of draws depend on the values drawn, so where the
    stream stands after a call depends on the seed too. :func:`build` draws exactly one
    integer from the run's stream and hands the generators a child stream seeded with it, so
    the run's later draws never depend on the network's kind, size or parameters.

``small_world(n, k, p)``
    Watts & Strogatz (1998): a ring lattice, each node linked to its ``k / 2`` nearest
    neighbours on each side, whose ``n k / 2`` edges ``(u, u + j mod n)`` each have their far
    end ``u + j`` replaced, with probability ``p``, by a uniformly random node ``w``. Clustering
    (Barrat & Weigt 2000): ``C(p) ~= C0 (1 - p)^3`` with ``C0 = 3 (k - 2) / (4 (k - 1))``
    (:func:`sim.params.lattice_clustering`); :func:`rewiring_for_clustering` inverts it. Degree:
    ``k / 2`` kept near ends, ``Binomial(k / 2, 1 - p)`` kept far ends, about
    ``Poisson(p k / 2)`` received rewired ends: mean ``k``, variance about ``(k / 2) p (2 - p)``.

``scale_free(n, 2 m)``
    Barabasi & Albert (1999) preferential attachment, ``m`` edges per new node, on networkx's
    initial star of ``m + 1`` nodes: ``E = m (n - m)`` edges, mean degree ``2 m (n - m) / n``,
    degree distribution ``P(k) = 2 m (m + 1) / (k (k + 1) (k + 2))`` for ``k >= m`` in the large
    ``n`` limit (Dorogovtsev, Mendes & Samukhin 2000; Bollobas et al. 2001), tail
    ``P(K >= k) = m (m + 1) / (k (k + 1)) ~ k^-2`` (density ``~ k^-3``), largest degree
    ``~ m n^(1/2)``. Sampled with the endpoint-list (linearized chord diagram) formulation of
    Bollobas & Riordan (2004), see :func:`scale_free`.

``block_model(segment, d, h)``
    A stochastic block model (Holland, Laskey & Leinhardt 1983) over segments ``b`` of sizes
    ``n_b``: each pair inside segment ``b`` is linked with probability
    ``p_b = h d / (n_b - 1)``, each pair across segments with one probability
    ``q = (1 - h) d n / (n^2 - sum_b n_b^2)`` (:func:`block_probabilities`). Then every member
    expects ``h d`` ties inside its segment, its ties across are spread over the other segments
    in proportion to their sizes, the expected number of tie ends is exactly ``d n`` (mean
    degree ``d``) and exactly a share ``h`` of them lies inside the owner's segment (no
    probability capped at 1, no segment of one member). With equal segment sizes every member
    expects degree ``d`` and share ``h``; with unequal sizes a member of segment ``b`` expects
    ``(1 - h) d n (n - n_b) / (n^2 - sum_c n_c^2)`` ties across (more in small segments), as
    symmetric ties cannot give every segment ``(1 - h) d`` ties across: e.g. shares
    (0.5, 0.3, 0.2), ``d = 8``, ``h = 0.8``: expected degrees 7.69, 8.21, 8.46 and shares inside
    0.83, 0.78, 0.76.

Analysis and the per-step kernel
    :func:`average_clustering` (networkx's definition: mean over nodes of
    ``c_i = 2 T_i / (d_i (d_i - 1))``, ``T_i`` the triangles through ``i`` from
    :func:`triangles`, ``c_i = 0`` when ``d_i < 2``) and :func:`neighbour_shares`
    (spend-weighted option shares among a subset of nodes' neighbours, read from their CSR
    rows only). :func:`build` dispatches on :class:`sim.params.Network`'s ``kind``; :func:`stack`
    puts one graph per run into one block-diagonal graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from sim.params import lattice_clustering

if TYPE_CHECKING:
    import networkx as nx

Int64 = NDArray[np.int64]
Int32 = NDArray[np.int32]
Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

KINDS = ("none", "small_world", "scale_free", "block")
_INT32_MAX = int(np.iinfo(np.int32).max)
_MIN_REWIRING_ROUNDS = 200
_FIRST_BLOCK = 64  # nodes in scale_free's first block


# --------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Graph:
    """An undirected simple graph on nodes ``0 .. n - 1`` as read-only CSR arrays.

    ``indptr`` ``(n + 1,)`` int64 with ``indptr[0] = 0``; ``indices`` ``(indptr[-1],)`` int32;
    row ``i`` (``indices[indptr[i]:indptr[i + 1]]``) holds ``i``'s neighbours in increasing
    order; every edge appears in both rows; no self-loops, no duplicates. Construction checks
    dtypes and shapes only (O(1)); :meth:`check` verifies the rest (O(E log E)). Build graphs
    with :meth:`from_edges` or the generators of this module.
    """

    indptr: Int64
    indices: Int32

    def __post_init__(self) -> None:
        indptr, indices = self.indptr, self.indices
        if not isinstance(indptr, np.ndarray) or indptr.dtype != np.int64 or indptr.ndim != 1:
            raise TypeError("Graph.indptr: expected a 1-d int64 array")
        if not isinstance(indices, np.ndarray) or indices.dtype != np.int32 or indices.ndim != 1:
            raise TypeError("Graph.indices: expected a 1-d int32 array")
        if indptr.size < 1 or indptr[0] != 0 or indptr[-1] != indices.size:
            raise ValueError(
                f"Graph.indptr: expected indptr[0] = 0 and indptr[-1] = len(indices) = "
                f"{indices.size}; got {indptr[:1].tolist()} .. {indptr[-1:].tolist()}"
            )
        indptr.setflags(write=False)
        indices.setflags(write=False)

    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.indptr.size - 1)

    @property
    def n_edges(self) -> int:
        """Number of (undirected) edges, ``len(indices) / 2``."""
        return int(self.indices.size // 2)

    @property
    def degrees(self) -> Int64:
        """Degree of every node, ``(n,)`` int64."""
        return np.diff(self.indptr)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return np.array_equal(self.indptr, other.indptr) and np.array_equal(
            self.indices, other.indices
        )

    __hash__ = None  # type: ignore[assignment]  # arrays: equal graphs need not hash alike

    def __repr__(self) -> str:
        return f"Graph(n={self.n}, n_edges={self.n_edges})"

    def __reduce__(self) -> tuple[type[Graph], tuple[Int64, Int32]]:
        # unpickled through the constructor, so the copies are checked and read-only again
        return (Graph, (self.indptr, self.indices))

    def edges(self) -> tuple[Int64, Int64]:
        """Each edge once as ``(u, v)`` with ``u < v``, sorted by ``u`` then ``v``: two ``(E,)``
        int64 arrays."""
        rows = np.repeat(np.arange(self.n, dtype=np.int64), self.degrees)
        cols = self.indices.astype(np.int64)
        upper = rows < cols
        return rows[upper], cols[upper]

    def to_scipy(self) -> sp.csr_array:
        """The adjacency matrix as a ``scipy.sparse.csr_array`` ``(n, n)`` of float64 ones."""
        data = np.ones(self.indices.size, dtype=np.float64)
        return sp.csr_array((data, self.indices, self.indptr), shape=(self.n, self.n))

    def to_networkx(self) -> nx.Graph:
        """A :class:`networkx.Graph` with nodes ``0 .. n - 1`` and the same edges."""
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        u, v = self.edges()
        graph.add_edges_from(zip(u.tolist(), v.tolist(), strict=True))
        return graph

    @classmethod
    def from_networkx(cls, graph: nx.Graph) -> Graph:
        """The graph of a networkx graph whose nodes are ``0 .. n - 1`` (self-loops dropped)."""
        n = graph.number_of_nodes()
        if set(graph.nodes) != set(range(n)):
            raise ValueError("from_networkx: expected nodes labelled 0 .. n - 1")
        pairs = np.array(list(graph.edges()), dtype=np.int64).reshape(-1, 2)
        return cls.from_edges(n, pairs[:, 0], pairs[:, 1])

    @classmethod
    def from_edges(cls, n: int, u: ArrayLike, v: ArrayLike) -> Graph:
        """The simple graph on ``n`` nodes with edges ``{u[e], v[e]}``: self-loops are dropped,
        repeated pairs (in either orientation) merged. ``u``, ``v``: integer arrays ``(E,)``
        with values in ``[0, n)``.

        One sort of the ``E`` pair keys ``min * n + max`` and one of the ``2 E`` directed keys.
        """
        _check_n(n)
        u = np.asarray(u).ravel()
        v = np.asarray(v).ravel()
        if u.shape != v.shape:
            raise ValueError(f"from_edges: u has {u.size} entries, v {v.size}")
        if u.size == 0:
            return cls.empty(n)
        if not (np.issubdtype(u.dtype, np.integer) and np.issubdtype(v.dtype, np.integer)):
            raise TypeError(f"from_edges: expected integer node ids, got {u.dtype}, {v.dtype}")
        if min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= n:
            raise ValueError(f"from_edges: node ids must lie in [0, {n})")
        key = np.minimum(u, v).astype(np.int64)
        key *= n
        key += np.maximum(u, v)
        key = key[u != v]
        return _from_pair_keys(n, _sorted_unique(key, in_place=True))

    @classmethod
    def empty(cls, n: int) -> Graph:
        """``n`` nodes, no edges."""
        return cls(np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int32))

    def check(self) -> None:
        """Raise ``ValueError`` unless the arrays hold an undirected simple graph as documented:
        rows strictly increasing (sorted, no duplicates), values in ``[0, n)``, no self-loops,
        symmetric."""
        n, indptr, indices = self.n, self.indptr, self.indices
        if np.any(np.diff(indptr) < 0):
            raise ValueError("Graph: indptr decreases")
        if indices.size == 0:
            return
        if indices.min() < 0 or indices.max() >= n:
            raise ValueError(f"Graph: a neighbour id outside [0, {n})")
        rows = np.repeat(np.arange(n, dtype=np.int64), self.degrees)
        cols = indices.astype(np.int64)
        if np.any(rows == cols):
            raise ValueError("Graph: a self-loop")
        same_row = rows[1:] == rows[:-1]
        if np.any(same_row & (cols[1:] <= cols[:-1])):
            raise ValueError("Graph: a row not strictly increasing (unsorted or duplicate)")
        forward = rows * n + cols
        backward = np.sort(cols * n + rows)
        if not np.array_equal(forward, backward):
            raise ValueError("Graph: not symmetric")


def stack(graphs: Sequence[Graph]) -> Graph:
    """Block-diagonal union of ``graphs``: graph ``r``'s node ``i`` becomes node
    ``offset_r + i`` with ``offset_r = sum_{s < r} n_s``. Holds one graph per independent run in
    one array, so that run ``r``'s node ``i`` is row ``r * n + i`` when every run has ``n``
    nodes (the order of a C-contiguous ``(R, n)`` state array raveled)."""
    if not graphs:
        return Graph.empty(0)
    sizes = np.array([g.n for g in graphs], dtype=np.int64)
    if sizes.sum() > _INT32_MAX:
        raise ValueError(f"stack: {sizes.sum()} nodes in all; int32 indices hold {_INT32_MAX}")
    node_offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    entry_offsets = np.concatenate([[0], np.cumsum([g.indices.size for g in graphs])[:-1]])
    indptr = np.concatenate(
        [np.zeros(1, np.int64)]
        + [g.indptr[1:] + off for g, off in zip(graphs, entry_offsets, strict=True)]
    )
    indices = np.concatenate(
        [np.zeros(0, np.int32)]
        + [g.indices + np.int32(off) for g, off in zip(graphs, node_offsets, strict=True)]
    ).astype(np.int32)
    return Graph(indptr.astype(np.int64), indices)


# --------------------------------------------------------------------------------------------
# Array helpers
# --------------------------------------------------------------------------------------------


def _sorted_unique(values: Int64, in_place: bool = False) -> Int64:
    """``np.unique`` for int64 by one sort (NumPy's ``unique`` is far slower here); with
    ``in_place`` the argument is sorted in place and the result may share its memory."""
    if in_place:
        values.sort()
    else:
        values = np.sort(values)
    if values.size < 2:
        return values
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values if keep.all() else values[keep]


def _from_pair_keys(n: int, key: Int64) -> Graph:
    """The graph whose edges are the sorted, distinct pair keys ``key = lo * n + hi``
    (``lo < hi``). Builds the ``2 E`` directed keys ``row * n + col`` (each edge both ways),
    sorts them once, reads ``indptr`` off by binary search and ``indices`` as ``key mod n``.
    Peak memory about 32 bytes per edge besides ``key``."""
    n_edges = key.size
    both = np.empty(2 * n_edges, dtype=np.int64)
    both[:n_edges] = key
    lo = both[n_edges:]
    np.floor_divide(key, n, out=lo)
    hi = lo * n
    np.subtract(key, hi, out=hi)  # hi = key - lo n
    hi *= n
    lo += hi  # the reversed key hi * n + lo, in place
    del hi, lo
    both.sort()
    indptr = np.searchsorted(both, np.arange(n + 1, dtype=np.int64) * n).astype(np.int64)
    np.remainder(both, n, out=both)
    indices = both.astype(np.int32)
    return Graph(indptr, indices)


def _isin_sorted(values: Int64, table: Int64, *, sort_values: bool = False) -> Bool:
    """``values[i] in table`` for a sorted ``table``. ``sort_values``: look the values up in
    sorted order (much faster for many values and a table larger than the caches)."""
    if table.size == 0:
        return np.zeros(values.shape, dtype=bool)
    if sort_values:
        order = np.argsort(values)
        found = np.empty(values.size, dtype=bool)
        found[order] = _isin_sorted(values[order], table)
        return found
    at = np.searchsorted(table, values)
    at[at == table.size] = 0
    return table[at] == values


def _first_occurrence(values: Int64) -> Bool:
    """``True`` where ``values[i]`` does not occur in ``values[:i]``. One sort of ``values``,
    then a stable argsort of only the entries whose value repeats."""
    first = np.ones(values.size, dtype=bool)
    if values.size < 2:
        return first
    ordered = np.sort(values)
    repeated = _sorted_unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if repeated.size == 0:
        return first
    where = np.flatnonzero(_isin_sorted(values, repeated))
    sub = values[where]
    order = np.argsort(sub, kind="stable")
    later = np.zeros(where.size, dtype=bool)
    later[order[1:]] = sub[order[1:]] == sub[order[:-1]]
    first[where[later]] = False
    return first


def _rank_in_group(groups: Int64) -> Int64:
    """For ``groups`` sorted ascending, the position of each entry within its run of equal
    values (0, 1, 2, ... restarting at each new value)."""
    if groups.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
    lengths = np.diff(np.append(starts, groups.size))
    return np.arange(groups.size, dtype=np.int64) - np.repeat(starts, lengths)


def _complete(n: int) -> Graph:
    """The complete graph on ``n`` nodes."""
    u, v = np.triu_indices(n, k=1)
    return Graph.from_edges(n, u, v)


def _check_rng(rng: Any) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")


def _check_n(n: int) -> None:
    if not 0 <= n <= _INT32_MAX:
        raise ValueError(f"n={n}: expected 0 <= n <= {_INT32_MAX}")


# --------------------------------------------------------------------------------------------
# Small world (Watts-Strogatz)
# --------------------------------------------------------------------------------------------


def rewiring_for_clustering(clustering: float, mean_degree: int) -> float:
    """The rewiring probability ``p`` whose expected clustering is ``clustering``:
    ``p = 1 - (C / C0)^(1/3)`` from ``C(p) = C0 (1 - p)^3`` (Barrat & Weigt 2000), ``C0`` the
    ring lattice's clustering (:func:`sim.params.lattice_clustering`). ``C = C0`` gives 0 (the
    lattice), ``C = 0`` gives 1 (every edge rewired). With ``mean_degree = 2`` the lattice has no
    triangles (``C0 = 0``); only ``clustering = 0`` is valid and gives ``p = 1``."""
    if mean_degree < 2 or mean_degree % 2:
        raise ValueError(f"mean_degree={mean_degree}: expected an even whole number >= 2")
    c0 = lattice_clustering(mean_degree)
    if not 0.0 <= clustering <= c0 + 1e-12:
        raise ValueError(
            f"clustering={clustering}: expected a value in [0, {c0:.4f}] for mean_degree "
            f"{mean_degree} (the ring lattice's clustering)"
        )
    if clustering <= 0.0:
        return 1.0
    return float(max(0.0, 1.0 - (min(clustering, c0) / c0) ** (1.0 / 3.0)))


def small_world(n: int, mean_degree: int, rewiring: float, rng: np.random.Generator) -> Graph:
    """Watts-Strogatz graph: ``n`` nodes, ring lattice of even degree ``k = mean_degree``,
    each lattice edge's far end rewired with probability ``p = rewiring``.

    Lattice edge ``e = (j - 1) n + u`` (``j = 1 .. k/2`` outer, ``u = 0 .. n-1`` inner, the
    order networkx visits them) joins ``u`` to ``v = (u + j) mod n``. If rewired, ``v`` is
    replaced by a uniform node ``w`` such that ``{u, w}`` is not an edge of the graph at the
    moment edge ``e`` is rewired in that order (networkx's rule): ``w != u``, and ``{u, w}`` is
    neither a lattice edge still in place (one not rewired, or one whose turn comes at or after
    ``e``, which includes ``{u, v}`` itself) nor a rewired edge placed earlier. All rewirings
    draw a candidate at once; failing candidates are redrawn in rounds, a candidate pair taken
    by two rewirings of one round going to the earlier one. The result has exactly
    ``n k / 2`` edges whenever every rewiring finds a partner.

    Difference from ``networkx.watts_strogatz_graph``, which rewires one edge at a time: a
    rewiring redrawn in a later round is blocked by rewired edges placed in earlier rounds
    even if their turn comes after its own (networkx would give the pair to the earlier edge);
    that needs two rewirings to pick the same pair, a chance of order ``1 / n`` per redraw.
    networkx skips a rewiring once ``u`` is adjacent to all other nodes; here rewirings still
    unplaced after ``max(200, 16 n)`` rounds are skipped (their lattice edges stay, and rewired
    edges placed on those pairs are redrawn), which needs ``n`` within a few of ``k``; a
    rewiring with exactly one free partner is wrongly skipped with chance about
    ``exp(-16) ~ 1e-7``.

    ``n <= k + 1`` (clipped): the complete graph on ``n`` nodes, which is what the lattice is
    then, and no rewiring can change it. ``n = 0`` or ``1``: no edges.

    Draws, in order: ``n k / 2`` uniforms (rewire?, lattice order); then per round one integer
    in ``[0, n)`` for each rewiring not yet placed, in lattice order.
    """
    _check_rng(rng)
    _check_n(n)
    k = int(mean_degree)
    if k < 2 or k % 2:
        raise ValueError(f"mean_degree={mean_degree}: small_world needs an even whole number >= 2")
    if not 0.0 <= rewiring <= 1.0:
        raise ValueError(f"rewiring={rewiring}: expected a probability in [0, 1]")
    if n <= k + 1:
        return _complete(n)
    half = k // 2
    rewired: Bool = rng.random(n * half) < rewiring
    moved = np.flatnonzero(rewired)
    source = moved % n  # lattice edge (j - 1) n + u keeps its near end u
    target = np.full(moved.size, -1, dtype=np.int64)
    placed = np.zeros(0, dtype=np.int64)  # sorted keys of rewired edges placed so far
    pending = np.arange(moved.size)
    patience = max(_MIN_REWIRING_ROUNDS, 16 * n)
    rounds = 0
    while pending.size:
        if rounds == patience:
            # these found no partner: skipped, their lattice edges stay (and block later ones)
            pending, placed = _skip_rewirings(pending, moved, source, target, rewired, n)
            rounds = 0
            continue
        rounds += 1
        u = source[pending]
        w = rng.integers(0, n, size=pending.size, dtype=np.int64)
        key = _pair_keys(u, w, n)
        bad = w == u
        bad |= _lattice_pair_in_place(u, w, moved[pending], n, half, rewired)
        bad |= _isin_sorted(key, placed)
        bad |= ~_first_occurrence(np.where(bad, -1 - np.arange(key.size), key))
        good = ~bad
        target[pending[good]] = w[good]
        placed = np.sort(np.concatenate([placed, key[good]]))
        pending = pending[bad]
    del source, target
    keys = np.concatenate([_lattice_keys(np.flatnonzero(~rewired), n), placed])
    return _from_pair_keys(n, _sorted_unique(keys, in_place=True))


def _skip_rewirings(
    pending: Int64, moved: Int64, source: Int64, target: Int64, rewired: Bool, n: int
) -> tuple[Int64, Int64]:
    """Give up the rewirings ``pending`` (indices into ``moved``): their lattice edges stay
    in place (``rewired`` set False), and rewired edges placed on those pairs are taken back
    for redrawing. Returns the rewirings to redraw and the sorted keys of those still placed."""
    stuck = moved[pending]
    rewired[stuck] = False
    target[pending] = -2
    stuck_keys = np.sort(_lattice_keys(stuck, n))
    done = np.flatnonzero(target >= 0)
    done_keys = _pair_keys(source[done], target[done], n)
    clash = _isin_sorted(done_keys, stuck_keys)
    target[done[clash]] = -1
    return done[clash], np.sort(done_keys[~clash])


def _lattice_keys(edge: Int64, n: int) -> Int64:
    """Pair keys ``min * n + max`` of lattice edges ``edge = (j - 1) n + u``, which join ``u``
    and ``(u + j) mod n``."""
    u = edge % n
    v = edge // n
    v += 1 + u
    v[v >= n] -= n
    return _pair_keys(u, v, n)


def _lattice_pair_in_place(
    u: Int64, w: Int64, turn: Int64, n: int, half: int, rewired: Bool
) -> Bool:
    """Whether ``{u, w}`` is a lattice edge still in place when lattice edge ``turn`` is
    rewired: not rewired, or its own turn not yet passed (its position ``>= turn``). The lattice
    edge at ring distance ``j = (w - u) mod n <= k/2`` is ``(j - 1) n + u``; at ``n - j`` it is
    ``(n - j - 1) n + w``. Needs ``n > k + 1`` so the two cases do not overlap."""
    delta = w - u
    delta[delta < 0] += n
    forward = (delta >= 1) & (delta <= half)
    backward = (delta >= n - half) & (delta <= n - 1)
    position = np.zeros(u.size, dtype=np.int64)
    position[forward] = (delta[forward] - 1) * n + u[forward]
    position[backward] = (n - delta[backward] - 1) * n + w[backward]
    lattice = forward | backward
    return lattice & (~rewired[position] | (position >= turn))


# --------------------------------------------------------------------------------------------
# Scale free (Barabasi-Albert)
# --------------------------------------------------------------------------------------------


def scale_free(n: int, mean_degree: int, rng: np.random.Generator) -> Graph:
    """Barabasi-Albert graph: ``m = mean_degree // 2`` edges per new node, mean degree
    ``2 m (n - m) / n``.

    The process (the same Markov chain as ``networkx.barabasi_albert_graph``): nodes
    ``0 .. m`` form a star centred on node 0 (networkx's default initial graph); each node
    ``t = m + 1 .. n - 1`` then links to ``m`` distinct earlier nodes, drawn one by one with
    probability proportional to their current degree, a draw equal to an earlier pick of the
    same node being redrawn (as networkx's ``_random_subset``).

    Vectorized sampling (Bollobas & Riordan 2004, the endpoint list): write edge ``e``'s ends
    at positions ``2 e`` (its new node) and ``2 e + 1`` (its target) of a list in which every
    node appears once per incident edge. Edges ``0 .. m - 1`` are the star's (``2 e -> e + 1``,
    ``2 e + 1 -> 0``); edges ``m + (t - m - 1) m + j``, ``j < m``, are node ``t``'s. A draw
    proportional to degree among nodes older than ``t`` is a uniform position ``x`` in
    ``[0, 2 m (t - m))`` (all ends of older edges): even ``x`` names edge ``x / 2``'s new node
    at once; odd ``x`` names the target of the older edge ``(x - 1) / 2``, which may itself be
    an odd position, and so on.

    All first picks are drawn at once. Nodes are then settled in blocks of consecutive nodes
    (64 nodes, then each block half as long as everything before it, so about
    ``2.5 ln(n / 64)`` blocks), the targets of older blocks being final: within a block, picks
    naming older edges are looked up, chains inside the block are resolved by pointer jumping
    (an unresolved pick copies its pointer's pointer: O(log chain) rounds), and every node
    whose picks repeat a node redraws: its picks are its stream of draws (its first ``m``,
    then extras) and it keeps the first ``m`` distinct nodes in that stream. A redraw changes
    the targets of later edges of the block that point at it, so resolution and redraws repeat
    until no pick of the block changes; since picks of node ``t`` depend only on older edges,
    that fixed point is the sequential process exactly.

    Difference from networkx: the law is the same; only the random streams differ (and
    networkx's optional ``initial_graph`` is not offered). ``mean_degree`` odd: ``m`` is rounded
    down. ``n <= m``: ``m`` is clipped to ``n - 1`` (the star on ``n`` nodes); ``n = 0`` or
    ``1``: no edges.

    Draws, in order: ``m (n - m - 1)`` integers (each node's first ``m`` picks, node-major);
    then, block by block and round by round, ``2 s + 2`` integers for each node lacking ``s``
    distinct picks, by node (drawing ahead: draws past a node's ``m``-th distinct pick go
    unused, which leaves the law unchanged).
    """
    _check_rng(rng)
    _check_n(n)
    m = int(mean_degree) // 2
    if m < 1:
        raise ValueError(f"mean_degree={mean_degree}: scale_free needs mean_degree >= 2")
    if n <= 1:
        return Graph.empty(n)
    m = min(m, n - 1)
    n_core = m + 1
    rows = n - n_core  # attaching nodes; row r is node n_core + r, its edges m + r m + j
    if rows == 0:
        leaves = np.arange(1, n_core, dtype=np.int64)
        return Graph.from_edges(n, leaves, np.zeros_like(leaves))
    limit = 2 * m * (np.arange(rows * m, dtype=np.int64) // m + 1)
    primary = rng.integers(0, limit, dtype=np.int64)
    del limit
    target = np.empty(m + rows * m, dtype=np.int64)
    target[:m] = 0
    first_row = 0
    while first_row < rows:
        stop = min(rows, first_row + max(_FIRST_BLOCK, first_row // 2))
        _settle_block(first_row, stop, primary, target, n, m, rng)
        first_row = stop
    # edge keys lo * n + hi: the star's (0, e + 1); node t's (target, t), target < t
    key = target
    key[m:] *= n
    key[m:] += n_core + np.arange(rows * m, dtype=np.int64) // m
    key[:m] = np.arange(1, n_core)
    key.sort()  # distinct already: one new node per edge, distinct targets per node
    return _from_pair_keys(n, key)


def _settle_block(
    first_row: int,
    stop: int,
    primary: Int64,
    target: Int64,
    n: int,
    m: int,
    rng: np.random.Generator,
) -> None:
    """Fill ``target`` for the edges of rows ``first_row .. stop - 1`` (see
    :func:`scale_free`), the targets of older edges being final."""
    lo, hi = first_row * m, stop * m  # pick slots of the block; edge = m + slot
    chosen = primary[lo:hi].copy()
    extra_row = np.zeros(0, dtype=np.int64)  # redraws of this block: row, position (draw order)
    extra_pos = np.zeros(0, dtype=np.int64)
    touched = np.zeros(stop - first_row, dtype=bool)  # rows whose picks ever repeated
    while True:
        target[m + lo : m + hi] = _resolve_block(chosen, m + lo, target, m)
        if m == 1:
            return
        ordered = np.sort(target[m + lo : m + hi].reshape(-1, m), axis=1)
        touched |= (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        fix = np.flatnonzero(touched)
        if fix.size == 0:
            return
        new, extra_row, extra_pos = _first_distinct_picks(
            fix + first_row, primary, extra_row, extra_pos, target, n, m, rng
        )
        slots = (fix[:, None] * m + np.arange(m)).ravel()
        if np.array_equal(chosen[slots], new):
            return
        chosen[slots] = new


def _endpoint_source(edge: Int64, m: int) -> Int64:
    """The new node of edge ``edge``: ``edge + 1`` for the star's, else its attaching node."""
    return np.where(edge < m, edge + 1, m + 1 + (edge - m) // m)


def _resolve_block(chosen: Int64, first_edge: int, target: Int64, m: int) -> Int64:
    """Targets of the edges ``first_edge .. first_edge + len(chosen) - 1`` given their chosen
    endpoint-list positions and the final ``target`` of every older edge: even positions and
    odd ones naming older edges are looked up; chains among the block's own edges are resolved
    by pointer jumping."""
    edge = chosen >> 1
    odd = (chosen & 1).astype(bool)
    out = np.full(chosen.size, -1, dtype=np.int64)
    even = ~odd
    out[even] = _endpoint_source(edge[even], m)
    older = odd & (edge < first_edge)
    out[older] = target[edge[older]]
    inside = np.flatnonzero(odd & (edge >= first_edge))
    pointer = np.zeros(chosen.size, dtype=np.int64)
    pointer[inside] = edge[inside] - first_edge
    while inside.size:
        value = out[pointer[inside]]
        done = value >= 0
        out[inside[done]] = value[done]
        inside = inside[~done]
        pointer[inside] = pointer[pointer[inside]]
    return out


def _position_node(position: Int64, target: Int64, m: int) -> Int64:
    """The node at endpoint-list ``position`` given every edge's target."""
    edge = position >> 1
    return np.where(position & 1, target[edge], _endpoint_source(edge, m))


def _first_distinct_picks(
    fix: Int64,
    primary: Int64,
    extra_row: Int64,
    extra_pos: Int64,
    target: Int64,
    n: int,
    m: int,
    rng: np.random.Generator,
) -> tuple[Int64, Int64, Int64]:
    """For each row (attaching node ``m + 1 + r``) in ``fix`` (ascending), the positions of
    the first ``m`` distinct nodes in its stream of draws (its ``m`` primary picks, then its
    extras in draw order). A row whose stream is too short draws ``2 s + 2`` more extras,
    ``s`` the picks it lacks (draws past the ``m``-th distinct node are never used, so drawing
    ahead leaves the law unchanged). Returns the chosen positions ``(len(fix) * m,)``
    row-major and the grown extras."""
    chosen = np.empty((fix.size, m), dtype=np.int64)
    todo = np.arange(fix.size)
    while todo.size:
        rows = fix[todo]
        mine = np.isin(extra_row, rows)
        rows_x, pos_x = extra_row[mine], extra_pos[mine]
        order = np.argsort(rows_x, kind="stable")  # by row, draw order within a row
        rows_x, pos_x = rows_x[order], pos_x[order]
        stream_row = np.concatenate([np.repeat(rows, m), rows_x])
        stream_pos = np.concatenate([primary[(rows[:, None] * m + np.arange(m)).ravel()], pos_x])
        stream_seq = np.concatenate([np.tile(np.arange(m), rows.size), m + _rank_in_group(rows_x)])
        order = np.lexsort((stream_seq, stream_row))
        stream_row, stream_pos = stream_row[order], stream_pos[order]
        node = _position_node(stream_pos, target, m)
        first = _first_occurrence(stream_row * n + node)
        distinct_before = np.concatenate([[0], np.cumsum(first)])
        row_start = np.searchsorted(stream_row, rows)
        row_stop = np.append(row_start[1:], stream_row.size)
        rank = distinct_before[:-1] - np.repeat(distinct_before[row_start], row_stop - row_start)
        got = np.minimum(distinct_before[row_stop] - distinct_before[row_start], m)
        done = got == m
        take = first & (rank < m) & np.repeat(done, row_stop - row_start)
        chosen[todo[done]] = stream_pos[take].reshape(-1, m)
        todo = todo[~done]
        short = m - got[~done]
        need_rows = np.repeat(rows[~done], 2 * short + 2)
        draws = rng.integers(0, 2 * m * (need_rows + 1), dtype=np.int64)
        extra_row = np.concatenate([extra_row, need_rows])
        extra_pos = np.concatenate([extra_pos, draws])
    return chosen.ravel(), extra_row, extra_pos


# --------------------------------------------------------------------------------------------
# Segment-homophilous block model
# --------------------------------------------------------------------------------------------


def block_probabilities(
    sizes: ArrayLike, mean_degree: float, homophily: float
) -> tuple[Float, float]:
    """Link probabilities of :func:`block_model` for segments of ``sizes`` ``(B,)``: within
    segment ``b``, ``p_b = min(1, h d / (n_b - 1))`` (0 for a segment of one); across, one
    ``q = min(1, (1 - h) d n / (n^2 - sum_b n_b^2))``. With a single segment every pair is
    inside: ``p = min(1, d / (n - 1))`` (an Erdos-Renyi graph of mean degree ``d``). A
    probability capped at 1 (a segment of ``n_b <= h d`` members, or ``n <= d``) gives fewer
    ties than asked. Returns ``(p (B,), q)``."""
    n_b = np.asarray(sizes, dtype=np.float64)
    if n_b.ndim != 1 or np.any(n_b < 1):
        raise ValueError("sizes: expected a 1-d array of segment sizes >= 1")
    if mean_degree < 0:
        raise ValueError(f"mean_degree={mean_degree}: expected a value >= 0")
    if not 0.0 <= homophily <= 1.0:
        raise ValueError(f"homophily={homophily}: expected a share in [0, 1]")
    n = n_b.sum()
    across_pairs = n * n - np.sum(n_b * n_b)  # ordered pairs across segments
    inside = homophily * mean_degree if across_pairs > 0 else float(mean_degree)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n_b > 1, np.minimum(1.0, inside / (n_b - 1.0)), 0.0)
    q = 0.0
    if across_pairs > 0:
        q = float(min(1.0, (1.0 - homophily) * mean_degree * n / across_pairs))
    return p, q


def block_expectations(
    sizes: ArrayLike, mean_degree: float, homophily: float
) -> tuple[Float, Float]:
    """Expected degree and expected share of ties inside its own segment of a member of each
    segment under :func:`block_model`: ``inside_b = p_b (n_b - 1)``, ``across_b = q (n - n_b)``,
    degree ``inside_b + across_b``, share ``inside_b / degree`` (0 for a degree of 0).
    Returns ``(degree (B,), share (B,))``."""
    n_b = np.asarray(sizes, dtype=np.float64)
    p, q = block_probabilities(n_b, mean_degree, homophily)
    inside = p * (n_b - 1.0)
    degree = inside + q * (n_b.sum() - n_b)
    share = np.divide(inside, degree, out=np.zeros_like(degree), where=degree > 0)
    return degree, share


def block_model(
    segment: ArrayLike, mean_degree: float, homophily: float, rng: np.random.Generator
) -> Graph:
    """Segment-homophilous stochastic block model on ``n = len(segment)`` nodes; ``segment``
    ``(n,)`` holds any integer labels (segments need not be contiguous). Link probabilities
    from :func:`block_probabilities`; every pair is linked independently, as in
    ``networkx.stochastic_block_model``, but sampled without visiting the pairs:

    * edge counts: ``M_b ~ Binomial(n_b (n_b - 1) / 2, p_b)`` inside each segment ``b``,
      ``M ~ Binomial((n^2 - sum_b n_b^2) / 2, q)`` across;
    * edges: for each of these groups of pairs, candidates uniform over the group's ordered
      pairs (inside ``b``: two distinct uniform members; across: segment ``b`` with weight
      ``n_b (n - n_b)``, a uniform member of it and a uniform node outside it), pairs already
      taken dropped, the first new ones in draw order kept, more drawn until the group has its
      count. This is a uniform subset of the group's pairs of that size.

    Given the counts the edge set is uniform, so each pair is linked independently with its
    probability: the law of networkx's generator with the same probability matrix (tested).
    Segments of size 1 have no pairs inside. Memory O(E), time O(E log E), whatever ``n``.

    Draws, in order: ``B`` binomials (segments in increasing label order), one binomial
    (across); then per round: for candidates inside segments (by segment) first members, then
    second members; for candidates across, uniforms choosing their segments, members, then
    partners outside.
    """
    _check_rng(rng)
    labels = np.asarray(segment)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError("segment: expected a 1-d integer array of segment labels")
    n = labels.size
    _check_n(n)
    if n < 2:
        return Graph.empty(n)
    _, group, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    sizes = sizes.astype(np.int64)
    members = np.argsort(group.ravel(), kind="stable").astype(np.int64)  # grouped by segment
    del group
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    p, q = block_probabilities(sizes, mean_degree, homophily)
    inside_pairs = sizes * (sizes - 1) // 2
    across_pairs = (n * n - int(np.sum(sizes * sizes))) // 2
    want = np.append(
        rng.binomial(inside_pairs, p), rng.binomial(across_pairs, q) if across_pairs else 0
    ).astype(np.int64)  # group b < B: inside segment b; group B: across
    capacity = np.append(inside_pairs, across_pairs).astype(np.float64)
    segment_weight = np.cumsum((sizes * (n - sizes)).astype(np.float64))
    n_groups = sizes.size + 1
    have = np.zeros(n_groups, dtype=np.int64)
    accepted = np.zeros(0, dtype=np.int64)  # sorted keys lo * n + hi of the edges so far
    while True:
        short = want - have
        if not short.any():
            return _from_pair_keys(n, accepted)
        # candidates per missing edge: 1 / (share of the group's pairs still free), 5 % more
        # and 8 more against falling short again
        free = (capacity - have) / np.maximum(capacity, 1.0)
        rate = np.divide(short, free, out=np.zeros(n_groups), where=short > 0)
        draw = np.where(short > 0, np.ceil(rate * 1.05) + 8, 0).astype(np.int64)
        cand_group = np.repeat(np.arange(n_groups), draw)
        key = np.concatenate(
            [
                _inside_candidates(draw[:-1], sizes, starts, members, n, rng),
                _across_candidates(int(draw[-1]), sizes, starts, members, segment_weight, rng),
            ]
        )
        if accepted.size:
            taken = _isin_sorted(key, accepted)
            key[taken] = -1 - np.flatnonzero(taken)  # distinct placeholders, never kept
        pick = np.flatnonzero(_first_occurrence(key) & (key >= 0))
        pick = pick[_rank_in_group(cand_group[pick]) < short[cand_group[pick]]]
        have += np.bincount(cand_group[pick], minlength=n_groups)
        accepted = np.sort(np.concatenate([accepted, key[pick]]))


def _inside_candidates(
    count: Int64, sizes: Int64, starts: Int64, members: Int64, n: int, rng: np.random.Generator
) -> Int64:
    """Pair keys of ``count[b]`` uniform pairs of distinct members of each segment ``b``."""
    seg = np.repeat(np.arange(sizes.size), count)
    first = rng.integers(0, sizes[seg], dtype=np.int64)
    second = rng.integers(0, sizes[seg] - 1, dtype=np.int64)
    second += second >= first
    first += starts[seg]
    second += starts[seg]
    return _pair_keys(members[first], members[second], n)


def _across_candidates(
    count: int,
    sizes: Int64,
    starts: Int64,
    members: Int64,
    segment_weight: Float,
    rng: np.random.Generator,
) -> Int64:
    """Pair keys of ``count`` uniform ordered pairs of nodes in different segments: segment
    ``b`` with probability ``n_b (n - n_b) / sum_c n_c (n - n_c)`` (``segment_weight`` holds
    the cumulative weights), a uniform member, a uniform node outside ``b``."""
    n = members.size
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    seg = np.searchsorted(segment_weight, rng.random(count) * segment_weight[-1], side="right")
    seg = np.minimum(seg, sizes.size - 1)  # guards a uniform rounding onto the last edge
    first = starts[seg] + rng.integers(0, sizes[seg], dtype=np.int64)
    second = rng.integers(0, n - sizes[seg], dtype=np.int64)
    second += sizes[seg] * (second >= starts[seg])  # skip the block of segment seg
    return _pair_keys(members[first], members[second], n)


def _pair_keys(u: Int64, v: Int64, n: int) -> Int64:
    """``min(u, v) * n + max(u, v)``."""
    key = np.minimum(u, v)
    key *= n
    key += np.maximum(u, v)
    return key


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------


def relabel(graph: Graph, position: NDArray[np.integer[Any]]) -> Graph:
    """The same graph with node ``i`` renamed ``position[i]`` (a permutation of ``0..n-1``)."""
    u, v = graph.edges()
    position = np.asarray(position, dtype=np.int64)
    return Graph.from_edges(graph.n, position[u], position[v])


def build(
    kind: str,
    n: int,
    mean_degree: int,
    clustering: float,
    homophily: float,
    segment: ArrayLike | None,
    rng: np.random.Generator,
) -> Graph | None:
    """The network of kind ``kind`` (:class:`sim.params.Network`'s names) on ``n`` nodes.

    ``none`` returns ``None`` and draws nothing (runs without a network keep their streams).
    Every other kind draws exactly one integer from ``rng`` and builds the graph from a child
    generator ``numpy.random.default_rng(that integer)``: the run's stream advances by one draw
    whatever the kind, size and parameters, so changing the network leaves every later draw
    of the run unchanged (common random numbers across a sweep of network parameters).

    ``small_world``: rewiring from ``clustering`` (:func:`rewiring_for_clustering`);
    ``scale_free``: ``m = mean_degree // 2``; ``block``: ``segment`` ``(n,)`` labels (``None``:
    one segment) and ``homophily``. The small-world and scale-free graphs are built on
    positions and then placed on the nodes in a random order (:func:`relabel`, drawn from the
    child generator): the model lays enterprises out in contiguous segment blocks, and without
    the shuffle a ring lattice would keep most ties inside a segment and the first segment
    listed would hold the preferential-attachment hubs.
    """
    _check_rng(rng)
    match kind:
        case "none":
            return None
        case "small_world" | "scale_free" | "block":
            pass
        case _:
            raise ValueError(f"kind={kind!r}: expected one of {', '.join(KINDS)}")
    child = np.random.default_rng(int(rng.integers(0, 2**63 - 1, dtype=np.int64)))
    if kind == "small_world":
        rewiring = rewiring_for_clustering(clustering, mean_degree)
        return relabel(small_world(n, mean_degree, rewiring, child), child.permutation(n))
    if kind == "scale_free":
        return relabel(scale_free(n, mean_degree, child), child.permutation(n))
    labels = np.zeros(n, dtype=np.int64) if segment is None else np.asarray(segment)
    if labels.shape != (n,):
        raise ValueError(f"segment: expected shape ({n},), got {labels.shape}")
    return block_model(labels, mean_degree, homophily, child)


# --------------------------------------------------------------------------------------------
# Analysis and the per-step kernel
# --------------------------------------------------------------------------------------------


def triangles(graph: Graph) -> Int64:
    """Triangles through each node ``(n,)`` (networkx's ``triangles``).

    Each edge is oriented from the endpoint of lower (degree, id) to the higher; a triangle
    ``x < y < z`` in that order is then the one wedge ``y <- x -> z`` of out-neighbours of
    ``x`` closed by an edge ``{y, z}``. Wedges are enumerated from the out-lists (out-degrees
    stay small even at hubs, Chiba & Nishizeki 1985), closure is a binary search among the
    graph's sorted directed keys ``row * n + col``, and every closed wedge credits ``x``, ``y``
    and ``z`` once. Work about ``sum_x C(out_x, 2)`` wedges, no ``n x n`` product."""
    n, degree = graph.n, graph.degrees
    rows = np.repeat(np.arange(n, dtype=np.int64), degree)
    cols = graph.indices.astype(np.int64)
    d_row, d_col = degree[rows], degree[cols]
    forward = (d_row < d_col) | ((d_row == d_col) & (rows < cols))
    del d_row, d_col
    owner, head = rows[forward], cols[forward]  # out-lists, grouped by owner
    out_degree = np.bincount(owner, minlength=n)
    list_start = np.cumsum(out_degree) - out_degree
    after = out_degree[owner] - 1 - (np.arange(owner.size) - list_start[owner])
    first = np.repeat(np.arange(owner.size, dtype=np.int64), after)
    first_of_entry = np.cumsum(after) - after
    second = first + 1 + np.arange(first.size) - np.repeat(first_of_entry, after)
    y, z = head[first], head[second]
    closed = _isin_sorted(y * n + z, rows * n + cols, sort_values=True)
    counts = np.bincount(owner[first[closed]], minlength=n)
    counts += np.bincount(y[closed], minlength=n)
    counts += np.bincount(z[closed], minlength=n)
    return counts.astype(np.int64)


def local_clustering(graph: Graph) -> Float:
    """``c_i = 2 T_i / (d_i (d_i - 1))``, 0 where ``d_i < 2`` (networkx's ``clustering``)."""
    d = graph.degrees.astype(np.float64)
    pairs = d * (d - 1.0)
    out = np.zeros(graph.n, dtype=np.float64)
    np.divide(2.0 * triangles(graph), pairs, out=out, where=pairs > 0)
    return out


def average_clustering(graph: Graph) -> float:
    """Mean of :func:`local_clustering` over all nodes, nodes of degree < 2 counting 0
    (``networkx.average_clustering``); 0 for an empty node set."""
    if graph.n == 0:
        return 0.0
    return float(local_clustering(graph).mean())


class NeighbourWeights:
    """A graph with a fixed non-negative weight on every node (spend), prepared once for the
    per-step kernel :meth:`option_sums`: the CSR arrays, the weights and each node's inverse
    total neighbour weight (0 for a node without neighbours or with zero total weight)."""

    def __init__(self, graph: Graph, weight: Float) -> None:
        self.indptr, self.indices = graph.indptr, graph.indices
        self.weight = np.asarray(weight, dtype=np.float64)
        source = np.repeat(np.arange(graph.n, dtype=np.int64), graph.degrees)
        entry = self.weight[graph.indices]
        total = np.bincount(source, weights=entry, minlength=graph.n).astype(np.float64)
        self.inverse_total = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)

    def option_sums(
        self, nodes: NDArray[np.integer[Any]], choice: NDArray[np.integer[Any]], n_options: int
    ) -> tuple[Float, Float]:
        """For ``nodes`` ``(M,)``: the weight of each node's neighbours on each option, options
        first ``(n_options, M)``, and each node's inverse total neighbour weight ``(M,)``. Only
        the listed nodes' rows are read, each row's entries added in CSR order
        (:func:`sim.kernels.neighbour_option_sums`). ``choice`` must lie in
        ``[0, n_options)`` (the engine's always does; :func:`neighbour_shares` checks it)."""
        from sim.kernels import neighbour_option_sums

        nodes = np.asarray(nodes, dtype=np.int64).ravel()
        sums = neighbour_option_sums(
            self.indptr, self.indices, self.weight, nodes, np.asarray(choice), n_options
        )
        return sums, self.inverse_total[nodes]

    def shares(
        self, nodes: NDArray[np.integer[Any]], choice: NDArray[np.integer[Any]], n_options: int
    ) -> Float:
        """:func:`neighbour_shares` for ``nodes`` ``(M,)``: ``(M, n_options)``."""
        sums, inverse_total = self.option_sums(nodes, choice, n_options)
        return np.ascontiguousarray((sums * inverse_total).T)


def neighbour_shares(
    graph: Graph,
    nodes: ArrayLike,
    choice: NDArray[np.integer[Any]],
    weight: Float,
    n_options: int,
) -> Float:
    """Weighted share of each option among each listed node's neighbours.

    ``out[r, o] = sum_{j in N(i)} w_j [c_j = o] / sum_{j in N(i)} w_j`` for ``i = nodes[r]``:
    ``nodes`` ``(R,)`` node ids, ``choice`` ``(n,)`` options in ``[0, n_options)``, ``weight``
    ``(n,)`` non-negative (e.g. spend). A row is all zeros when the node has no neighbours or
    their weights sum to 0. Returns ``(R, n_options)`` float64. The model prepares the weights
    once (:class:`NeighbourWeights`) and calls :meth:`NeighbourWeights.option_sums` every step.
    """
    choice = np.asarray(choice)
    if choice.size and (choice.min() < 0 or choice.max() >= n_options):
        raise ValueError(f"choice: an option lies outside [0, {n_options})")
    prepared = NeighbourWeights(graph, np.asarray(weight, dtype=np.float64))
    return prepared.shares(np.asarray(nodes, dtype=np.int64), choice, n_options)
