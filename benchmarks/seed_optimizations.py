"""Measured suggestions for the ``seed`` step (not a ``bench_*`` module: ``make bench`` does
not run it). ``python -m benchmarks.seed_optimizations``

Each suggestion is a drop-in replacement of one engine function, installed here by patching
the module attribute for the duration of a measurement (``sim/`` itself is not changed):

* ``agreement-source``: :func:`sim.engine.local_agreement` with the source node of every CSR
  entry computed once per population instead of ``np.repeat(choice, degree)`` every step;
  the same values summed in the same order, so the output is bit-identical;
* ``agreement-half``: the same statistic summed once per undirected edge,
  ``sum_{u < v} [c_u = c_v] (1 / d_u + 1 / d_v)``: half the gathers, a different order of
  summation (the ``local_agreement`` column may differ in its last bits; the state does not);
* ``shares-csr``: :func:`sim.network.neighbour_shares` gathering the listed nodes' rows by
  SciPy's CSR row indexing (C) instead of ``repeat``/``cumsum``/``arange`` in NumPy, and each
  node's total neighbour weight summed once (spend sizes never change) instead of by a
  ``bincount`` per step: the same entries summed in the same order, so bit-identical;
* ``taste-by-option``: :meth:`sim.dynamics.Personal.adjustment` reading a per-option taste
  table ``(N, J)`` built once instead of ``taste[flat][:, taste_kind]`` every step
  (bit-identical). Tried and rejected: gathering twice as many bytes per reviser costs more
  than the column copy it saves (measured 25 % to 50 % slower), so no set below uses it.

Printed: the time of each replaced function against the original on the same inputs (medians,
CPU time), the seed and classic model steps at 100k with each set of :data:`SETS` installed
(interleaved), and how a 60-step run's frame compares with the engine's as is.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import scipy.sparse

from benchmarks.bench_seed import interleaved, scenario
from sim import dynamics, engine, network
from sim.model import TechCompetitionModel

_ORIGINAL = {
    "local_agreement": engine.local_agreement,
    "neighbour_shares": network.neighbour_shares,
    "adjustment": dynamics.Personal.adjustment,
}
_CACHE: dict[tuple[str, int], tuple[Any, Any]] = {}


def _cached(tag: str, key_object: Any, build: Callable[[], Any]) -> Any:
    """``build()`` once per ``tag`` and live ``key_object`` (held, so its id is not reused)."""
    key = (tag, id(key_object))
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not key_object:
        hit = (key_object, build())
        _CACHE[key] = hit
    return hit[1]


def agreement_source(state: engine.State) -> np.ndarray:
    """:func:`sim.engine.local_agreement` with each CSR entry's source node precomputed."""
    pop = state.population
    if pop.graph is None or pop.agreement is None:
        return np.full(state.runs, np.nan)
    edges = pop.agreement
    graph: Any = pop.graph
    source = _cached(
        "source", graph, lambda: np.repeat(np.arange(graph.n, dtype=np.int32), edges.degree)
    )
    choice = state.choice.ravel()
    same = np.take(choice, graph.indices) == np.take(choice, source)
    total = np.add.reduceat(same * edges.weight, edges.bounds[:-1]) if len(same) else 0.0
    total = np.where(edges.bounds[1:] == edges.bounds[:-1], 0.0, total)
    return np.where(edges.members > 0, total / np.maximum(edges.members, 1), np.nan)


def agreement_half(state: engine.State) -> np.ndarray:
    """The same statistic, one term per undirected edge."""
    pop = state.population
    if pop.graph is None or pop.agreement is None:
        return np.full(state.runs, np.nan)
    edges = pop.agreement
    graph: Any = pop.graph

    def build() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        source = np.repeat(np.arange(graph.n, dtype=np.int32), edges.degree)
        keep = source < graph.indices
        u, v = source[keep], graph.indices[keep]
        inverse = 1.0 / np.maximum(edges.degree, 1)
        weight = inverse[u] + inverse[v]
        n = graph.n // state.runs
        bounds = np.searchsorted(u, np.arange(state.runs + 1) * n)
        return u, v, weight, bounds

    u, v, weight, bounds = _cached("half", graph, build)
    choice = state.choice.ravel()
    same = np.take(choice, u) == np.take(choice, v)
    total = np.add.reduceat(same * weight, bounds[:-1]) if len(same) else 0.0
    total = np.where(bounds[1:] == bounds[:-1], 0.0, total)
    return np.where(edges.members > 0, total / np.maximum(edges.members, 1), np.nan)


