"""The enterprise network (sim/network.py): build time and memory of the generators, and the
per-step neighbour kernel.

Rows:

* build time of each kind (small world with clustering 0.3, scale free, block model over
  segments of shares 0.5 / 0.3 / 0.2 with homophily 0.8; mean degree 8) at 100k and 1M nodes,
  each in a fresh interpreter through :func:`sim.network.build`, wall and CPU time (the CPU
  time is steadier on a shared machine). Target at 100k: under 1 s, a third of the 3 s a
  100k-enterprise model with its network may take to build;
* peak resident memory of those builds: the process's high-water mark (``VmHWM``) minus its
  resident size after the imports, i.e. what the build adds, and NumPy's traced peak
  (``tracemalloc``) of a second build. Target at 1M: an addition under 800 MiB (the 1.5 GB
  budget of a 1M run less the 0.7 GB the model takes without a network);
* the per-step neighbour kernel, :meth:`sim.network.NeighbourWeights.shares` with the weights
  prepared once (as the model prepares them once per run), for a random 10 % of 100k nodes
  and 9 options (median over repeats, a fresh subset each time). Target: under 2 ms, about
  one model step. :func:`sim.network.neighbour_shares`, which prepares the weights on every
  call, is reported beside it;
* :func:`sim.network.average_clustering` at 100k (analysis only, no target).

``quick=True`` leaves out the 1M size and repeats less.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import Row, checked, median_time, row
from sim import network

NAME = "network"
ROOT = Path(__file__).resolve().parents[1]
KINDS = ("small_world", "scale_free", "block")
MEAN_DEGREE = 8
CLUSTERING = 0.3
HOMOPHILY = 0.8
SHARES = (0.5, 0.3, 0.2)
BUILD_TARGET_S = 1.0
MEMORY_TARGET_MIB = 800.0
SHARES_TARGET_MS = 2.0

_row = functools.partial(row, NAME)
_checked = functools.partial(checked, NAME)

_PROBE = """
import json, sys, time, tracemalloc
import numpy as np
from sim import network
from benchmarks.bench_network import CLUSTERING, HOMOPHILY, MEAN_DEGREE, segments

def status(key):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(key)

kind, n = sys.argv[1], int(sys.argv[2])
segment = segments(n)
base = status("VmRSS")
start, cpu = time.perf_counter(), time.process_time()
graph = network.build(kind, n, MEAN_DEGREE, CLUSTERING, HOMOPHILY, segment,
                      np.random.default_rng(1))
wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
peak = status("VmHWM")
graph_bytes = graph.indptr.nbytes + graph.indices.nbytes
edges = graph.n_edges
del graph
tracemalloc.start()
network.build(kind, n, MEAN_DEGREE, CLUSTERING, HOMOPHILY, segment, np.random.default_rng(2))
traced = tracemalloc.get_traced_memory()[1]
print(json.dumps({"wall_s": wall_s, "cpu_s": cpu_s, "base": base, "peak": peak,
                  "traced": traced, "graph_bytes": graph_bytes, "edges": edges}))
"""


def segments(n: int) -> np.ndarray:
    """Contiguous segment labels ``(n,)`` with shares :data:`SHARES`."""
    counts = np.floor(np.array(SHARES) * n).astype(np.int64)
    counts[-1] = n - counts[:-1].sum()
    return np.repeat(np.arange(len(SHARES)), counts)


def probe(kind: str, n: int) -> dict[str, Any]:
    """Build one graph of ``kind`` on ``n`` nodes in a fresh interpreter; times in s, memory
    in bytes (``base``: resident after imports, ``peak``: high-water mark, ``traced``:
    tracemalloc's peak of a second build)."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, kind, str(n)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _build_rows(sizes: list[int]) -> list[Row]:
    rows: list[Row] = []
    mib = 2.0**20
    for n in sizes:
        for kind in KINDS:
            out = probe(kind, n)
            label = f"{kind}, N={n:,}, mean degree {MEAN_DEGREE}"
            if n == 100_000:
                ok = out["wall_s"] < BUILD_TARGET_S
                rows.append(
                    _checked(f"build {label}", out["wall_s"], "s", f"< {BUILD_TARGET_S:g}", ok)
                )
            else:
                rows.append(_row(f"build {label}", out["wall_s"], "s"))
            rows.append(_row(f"build {label} (CPU)", out["cpu_s"], "s"))
            added = (out["peak"] - out["base"]) / mib
            if n >= 1_000_000:
                ok = added < MEMORY_TARGET_MIB
                rows.append(
                    _checked(
                        f"peak resident added by the build, {label}",
                        added,
                        "MiB",
                        f"< {MEMORY_TARGET_MIB:g}",
                        ok,
                    )
                )
            else:
                rows.append(_row(f"peak resident added by the build, {label}", added, "MiB"))
            rows.append(_row(f"peak resident, {label}", out["peak"] / mib, "MiB"))
            rows.append(_row(f"tracemalloc peak of the build, {label}", out["traced"] / mib, "MiB"))
            rows.append(_row(f"graph arrays (CSR), {label}", out["graph_bytes"] / mib, "MiB"))
    return rows


def _kernel_rows(n: int, repeats: int) -> list[Row]:
    rows: list[Row] = []
    rng = np.random.default_rng(3)
    choice = rng.integers(0, 9, n).astype(np.int16)
    spend = rng.lognormal(0.0, 1.0, n)
    for kind in KINDS:
        graph = network.build(kind, n, MEAN_DEGREE, CLUSTERING, HOMOPHILY, segments(n), rng)
        assert graph is not None
        subsets = [np.flatnonzero(rng.random(n) < 0.1) for _ in range(8)]
        prepared = network.NeighbourWeights(graph, spend)  # as the model does, once per run
        calls = {
            "per step": functools.partial(prepared.shares, n_options=9, choice=choice),
            "one-off": functools.partial(
                network.neighbour_shares, graph, choice=choice, weight=spend, n_options=9
            ),
        }
        for what, call in calls.items():

            def twenty(
                call: Callable[..., Any] = call, subsets: list[np.ndarray] = subsets
            ) -> None:
                for k in range(20):  # a fresh subset each call
                    call(nodes=subsets[k % len(subsets)])

            twenty()  # warm-up (and the kernel's compilation)
            seconds = median_time(twenty, repeats) / 20
            if what == "per step":
                rows.append(
                    _checked(
                        f"NeighbourWeights.shares (weights prepared once), {kind}, N={n:,}, "
                        "10 % of nodes, K=9",
                        seconds * 1e3,
                        "ms",
                        f"< {SHARES_TARGET_MS:g}",
                        seconds * 1e3 < SHARES_TARGET_MS,
                    )
                )
            else:
                rows.append(
                    _row(
                        f"neighbour_shares (weights prepared each call), {kind}, N={n:,}, "
                        "10 % of nodes, K=9",
                        seconds * 1e3,
                        "ms",
                    )
                )
        if kind != "block":
            seconds = median_time(functools.partial(network.average_clustering, graph), 3)
            rows.append(_row(f"average_clustering, {kind}, N={n:,}", seconds, "s"))
    return rows


def run(quick: bool = False) -> list[Row]:
    """All rows of this benchmark; ``quick`` drops the 1M size and repeats less."""
    start = time.perf_counter()
    sizes = [100_000] if quick else [100_000, 1_000_000]
    rows = _build_rows(sizes)
    rows += _kernel_rows(100_000, 5 if quick else 15)
    rows.append(_row("wall time of this benchmark", time.perf_counter() - start, "s"))
    return rows
