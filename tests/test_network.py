"""The enterprise network (sim/network.py): invariants, determinism, closed forms, and the
generators against networkx's in distribution.

Statistical checks compare means over independent seeds. Each states its tolerance:

* against a closed form: ``|mean - expected| <= 4 SE`` with ``SE = sd / sqrt(R)`` from the
  ``R`` seeds, plus, where the closed form is a large-``n`` limit or an approximation, a stated
  allowance for that bias;
* against networkx: a two-sample ``|z| <= 4`` with ``SE = sqrt(sd_a^2 / R_a + sd_b^2 / R_b)``
  (a false alarm about once in 16,000 comparisons per statistic).

Seeds are fixed, so the suite is repeatable; statistics are computed per graph (graphs are
independent, nodes within a graph are not).
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from sim import network
from sim.network import Graph
from sim.params import lattice_clustering

SEEDS = st.integers(0, 2**32 - 1)
Z = 4.0  # standard errors allowed in every statistical comparison


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def edge_set(graph: Graph) -> set[tuple[int, int]]:
    u, v = graph.edges()
    return set(zip(u.tolist(), v.tolist(), strict=True))


def assert_simple(graph: Graph) -> None:
    """CSR invariants, checked by :meth:`Graph.check` and again independently here."""
    assert graph.indptr.dtype == np.int64 and graph.indices.dtype == np.int32
    assert graph.indptr.shape == (graph.n + 1,) and graph.indptr[0] == 0
    graph.check()
    rows = [graph.indices[graph.indptr[i] : graph.indptr[i + 1]].tolist() for i in range(graph.n)]
    for i, row in enumerate(rows):
        assert row == sorted(set(row)), f"row {i} unsorted or repeated"
        assert i not in row, f"self-loop at {i}"
        for j in row:
            assert i in rows[j], f"edge {i}-{j} stored one way only"
    assert graph.n_edges * 2 == sum(len(r) for r in rows)


def two_sample(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Means of the per-graph statistics ``a`` and ``b`` agree within ``Z`` standard errors."""
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    diff = a.mean() - b.mean()
    assert abs(diff) <= Z * se + 1e-12, f"{what}: {a.mean():.5g} vs {b.mean():.5g} (SE {se:.3g})"


def near(values: np.ndarray, expected: float, what: str, bias: float = 0.0) -> None:
    """The mean of per-graph ``values`` is within ``Z`` SE (plus ``bias``) of ``expected``."""
    se = values.std(ddof=1) / math.sqrt(values.size)
    tolerance = Z * se + bias + 1e-12
    assert abs(values.mean() - expected) <= tolerance, (
        f"{what}: {values.mean():.5g} vs {expected:.5g} +- {tolerance:.3g}"
    )


def per_seed(stat: Callable[[int], list[float]], seeds: range) -> np.ndarray:
    return np.array([stat(s) for s in seeds], dtype=np.float64)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------
# the Graph type
# --------------------------------------------------------------------------------------------


@given(st.integers(0, 40), st.data())
def test_from_edges_matches_a_set_of_pairs(n: int, data: st.DataObject) -> None:
    """Self-loops dropped, pairs merged in either orientation, mixed integer dtypes."""
    node = st.integers(0, max(n - 1, 0))
    pairs = data.draw(st.lists(st.tuples(node, node), max_size=120 if n else 0))
    u = np.array([a for a, _ in pairs], dtype=np.int32)
    v = np.array([b for _, b in pairs], dtype=np.int64)
    graph = Graph.from_edges(n, u, v)
    assert_simple(graph)
    assert graph.n == n
    assert edge_set(graph) == {(min(a, b), max(a, b)) for a, b in pairs if a != b}
    degree = np.zeros(n, dtype=np.int64)
    for a, b in edge_set(graph):
        degree[a] += 1
        degree[b] += 1
    np.testing.assert_array_equal(graph.degrees, degree)