def shares_csr(
    graph: Any, nodes: Any, choice: np.ndarray, weight: np.ndarray, n_options: int
) -> np.ndarray:
    """:func:`sim.network.neighbour_shares` with the rows gathered by SciPy (C) and each
    node's total neighbour weight computed once (the weights, spend sizes, never change)."""
    nodes = np.asarray(nodes, dtype=np.int64).ravel()

    def build() -> tuple[Any, np.ndarray]:
        entry = np.asarray(weight, dtype=np.float64)[graph.indices]
        matrix = scipy.sparse.csr_matrix(
            (entry, graph.indices, graph.indptr), shape=(graph.n, graph.n)
        )
        source = np.repeat(np.arange(graph.n), np.diff(graph.indptr))
        norm = np.bincount(source, weights=entry, minlength=graph.n)  # same order as per row
        return matrix, np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)

    matrix, inverse = _cached("csr", graph, build)
    if nodes.size == 0 or matrix.nnz == 0:
        return np.zeros((nodes.size, n_options))
    sub = matrix[nodes]
    row = np.repeat(np.arange(nodes.size, dtype=np.int64), np.diff(sub.indptr))
    option = choice[sub.indices]
    flat = np.bincount(row * n_options + option, weights=sub.data, minlength=nodes.size * n_options)
    sums = flat.reshape(nodes.size, n_options)
    sums *= inverse[nodes][:, None]
    return sums


def adjustment_by_option(
    self: dynamics.Personal, core: Any, flat: np.ndarray, seg: np.ndarray, choice: np.ndarray
) -> np.ndarray:
    """:meth:`sim.dynamics.Personal.adjustment` with tastes per option built once."""
    n_options = core.n_options
    if self.graph is not None and core.flags.peers:
        shares = network.neighbour_shares(self.graph, flat, choice.ravel(), self.weight, n_options)
        extra = core.params.peer_effect * shares
    else:
        extra = np.zeros((len(flat), n_options))
    if self.taste is not None:
        taste = self.taste
        by_option = _cached("taste", taste, lambda: np.ascontiguousarray(taste[:, self.taste_kind]))
        extra[:, :-1] += by_option[flat]
    extra *= core.mu[seg][:, None]
    return extra


SUGGESTIONS = {
    "agreement-source": ("local_agreement", agreement_source),
    "agreement-half": ("local_agreement", agreement_half),
    "shares-csr": ("neighbour_shares", shares_csr),
    "taste-by-option": ("adjustment", adjustment_by_option),
}
SETS = {
    "as is": (),
    "bit-identical suggestions": ("agreement-source", "shares-csr"),
    "fastest suggestions": ("agreement-half", "shares-csr"),
}


@contextlib.contextmanager
def installed(names: tuple[str, ...]) -> Iterator[None]:
    """The named suggestions in place of the engine's functions, restored on exit."""
    try:
        for name in names:
            target, func = SUGGESTIONS[name]
            if target == "local_agreement":
                engine.local_agreement = func  # type: ignore[assignment]
            elif target == "neighbour_shares":
                network.neighbour_shares = func  # type: ignore[assignment]
            else:
                dynamics.Personal.adjustment = func  # type: ignore[method-assign]
        yield
    finally:
        engine.local_agreement = _ORIGINAL["local_agreement"]  # type: ignore[assignment]
        network.neighbour_shares = _ORIGINAL["neighbour_shares"]  # type: ignore[assignment]
        dynamics.Personal.adjustment = _ORIGINAL["adjustment"]  # type: ignore[method-assign]


def _median_cpu(func: Callable[[], Any], calls: int, repeats: int = 9) -> float:
    func()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            func()
        times.append((time.process_time() - start) / calls)
    return statistics.median(times)


