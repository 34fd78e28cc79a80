"""The compiled network passes of :mod:`sim.kernels` against plain Python over the same graphs:
the neighbour sums equal, bit for bit, what ``numpy.bincount`` gives when it adds the same
entries in the same order; the agreeing weight equals a per-edge Python sum, run by run, on
stacked graphs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import network
from sim.engine import Agreement
from sim.kernels import agreeing_weight, neighbour_option_sums


def graph_of(kind: str, n: int, seed: int) -> network.Graph:
    rng = np.random.default_rng(seed)
    if kind == "small_world":
        return network.small_world(n, 6, 0.2, rng)
    if kind == "scale_free":
        return network.scale_free(n, 4, rng)
    return network.Graph.empty(n)


@pytest.mark.parametrize("kind", ["small_world", "scale_free", "empty"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_neighbour_sums_match_bincount_bit_for_bit(kind: str, seed: int) -> None:
    n, k = 300, 5
    g = graph_of(kind, n, seed)
    rng = np.random.default_rng(100 + seed)
    weight = rng.lognormal(0.0, 1.0, n)
    choice = rng.integers(0, k, n).astype(np.int16)
    nodes = np.flatnonzero(rng.random(n) < 0.4)
    got = neighbour_option_sums(g.indptr, g.indices, weight, nodes, choice, k)
    # the same entries in the same order through bincount
    start, stop = g.indptr[nodes], g.indptr[nodes + 1]
    entries = np.concatenate([np.arange(a, b) for a, b in zip(start, stop, strict=True)] or [[]])
    entries = entries.astype(np.int64)
    row = np.repeat(np.arange(nodes.size), stop - start)
    neighbour = g.indices[entries]
    cell = choice[neighbour].astype(np.int64) * nodes.size + row
    expected = np.bincount(cell, weights=weight[neighbour], minlength=k * nodes.size)
    assert got.shape == (k, nodes.size)
    assert np.array_equal(got, expected.reshape(k, nodes.size))
    # and against a per-node Python sum (to rounding: Python adds in the same order)
    for r, i in enumerate(nodes[:20]):
        for o in range(k):
            total = 0.0
            for j in g.indices[g.indptr[i] : g.indptr[i + 1]]:
                if choice[j] == o:
                    total += weight[j]
            assert got[o, r] == total


@pytest.mark.parametrize("runs", [1, 3])
def test_agreeing_weight_is_the_per_edge_sum_run_by_run(runs: int) -> None:
    n, k = 200, 4
    graphs = [graph_of("small_world" if r % 2 == 0 else "scale_free", n, r) for r in range(runs)]
    stacked = network.stack(graphs)
    rng = np.random.default_rng(7)
    choice = rng.integers(0, k, runs * n).astype(np.int16)
    edges = Agreement.of(stacked.indptr, stacked.indices, runs)
    got = agreeing_weight(edges.first, edges.second, edges.weight, edges.bounds, choice)
    for r, g in enumerate(graphs):
        own = choice[r * n : (r + 1) * n]
        degree = g.degrees
        members, shares = 0, 0.0
        for i in range(n):
            if degree[i] == 0:
                continue
            members += 1
            neighbours = g.indices[g.indptr[i] : g.indptr[i + 1]]
            shares += sum(own[j] == own[i] for j in neighbours) / degree[i]
        assert members == edges.members[r]
        assert math.isclose(got[r] / members, shares / members, rel_tol=1e-12)


def test_agreeing_weight_without_edges_is_zero() -> None:
    g = network.Graph.empty(10)
    edges = Agreement.of(g.indptr, g.indices, 1)
    got = agreeing_weight(
        edges.first, edges.second, edges.weight, edges.bounds, np.zeros(10, np.int16)
    )
    assert got.tolist() == [0.0] and edges.members.tolist() == [0]