def test_graph_validates_its_arrays() -> None:
    with pytest.raises(TypeError, match="indptr"):
        Graph(np.zeros(2, np.int32), np.zeros(0, np.int32))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="indices"):
        Graph(np.zeros(2, np.int64), np.zeros(0, np.int64))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="indptr"):
        Graph(np.array([0, 3], np.int64), np.zeros(2, np.int32))
    one_way = Graph(np.array([0, 1, 1], np.int64), np.array([1], np.int32))
    with pytest.raises(ValueError, match="symmetric"):
        one_way.check()
    loop = Graph(np.array([0, 1], np.int64), np.array([0], np.int32))
    with pytest.raises(ValueError, match="self-loop"):
        loop.check()
    unsorted = Graph(np.array([0, 2, 3, 4], np.int64), np.array([2, 1, 0, 0], np.int32))
    with pytest.raises(ValueError, match="increasing"):
        unsorted.check()
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        Graph.from_edges(3, [0], [3])
    with pytest.raises(TypeError, match="integer"):
        Graph.from_edges(3, [0.0], [1.0])
    graph = Graph.from_edges(3, [0], [1])
    with pytest.raises(ValueError, match="read-only"):
        graph.indices[0] = 2
    copy = pickle.loads(pickle.dumps(graph))  # runs use process pools
    assert copy == graph and not copy.indices.flags.writeable


@given(st.lists(st.tuples(st.integers(0, 12), SEEDS), max_size=5))
def test_stack_is_the_block_diagonal_union(specs: list[tuple[int, int]]) -> None:
    graphs = [network.block_model(rng(s).integers(0, 3, n), 4.0, 0.5, rng(s)) for n, s in specs]
    stacked = network.stack(graphs)
    assert_simple(stacked)
    assert stacked.n == sum(g.n for g in graphs)
    assert stacked.n_edges == sum(g.n_edges for g in graphs)
    if graphs:
        expected = sp.block_diag([g.to_scipy() for g in graphs], format="csr")
        assert (stacked.to_scipy() != expected).nnz == 0


def test_stack_rows_follow_a_raveled_run_axis() -> None:
    graphs = [network.small_world(30, 4, 0.3, rng(s)) for s in range(3)]
    stacked = network.stack(graphs)
    for r, g in enumerate(graphs):
        for i in (0, 7, 29):
            row = stacked.indices[stacked.indptr[r * 30 + i] : stacked.indptr[r * 30 + i + 1]]
            np.testing.assert_array_equal(row - r * 30, g.indices[g.indptr[i] : g.indptr[i + 1]])


@given(st.integers(0, 30), SEEDS)
def test_networkx_round_trip(n: int, seed: int) -> None:
    graph = network.block_model(rng(seed).integers(0, 2, n), 5.0, 0.6, rng(seed))
    as_nx = graph.to_networkx()
    assert sorted(as_nx.nodes) == list(range(n))
    assert as_nx.number_of_edges() == graph.n_edges
    assert Graph.from_networkx(as_nx) == graph
    assert Graph.from_networkx(nx.barabasi_albert_graph(20, 2, seed=seed)).n_edges == 36


@given(st.integers(1, 40), st.floats(0.0, 1.0), SEEDS)
def test_triangles_and_clustering_match_networkx(n: int, density: float, seed: int) -> None:
    r = rng(seed)
    u, v = np.triu_indices(n, k=1)
    keep = r.random(u.size) < density
    graph = Graph.from_edges(n, u[keep], v[keep])
    as_nx = graph.to_networkx()
    triangles = nx.triangles(as_nx)
    np.testing.assert_array_equal(network.triangles(graph), [triangles[i] for i in range(n)])
    clustering = nx.clustering(as_nx)
    np.testing.assert_allclose(
        network.local_clustering(graph), [clustering[i] for i in range(n)], atol=1e-12
    )
    assert network.average_clustering(graph) == pytest.approx(
        nx.average_clustering(as_nx), abs=1e-12
    )