def function_gains(n: int = 100_000) -> list[str]:
    """Each replaced function against the original on the same seed-scenario inputs."""
    model = TechCompetitionModel(params=scenario("seed", n), rng=1)
    model.run(20)
    state, core = model.state, model.core
    pop = state.population
    personal = pop.personal
    assert personal is not None
    rng = np.random.default_rng(0)
    subsets = [
        np.flatnonzero(rng.random(n) < core.revision_threshold) for _ in range(16)
    ]  # fresh revisers each call, as in a step
    turn = iter(range(10**9))

    def revisers() -> np.ndarray:
        return subsets[next(turn) % len(subsets)]

    choice = state.choice
    seg = core.segment_of.astype(np.intp)
    cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "agreement-source": (
            lambda: _ORIGINAL["local_agreement"](state),
            lambda: agreement_source(state),
        ),
        "agreement-half": (
            lambda: _ORIGINAL["local_agreement"](state),
            lambda: agreement_half(state),
        ),
        "shares-csr": (
            lambda: _ORIGINAL["neighbour_shares"](
                pop.graph, revisers(), choice.ravel(), personal.weight, core.n_options
            ),
            lambda: shares_csr(
                pop.graph, revisers(), choice.ravel(), personal.weight, core.n_options
            ),
        ),
        "taste-by-option": (
            lambda: _taste_part(personal, core, revisers(), seg, None),
            lambda: _taste_part(personal, core, revisers(), seg, True),
        ),
    }
    lines = []
    for name, (before, after) in cases.items():
        old, new = _median_cpu(before, 50), _median_cpu(after, 50)
        lines.append(
            f"{name:18s} {old * 1e3:7.3f} ms -> {new * 1e3:7.3f} ms  "
            f"({(1 - new / old) * 100:4.0f} % less)"
        )
    fixed = subsets[0]
    a = _ORIGINAL["neighbour_shares"](
        pop.graph, fixed, choice.ravel(), personal.weight, core.n_options
    )
    b = shares_csr(pop.graph, fixed, choice.ravel(), personal.weight, core.n_options)
    lines.append(f"shares-csr bit-identical on one subset: {np.array_equal(a, b)}")
    x = _taste_part(personal, core, fixed, seg, None)
    y = _taste_part(personal, core, fixed, seg, True)
    lines.append(f"taste-by-option bit-identical on one subset: {np.array_equal(x, y)}")
    a1 = _ORIGINAL["local_agreement"](state)
    lines.append(
        f"agreement-source bit-identical: {np.array_equal(a1, agreement_source(state))}; "
        f"agreement-half differs by {float(np.abs(a1 - agreement_half(state)).max()):.1e}"
    )
    return lines


def _taste_part(
    personal: dynamics.Personal, core: Any, flat: np.ndarray, seg: np.ndarray, by_option: Any
) -> np.ndarray:
    """The taste part of the adjustment alone (no neighbours), old or new way."""
    taste = personal.taste
    assert taste is not None
    extra = np.zeros((len(flat), core.n_options))
    if by_option:
        table = _cached("taste", taste, lambda: np.ascontiguousarray(taste[:, personal.taste_kind]))
        extra[:, :-1] += table[flat]
    else:
        extra[:, :-1] += taste[flat][:, personal.taste_kind]
    extra *= core.mu[seg[flat]][:, None]
    return extra


def step_gains(n: int = 100_000, steps: int = 20, blocks: int = 11) -> list[str]:
    """Seed and classic steps (model, and engine alone) with each set of :data:`SETS`
    installed, alternating, and the frames of a 60-step seed run compared with the engine's
    as is."""
    lines = []
    frames = {}
    for label, names in SETS.items():
        with installed(names):
            frames[label] = TechCompetitionModel(params=scenario("seed", 5_000), rng=7).run(60)
    reference = frames["as is"]
    for label, frame in frames.items():
        differ = [
            c for c in frame.columns if not np.array_equal(frame[c], reference[c], equal_nan=True)
        ]
        gap = max((float(np.nanmax(np.abs(frame[c] - reference[c]))) for c in differ), default=0)
        what = "identical" if not differ else f"{', '.join(differ)} differ by <= {gap:.1e}"
        lines.append(f"seed, N=5,000, 60 steps, {label}: frame {what}")
    models = {
        name: TechCompetitionModel(params=scenario(name, n), rng=1) for name in ("classic", "seed")
    }

    def block(
        model: TechCompetitionModel, names: tuple[str, ...], bare: bool
    ) -> Callable[[], None]:
        def run() -> None:
            with installed(names):
                for _ in range(steps):
                    if bare:
                        model.state = engine.advance(model.plan, model.state, model._rngs)
                    else:
                        model.step()

        return run

    variants = {
        f"{name} {what} {label}": block(model, names, what == "engine")
        for name, model in models.items()
        for what in ("model", "engine")
        for label, names in SETS.items()
    }
    for func in variants.values():
        func()
    per_step = {k: v / steps for k, v in interleaved(variants, blocks).items()}
    for key, value in per_step.items():
        lines.append(f"{key:45s} {value * 1e3:7.3f} ms per step (CPU)")
    for what in ("model", "engine"):
        for label in SETS:
            ratio = per_step[f"seed {what} {label}"] / per_step[f"classic {what} {label}"]
            lines.append(f"seed / classic {what} step, {label}: {ratio:.2f}x")
    return lines


def main() -> None:
    import os

    print(f"load average {os.getloadavg()}")
    for line in function_gains():
        print(line)
    for line in step_gains():
        print(line)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