def test_clustering_of_known_graphs() -> None:
    assert network.average_clustering(Graph.empty(0)) == 0.0
    assert network.average_clustering(Graph.empty(5)) == 0.0
    assert network.average_clustering(network.small_world(9, 8, 0.5, rng(0))) == 1.0  # complete
    star = network.scale_free(6, 10, rng(0))  # clipped to the star on 6 nodes
    assert network.average_clustering(star) == 0.0
    lattice = network.small_world(200, 8, 0.0, rng(0))
    assert network.average_clustering(lattice) == pytest.approx(lattice_clustering(8), abs=1e-12)


# --------------------------------------------------------------------------------------------
# neighbour_shares: against a slow per-node reference
# --------------------------------------------------------------------------------------------


def shares_reference(
    graph: Graph, nodes: np.ndarray, choice: np.ndarray, weight: np.ndarray, k: int
) -> np.ndarray:
    out = np.zeros((len(nodes), k))
    for r, i in enumerate(nodes):
        for j in graph.indices[graph.indptr[i] : graph.indptr[i + 1]]:
            out[r, choice[j]] += weight[j]
        total = out[r].sum()
        out[r] = out[r] / total if total > 0 else 0.0
    return out


@given(st.integers(1, 60), st.integers(1, 9), st.floats(0.0, 1.0), SEEDS)
def test_neighbour_shares_match_reference(n: int, k: int, fraction: float, seed: int) -> None:
    r = rng(seed)
    graph = network.block_model(r.integers(0, 3, n), 3.0, 0.5, r)  # some isolated nodes
    choice = r.integers(0, k, n).astype(np.int16)
    weight = r.lognormal(0.0, 1.0, n) * (r.random(n) < 0.8)  # some zero spend
    nodes = np.flatnonzero(r.random(n) < fraction)
    nodes = np.concatenate([nodes, nodes[:2]])  # a node listed twice gets its row twice
    got = network.neighbour_shares(graph, nodes, choice, weight, k)
    assert got.shape == (nodes.size, k) and got.dtype == np.float64
    np.testing.assert_allclose(got, shares_reference(graph, nodes, choice, weight, k), atol=1e-12)
    sums = got.sum(axis=1)
    assert np.all((np.abs(sums - 1.0) < 1e-12) | (sums == 0.0))


def test_neighbour_shares_edge_cases() -> None:
    graph = network.small_world(20, 4, 0.0, rng(0))
    choice = np.zeros(20, np.int16)
    weight = np.ones(20)
    assert network.neighbour_shares(graph, [], choice, weight, 3).shape == (0, 3)
    np.testing.assert_array_equal(
        network.neighbour_shares(Graph.empty(4), [0, 3], choice[:4], weight[:4], 2),
        np.zeros((2, 2)),
    )
    choice[5] = 3
    with pytest.raises(ValueError, match="outside"):
        network.neighbour_shares(graph, [4], choice, weight, 3)


# --------------------------------------------------------------------------------------------
# every generator: invariants, edge cases, determinism, dispatch
# --------------------------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[int, int, np.random.Generator], Graph]] = {
    "small_world": lambda n, k, r: network.small_world(n, k, 0.3, r),
    "small_world_p1": lambda n, k, r: network.small_world(n, k, 1.0, r),
    "scale_free": lambda n, k, r: network.scale_free(n, k, r),
    "block": lambda n, k, r: network.block_model(np.arange(n) % 3, k, 0.7, r),
    "block_one_segment": lambda n, k, r: network.block_model(np.zeros(n, np.int64), k, 0.7, r),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
@given(n=st.integers(0, 70), half_degree=st.integers(1, 8), seed=SEEDS)
def test_generators_give_simple_graphs(name: str, n: int, half_degree: int, seed: int) -> None:
    """Simple graphs at every small size, including ``n`` within a few nodes of the degree
    (where rewirings and preferential picks run out of partners)."""
    k = 2 * half_degree
    graph = GENERATORS[name](n, k, rng(seed))
    assert graph.n == n
    assert_simple(graph)
    if name.startswith("small_world"):
        assert graph.n_edges == (n * k // 2 if n > k + 1 else n * (n - 1) // 2)
    if name == "scale_free" and n > 1:
        m = min(half_degree, n - 1)
        assert graph.n_edges == m * (n - m)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_graph_and_same_draws(name: str) -> None:
    first, second = rng(42), rng(42)
    a = GENERATORS[name](500, 8, first)
    b = GENERATORS[name](500, 8, second)
    assert a == b
    assert first.bit_generator.state == second.bit_generator.state
    assert GENERATORS[name](500, 8, rng(43)) != a


def test_small_sizes_are_clipped() -> None:
    for n in range(0, 10):  # n <= k + 1 = 9: the complete graph
        assert network.small_world(n, 8, 0.5, rng(n)).n_edges == n * (n - 1) // 2
    assert network.small_world(10, 8, 0.5, rng(0)).n_edges == 40  # n = k + 2: nearly complete
    for n in range(0, 6):  # m = 4 clipped to n - 1: the star on n nodes
        star = network.scale_free(n, 8, rng(n))
        assert star.n_edges == max(n - 1, 0)
        assert star.degrees[:1].tolist() == ([n - 1] if n else [])
    assert network.block_model(np.zeros(1, np.int64), 8, 0.8, rng(0)).n_edges == 0
    tiny = network.block_model(np.zeros(5, np.int64), 8, 0.8, rng(0))  # p capped at 1
    assert tiny.n_edges == 10


def test_generators_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="even"):
        network.small_world(10, 3, 0.1, rng(0))
    with pytest.raises(ValueError, match="probability"):
        network.small_world(10, 4, 1.5, rng(0))
    with pytest.raises(ValueError, match="mean_degree"):
        network.scale_free(10, 1, rng(0))
    with pytest.raises(ValueError, match="integer"):
        network.block_model(np.zeros(4), 2, 0.5, rng(0))
    with pytest.raises(ValueError, match="homophily"):
        network.block_model(np.zeros(4, np.int64), 2, 1.5, rng(0))
    with pytest.raises(TypeError, match="Generator"):
        network.scale_free(10, 4, np.random.RandomState(0))  # type: ignore[arg-type]


def test_build_dispatches_and_advances_the_stream_by_one_draw() -> None:
    segment = np.arange(300) % 4
    state = rng(9).bit_generator.state
    r = rng(9)
    assert network.build("none", 300, 8, 0.3, 0.8, segment, r) is None
    assert r.bit_generator.state == state  # `none` draws nothing
    calls = {  # small world and scale free are then placed in a random order (child draws)
        "small_world": lambda g: network.relabel(
            network.small_world(300, 8, network.rewiring_for_clustering(0.3, 8), g),
            g.permutation(300),
        ),
        "scale_free": lambda g: network.relabel(network.scale_free(300, 8, g), g.permutation(300)),
        "block": lambda g: network.block_model(segment, 8, 0.8, g),
    }
    for kind, direct in calls.items():
        r, replay = rng(9), rng(9)
        child = np.random.default_rng(int(replay.integers(0, 2**63 - 1, dtype=np.int64)))
        assert network.build(kind, 300, 8, 0.3, 0.8, segment, r) == direct(child)
        assert r.bit_generator.state == replay.bit_generator.state
    one_segment = network.build("block", 300, 8, 0.3, 0.8, None, rng(1))
    assert one_segment is not None and one_segment.n == 300
    with pytest.raises(ValueError, match="kind"):
        network.build("ring", 300, 8, 0.3, 0.8, segment, rng(1))
    with pytest.raises(ValueError, match="shape"):
        network.build("block", 300, 8, 0.3, 0.8, segment[:10], rng(1))


def test_relabel_is_an_isomorphism() -> None:
    """Relabelling by a permutation keeps degrees (permuted), edges (renamed) and clustering."""
    graph = network.small_world(200, 6, 0.2, rng(3))
    position = rng(4).permutation(200)
    moved = network.relabel(graph, position)
    moved.check()
    np.testing.assert_array_equal(moved.degrees[position], graph.degrees)
    u, v = graph.edges()
    assert {frozenset(e) for e in zip(position[u], position[v], strict=True)} == {
        frozenset(e) for e in zip(*moved.edges(), strict=True)
    }
    assert network.average_clustering(moved) == pytest.approx(network.average_clustering(graph))


# --------------------------------------------------------------------------------------------
# small world
# --------------------------------------------------------------------------------------------


def test_rewiring_for_clustering_inverts_barrat_weigt() -> None:
    for k in (4, 8, 20):
        c0 = lattice_clustering(k)
        assert network.rewiring_for_clustering(c0, k) == 0.0
        assert network.rewiring_for_clustering(0.0, k) == 1.0
        for c in np.linspace(0.01, c0, 7):
            p = network.rewiring_for_clustering(float(c), k)
            assert c0 * (1 - p) ** 3 == pytest.approx(c, rel=1e-12)
    assert network.rewiring_for_clustering(0.0, 2) == 1.0
    with pytest.raises(ValueError, match="clustering"):
        network.rewiring_for_clustering(0.7, 8)
    with pytest.raises(ValueError, match="even"):
        network.rewiring_for_clustering(0.1, 5)


def test_small_world_without_rewiring_is_networkx_ring_lattice() -> None:
    for n, k in [(12, 4), (50, 8), (101, 10)]:
        lattice = network.small_world(n, k, 0.0, rng(0))
        assert lattice == Graph.from_networkx(nx.watts_strogatz_graph(n, k, 0.0, seed=1))


@pytest.mark.parametrize("p", [0.05, 0.5, 1.0])
def test_small_world_keeps_edge_count_and_near_ends(p: float) -> None:
    """Exactly ``n k / 2`` edges (as networkx's), and every node keeps its ``k / 2`` near-end
    edges, so no degree falls below ``k / 2``."""
    for seed in range(5):
        graph = network.small_world(300, 8, p, rng(seed))
        assert graph.n_edges == 300 * 4
        assert graph.degrees.min() >= 4


@pytest.mark.slow
@pytest.mark.parametrize("p", [0.1, 0.4])
def test_small_world_degree_moments_closed_form(p: float) -> None:
    """Mean degree exactly ``k``; degree variance ``(k / 2) p (2 - p)`` (kept far ends
    ``Binomial(k/2, 1 - p)`` plus received ends ``~ Poisson(p k / 2)``), a large-``n`` limit:
    allowance 1 % of the value for finite-``n`` terms of order ``k / n``."""
    n, k, seeds = 3000, 8, range(40)
    stats = per_seed(lambda s: [network.small_world(n, k, p, rng(s)).degrees.var()], seeds)
    expected = k / 2 * p * (2 - p)
    near(stats[:, 0], expected, "degree variance", bias=0.01 * expected)


@pytest.mark.slow
def test_small_world_clustering_near_barrat_weigt() -> None:
    """Average clustering against ``C0 (1 - p)^3``. Barrat & Weigt's formula is an
    approximation (it counts triangles kept but ignores the spread of degrees); measured at
    ``n = 5000`` the average local clustering lies 0.3-7 % above it for ``k = 4..16``,
    ``p <= 0.6``, so the allowance is 8 % of the value on top of 4 SE."""
    n, seeds = 3000, range(8)
    for k, p in [(4, 0.2), (8, 0.1), (8, 0.4), (16, 0.3)]:
        stats = per_seed(
            lambda s, k=k, p=p: [network.average_clustering(network.small_world(n, k, p, rng(s)))],
            seeds,
        )
        expected = lattice_clustering(k) * (1 - p) ** 3
        near(stats[:, 0], expected, f"clustering k={k} p={p}", bias=0.08 * expected)
        assert stats[:, 0].mean() >= expected * 0.99  # the formula errs low, not high


@pytest.mark.slow
@pytest.mark.parametrize("k, p", [(6, 0.15), (8, 0.5)])
def test_small_world_matches_networkx(k: int, p: float) -> None:
    """Per graph: degree variance, share of degree ``k``, largest degree, average clustering;
    means over 80 seeds each, two-sample ``|z| <= 4``."""
    n, seeds = 400, range(80)

    def stats(graph: Graph) -> list[float]:
        d = graph.degrees
        return [d.var(), np.mean(d == k), d.max(), network.average_clustering(graph)]

    ours = per_seed(lambda s: stats(network.small_world(n, k, p, rng(s))), seeds)
    theirs = per_seed(
        lambda s: stats(Graph.from_networkx(nx.watts_strogatz_graph(n, k, p, seed=s))), seeds
    )
    for j, what in enumerate(["degree variance", "P(degree = k)", "max degree", "clustering"]):
        two_sample(ours[:, j], theirs[:, j], what)


# --------------------------------------------------------------------------------------------
# scale free
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, mean_degree", [(7, 8), (60, 2), (300, 8), (400, 13), (250, 40)])
def test_scale_free_structure_is_exact(n: int, mean_degree: int) -> None:
    """As networkx's process: the star on nodes ``0 .. m``, then every node ``t > m`` with
    exactly ``m`` distinct older neighbours; ``m (n - m)`` edges."""
    m = min(mean_degree // 2, n - 1)
    for seed in range(3):
        graph = network.scale_free(n, mean_degree, rng(seed))
        assert graph.n_edges == m * (n - m)
        older = [
            int(np.sum(graph.indices[graph.indptr[t] : graph.indptr[t + 1]] < t)) for t in range(n)
        ]
        assert older[: m + 1] == [0] + [1] * m  # the star: each leaf's one older neighbour is 0
        assert older[m + 1 :] == [m] * (n - m - 1)


@pytest.mark.slow
def test_scale_free_each_node_degree_matches_networkx_at_small_n() -> None:
    """At ``n = 20``, ``m = 4`` picks repeat often, so this tests the redraws: the mean degree
    of every node over 1,000 seeds, two-sample ``|z| <= 4`` per node, and of its square."""
    n, m, seeds = 20, 4, range(1000)
    ours = per_seed(lambda s: network.scale_free(n, 2 * m, rng(s)).degrees.tolist(), seeds)
    theirs = per_seed(
        lambda s: [d for _, d in sorted(nx.barabasi_albert_graph(n, m, seed=s).degree())], seeds
    )
    for node in range(n - 1):  # the last node always has degree m
        two_sample(ours[:, node], theirs[:, node], f"degree of node {node}")
        two_sample(ours[:, node] ** 2, theirs[:, node] ** 2, f"squared degree of node {node}")
    assert np.all(ours[:, -1] == m)


@pytest.mark.slow
def test_scale_free_tail_and_clustering_match_networkx() -> None:
    """At ``n = 1000``, ``m = 4``, per graph: shares of nodes with degree at least ``2m``,
    ``4m``, ``8m``, log of the largest degree, average clustering, mean degree of the initial
    star; means over 100 seeds, two-sample ``|z| <= 4``."""
    n, m, seeds = 1000, 4, range(100)

    def stats(graph: Graph) -> list[float]:
        d = graph.degrees
        tail = [np.mean(d >= c * m) for c in (2, 4, 8)]
        return [*tail, math.log(d.max()), network.average_clustering(graph), d[: m + 1].mean()]

    ours = per_seed(lambda s: stats(network.scale_free(n, 2 * m, rng(s))), seeds)
    theirs = per_seed(
        lambda s: stats(Graph.from_networkx(nx.barabasi_albert_graph(n, m, seed=s))), seeds
    )
    names = ["P(d >= 2m)", "P(d >= 4m)", "P(d >= 8m)", "log max degree", "clustering", "core"]
    for j, what in enumerate(names):
        two_sample(ours[:, j], theirs[:, j], what)


@pytest.mark.slow
def test_scale_free_degree_law_and_max_degree_scaling() -> None:
    """Large ``n``: ``P(K >= k) = m (m + 1) / (k (k + 1))`` (the ``k^-3`` density) within 4 SE
    over 12 graphs of 100,000 nodes, no allowance for finite-``n`` terms (measured over 80
    seeds, the means depart from the law by +0.03 %, +0.14 % and +0.30 % of the value at
    ``k = 8, 16, 32``, z = 0.8, 1.8 and 2.0 at 80 seeds, under 1 SE of 12 seeds), and mean
    degree exactly ``2 m (n - m) / n``; the largest degree grows as ``n^(1/2)``: the mean log
    largest degree rises by ``0.5 log 16 = 1.386`` from ``n = 2,000`` to ``32,000`` (4 SE)."""
    m, n = 4, 100_000
    degrees = [network.scale_free(n, 2 * m, rng(s)).degrees for s in range(12)]
    for d in degrees:
        assert d.mean() == pytest.approx(2 * m * (n - m) / n, rel=1e-12)
    for k in (2 * m, 4 * m, 8 * m):
        stats = np.array([np.mean(d >= k) for d in degrees])
        near(stats, m * (m + 1) / (k * (k + 1)), f"P(K >= {k})")
    small = per_seed(
        lambda s: [math.log(network.scale_free(2000, 8, rng(s)).degrees.max())], range(40)
    )
    large = per_seed(
        lambda s: [math.log(network.scale_free(32000, 8, rng(s)).degrees.max())], range(40)
    )
    rise = large[:, 0] - small[:, 0]
    near(rise, 0.5 * math.log(16), "rise of log max degree")


# --------------------------------------------------------------------------------------------
# block model
# --------------------------------------------------------------------------------------------


def test_block_probabilities_closed_forms() -> None:
    sizes = np.array([500, 300, 200])
    n, d, h = sizes.sum(), 8.0, 0.8
    p, q = network.block_probabilities(sizes, d, h)
    ends_inside = np.sum(sizes * (sizes - 1) * p)
    ends_across = q * (n * n - np.sum(sizes * sizes))
    assert (ends_inside + ends_across) / n == pytest.approx(d, rel=1e-12)  # mean degree d
    assert ends_inside / (ends_inside + ends_across) == pytest.approx(h, rel=1e-12)  # share h
    degree, share = network.block_expectations(sizes, d, h)
    np.testing.assert_allclose(p * (sizes - 1), h * d)  # every member: h d ties inside
    np.testing.assert_allclose(degree, [7.6903226, 8.2064516, 8.4645161], rtol=1e-7)
    np.testing.assert_allclose(share, [0.8322148, 0.7798742, 0.7560976], rtol=1e-6)
    equal_degree, equal_share = network.block_expectations([250, 250, 250, 250], d, h)
    np.testing.assert_allclose(equal_degree, d)
    np.testing.assert_allclose(equal_share, h)
    one_p, one_q = network.block_probabilities([101], d, h)
    assert one_p[0] == pytest.approx(d / 100) and one_q == 0.0  # one segment: Erdos-Renyi
    single_p, _ = network.block_probabilities([1, 99], d, h)
    assert single_p[0] == 0.0
    capped, _ = network.block_probabilities([3, 97], d, h)
    assert capped[0] == 1.0
    with pytest.raises(ValueError, match="sizes"):
        network.block_probabilities([0, 5], d, h)


@pytest.mark.slow
def test_block_model_counts_and_degrees_closed_form() -> None:
    """Edge counts inside each segment and across are binomial with means ``N_b p_b`` and
    ``N_across q`` (4 binomial SE over 60 seeds); per-segment mean degrees and shares of ties
    inside match :func:`block_expectations` (4 SE over the seeds). Labels need not be sorted
    or contiguous; a segment of one member has no ties inside."""
    labels = np.array([3, 1, 7, 5])
    sizes = np.array([600, 250, 149, 1])
    segment = np.repeat(labels, sizes)
    order = np.argsort(labels)  # block_model numbers segments by sorted label
    labels, sizes = labels[order], sizes[order]
    d, h, seeds = 8.0, 0.75, range(60)
    p, q = network.block_probabilities(sizes, d, h)
    degree, share = network.block_expectations(sizes, d, h)
    members = [segment == b for b in labels]

    def stats(s: int) -> list[float]:
        graph = network.block_model(segment, d, h, rng(s))
        u, v = graph.edges()
        inside = segment[u] == segment[v]
        counts = [np.sum(inside & (segment[u] == b)) for b in labels]
        deg = graph.degrees
        own = np.bincount(np.concatenate([u[inside], v[inside]]), minlength=graph.n)
        per_segment = [deg[m].mean() for m in members]
        shares = [own[m].sum() / max(deg[m].sum(), 1) for m in members]
        return [*counts, np.sum(~inside), *per_segment, *shares]

    out = per_seed(stats, seeds)
    pairs = sizes * (sizes - 1) / 2
    across_pairs = (sizes.sum() ** 2 - np.sum(sizes**2)) / 2
    for b in range(4):
        mean, var = pairs[b] * p[b], pairs[b] * p[b] * (1 - p[b])
        assert abs(out[:, b].mean() - mean) <= Z * math.sqrt(var / len(seeds)) + 1e-12
    mean, var = across_pairs * q, across_pairs * q * (1 - q)
    assert abs(out[:, 4].mean() - mean) <= Z * math.sqrt(var / len(seeds))
    for b in range(4):
        near(out[:, 5 + b], degree[b], f"mean degree of segment {labels[b]}")
        near(out[:, 9 + b], share[b], f"share inside of segment {labels[b]}")
    assert np.all(out[:, 9 + int(np.flatnonzero(sizes == 1)[0])] == 0.0)


@pytest.mark.slow
def test_block_model_matches_networkx() -> None:
    """Same probability matrix in ``networkx.stochastic_block_model``: mean degree, degree
    variance, share of edges inside segments, mean degree of the smallest segments and of
    the singleton; means over 100 seeds, two-sample ``|z| <= 4``."""
    sizes = [150, 90, 59, 1]
    segment = np.repeat(np.arange(4), sizes)
    d, h, seeds = 8.0, 0.7, range(100)
    p, q = network.block_probabilities(sizes, d, h)
    matrix = np.full((4, 4), q)
    np.fill_diagonal(matrix, p)

    def stats(graph: Graph) -> list[float]:
        deg = graph.degrees
        u, v = graph.edges()
        return [
            deg.mean(),
            deg.var(),
            np.mean(segment[u] == segment[v]),
            deg[240:299].mean(),
            deg[299],
        ]

    ours = per_seed(lambda s: stats(network.block_model(segment, d, h, rng(s))), seeds)
    theirs = per_seed(
        lambda s: stats(
            Graph.from_networkx(nx.stochastic_block_model(sizes, matrix.tolist(), seed=s))
        ),
        seeds,
    )
    for j, what in enumerate(
        ["mean degree", "degree variance", "share inside", "segment 2", "singleton"]
    ):
        two_sample(ours[:, j], theirs[:, j], what)


def test_block_model_extremes_of_homophily() -> None:
    segment = np.arange(400) % 5
    inside_only = network.block_model(segment, 6, 1.0, rng(0))
    u, v = inside_only.edges()
    assert inside_only.n_edges > 0 and np.all(segment[u] == segment[v])
    across_only = network.block_model(segment, 6, 0.0, rng(0))
    u, v = across_only.edges()
    assert across_only.n_edges > 0 and np.all(segment[u] != segment[v])
    dense = network.block_model(np.repeat([0, 1], [6, 300]), 8, 1.0, rng(0))
    assert dense.degrees[:6].tolist() == [5] * 6  # p capped at 1: the segment of 6 is complete


def test_block_model_does_not_need_contiguous_segments() -> None:
    """Metamorphic: interleaving the segments (keeping each segment's members in order) and
    renaming labels monotonically relabels the same graph: node ``i`` of the contiguous
    layout becomes ``position[i]``."""
    sizes = [120, 50, 30]
    contiguous = np.repeat([0, 1, 2], sizes)
    r = rng(5)
    interleaved = r.permutation(contiguous)
    position = np.concatenate([np.flatnonzero(interleaved == b) for b in range(3)])
    a = network.block_model(contiguous, 6, 0.6, rng(77))
    b = network.block_model(interleaved * 10 - 4, 6, 0.6, rng(77))
    u, v = a.edges()
    assert b == Graph.from_edges(a.n, position[u], position[v])
