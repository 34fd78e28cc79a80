r"""Speed and memory of the second version on the ``seed`` scenario (issue 12, part 8).

The ``seed`` scenario has six providers, five enterprise segments with persistent tastes and
lognormal spend sizes, a segment-homophilous block network (mean degree 8) with peer effects,
licensing, compute and diffusion; ``classic`` is the first version (one segment, no tastes,
no network). Rows, each a median over repeats, ratios between medians of the same run:

* **step ratio**: the ``seed`` step against the ``classic`` step at 100k enterprises, one model
  of each in this process, timed in alternating blocks (classic model, classic engine, seed
  model, seed engine, limit kernel, then again) so that machine noise hits them all, in CPU
  time whatever ``--clock`` says. Two steps are timed: ``TechCompetitionModel.step()`` (engine
  step, observation, DataCollector) and the engine step alone (:func:`sim.engine.advance`).
  Target: at most 3;
* **headline**: ``TechCompetitionModel(seed, 100k).run(1000)`` (DataCollector recording every
  step) and the engine alone (:func:`sim.engine.initial_state` and 1,000
  :func:`sim.engine.advance`), each including construction, in this process; wall and CPU
  time are both recorded and the target (under 10 s) is checked on the benchmark's clock;
* **construction**: a 100k ``seed`` model (population, network, one Mesa agent per
  enterprise) built in a fresh interpreter. Target: under 3 s;
* **memory**: a 1M-enterprise ``seed`` model with its network built and run for a few steps in
  a fresh interpreter; peak resident memory is the process's high-water mark ``VmHWM``
  (everything, interpreter and imports included). Target: under 1.5 GB;
* **naive**: :mod:`benchmarks.naive_v2` (each enterprise a Mesa agent computing its utilities
  in Python) against the model at 100k enterprises with every enterprise choosing each step
  (revision rate 1 in every segment); the naive model is timed over a few steps only. Target:
  the model at least 100x faster. The naive model against :class:`LimitKernel` at the same
  rates is the most any NumPy implementation of the decision could gain;
* **limit kernel**: :class:`LimitKernel` at the seed's revision rates and 100k enterprises,
  timed in the same alternation as the step ratio. Target: ``TechCompetitionModel.step()`` at
  most 2x the kernel (the engine step alone against it is reported too, and the kernel against
  the classic engine step, the least the 3x target leaves room for).

``quick=True`` repeats less, times fewer steps and leaves out the engine-alone headline (the
1M memory probe still runs once).
"""

from __future__ import annotations

import functools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import Row, checked, clock_name, row
from benchmarks.naive_v2 import NaiveV2Model
from sim import engine, payoffs
from sim.core import Plan
from sim.kernels import neighbour_option_sums
from sim.model import TechCompetitionModel
from sim.params import Params, load_scenario

ROOT = Path(__file__).resolve().parents[1]
NAME = "seed"
N = 100_000
STEP_RATIO_TARGET = 3.0
HEADLINE_TARGET_S = 10.0
BUILD_TARGET_S = 3.0
PEAK_TARGET_GB = 1.5
NAIVE_TARGET = 100.0
KERNEL_TARGET = 2.0

_row = functools.partial(row, NAME)
_checked = functools.partial(checked, NAME)


def scenario(name: str, n: int, revision_rate: float | None = None) -> Params:
    """Scenario ``name`` with ``n`` enterprises; ``revision_rate`` set in every segment."""
    params = load_scenario(name).replace(n_enterprises=n)
    if revision_rate is None:
        return params
    names = [s.name for s in params.segments]
    if not names:
        return params.replace(revision_rate=revision_rate)
    return params.replace(**{f"{name}.revision_rate": revision_rate for name in names})


def _both_clocks(func: Callable[[], Any]) -> dict[str, float]:
    """Wall and CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    func()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def interleaved(variants: dict[str, Callable[[], Any]], blocks: int) -> dict[str, float]:
    """Median CPU seconds per call of each variant over ``blocks`` rounds; each round calls
    every variant once, in turn, so slow phases of a shared machine hit them all."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(blocks):
        for name, func in variants.items():
            start = time.process_time()
            func()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _steps(step: Callable[[], Any], count: int) -> Callable[[], None]:
    def block() -> None:
        for _ in range(count):
            step()

    return block


def _engine_step(model: TechCompetitionModel) -> Callable[[], None]:
    """The bare engine step on ``model``'s state (no observation, no DataCollector)."""

    def step() -> None:
        model.state = engine.advance(model.plan, model.state, model._rngs)

    return step


# --------------------------------------------------------------------------------------------
# The limit kernel
# --------------------------------------------------------------------------------------------


class LimitKernel:
    r"""The least work one step of the second version's enterprise decision needs, with the
    tools the model has (NumPy and the compiled neighbour walk of :mod:`sim.kernels`).

    Built from a model's current state, then each :meth:`step`, options first ``(K, M)``:

    1. one uniform per enterprise and a comparison with its segment's revision rate; the
       revisers' indices (``flatnonzero``), ``M`` of them;
    2. their utility rows: the segment's row for their current option (one gather from the
       ``(K, S K)`` table of :func:`sim.payoffs.transition_utilities`), plus their tastes (one
       ``(T, M)`` gather from a table ``mu_s e_i`` precomputed once, added by taste kind);
    3. one sparse neighbour product: :func:`sim.kernels.neighbour_option_sums` over the
       revisers' rows (their neighbours' spend on each option), scaled per reviser by the
       constant ``mu_s beta_peer / sum_{l in N(i)} w_l`` (spend sizes never change);
    4. one ``exp`` per reviser and option (no max-shift: rows are shifted once in the table),
       cumulative sums row by row, one uniform per reviser scaled by its total, the inverse-CDF
       count, and the new options written into the choice array.

    Left out, because the decision does not need them or the model needs them only once per
    step whatever ``N``: the second uniform the engine draws for every non-reviser (kept there
    so that every run's stream advances the same way), forced moves, per-segment counts and
    spend, payoffs, the providers' and governments' decisions, capability growth, the
    observation and the DataCollector. The segment table is not recomputed per step.
    """

    def __init__(self, model: TechCompetitionModel, seed: int = 0) -> None:
        core, state = model.core, model.state
        pop = state.population
        graph: Any = pop.graph
        if graph is None or pop.taste is None:
            raise ValueError("LimitKernel: needs a scenario with tastes and a network")
        self.n, self.k = core.params.n_enterprises, core.n_options
        accessible, circumventable = engine.reachability(core, state.strategy, state.rival_policy)
        table = payoffs.transition_utilities(
            core, engine.values_of(core, state), accessible, circumventable, core.switching
        )
        self.rows = np.ascontiguousarray(table[0].reshape(-1, self.k).T)  # (K, S K)
        segment = core.segment_of.astype(np.intp)
        self.row_base = segment * self.k
        mu = core.mu[segment]
        self.taste = np.ascontiguousarray((pop.taste * mu[:, None]).T)  # (T, N)
        self.kind = core.taste_kind
        self.size = pop.size[0]
        self.indptr, self.indices = graph.indptr, graph.indices
        norm = np.bincount(
            np.repeat(np.arange(self.n), np.diff(graph.indptr)),
            weights=self.size[graph.indices],
            minlength=self.n,
        )
        self.scale = np.divide(
            mu * core.params.peer_effect, norm, out=np.zeros(self.n), where=norm > 0
        )
        self.threshold = core.revision_threshold
        self.choice = state.choice[0].copy()
        self.rng = np.random.default_rng(seed)

    def step(self) -> int:
        """One step of the decision; returns the number of revisers."""
        k = self.k
        flat = np.flatnonzero(self.rng.random(self.n) < self.threshold)
        m = flat.size
        utility = np.take(self.rows, self.row_base[flat] + self.choice[flat], axis=1)
        taste = np.take(self.taste, flat, axis=1)
        for j, kind in enumerate(self.kind):
            utility[j] += taste[kind]
        peers = neighbour_option_sums(self.indptr, self.indices, self.size, flat, self.choice, k)
        peers *= self.scale[flat]
        utility += peers
        np.exp(utility, out=utility)
        for j in range(1, k):
            utility[j] += utility[j - 1]
        target = self.rng.random(m) * utility[-1]
        new = np.zeros(m, np.int16)
        for j in range(k - 1):
            new += target >= utility[j]
        self.choice[flat] = new
        return m


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def _step_rows(n: int, blocks: int, steps: int) -> list[Row]:
    """The seed and classic steps (model and engine) and the limit kernel, timed in alternating
    blocks of ``steps`` calls, ``blocks`` rounds, CPU time."""
    models = {
        name: TechCompetitionModel(params=scenario(name, n), rng=1) for name in ("classic", "seed")
    }
    kernel = LimitKernel(models["seed"])
    variants: dict[str, Callable[[], Any]] = {}
    for name, model in models.items():
        variants[f"{name} model"] = _steps(model.step, steps)
        variants[f"{name} engine"] = _steps(_engine_step(model), steps)
    variants["kernel"] = _steps(kernel.step, steps)
    for func in variants.values():
        func()  # warm-up
    per_step = {key: value / steps for key, value in interleaved(variants, blocks).items()}
    revisers = statistics.mean(kernel.step() for _ in range(20))
    rows = [
        _row(f"{key} step, N={n:,} (CPU)", per_step[key] * 1e3, "ms")
        for key in ("classic model", "seed model", "classic engine", "seed engine")
    ]
    for kind, what in (("model", "TechCompetitionModel.step"), ("engine", "engine.advance")):
        ratio = per_step[f"seed {kind}"] / per_step[f"classic {kind}"]
        rows.append(
            _checked(
                f"seed / classic step, {what}, N={n:,} (CPU)",
                ratio,
                "x",
                f"<= {STEP_RATIO_TARGET:g}",
                ratio <= STEP_RATIO_TARGET,
            )
        )
    label = f"seed, N={n:,}"
    rows.append(
        _row(
            f"limit kernel step, {label}, {revisers:,.0f} revisers (CPU)",
            per_step["kernel"] * 1e3,
            "ms",
        )
    )
    rows.append(
        _row(
            f"limit kernel / classic engine.advance, N={n:,} (CPU)",
            per_step["kernel"] / per_step["classic engine"],
            "x",
        )
    )
    ratio = per_step["seed model"] / per_step["kernel"]
    rows.append(
        _checked(
            f"TechCompetitionModel.step / limit kernel, {label} (CPU)",
            ratio,
            "x",
            f"<= {KERNEL_TARGET:g}",
            ratio <= KERNEL_TARGET,
        )
    )
    rows.append(
        _row(
            f"engine.advance / limit kernel, {label} (CPU)",
            per_step["seed engine"] / per_step["kernel"],
            "x",
        )
    )
    return rows


def _headline_rows(n: int, steps: int, repeats: int, engine_alone: bool = True) -> list[Row]:
    params = scenario("seed", n)

    def mesa_run() -> None:
        TechCompetitionModel(params=params, rng=1).run(steps)

    def engine_run() -> None:
        plan = Plan.from_params(params)
        rng = np.random.default_rng(1)
        state = engine.initial_state(plan, rng, runs=1)
        for _ in range(steps):
            state = engine.advance(plan, state, rng)

    runs = {"mesa": mesa_run, "engine": engine_run} if engine_alone else {"mesa": mesa_run}
    times: dict[str, list[dict[str, float]]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, func in runs.items():
            times[key].append(_both_clocks(func))
    clock = clock_name()
    other = "cpu" if clock == "wall" else "wall"
    rows = []
    for key, what in (
        ("mesa", f"TechCompetitionModel(seed, N={n:,}).run({steps}), build included"),
        ("engine", f"engine alone, seed, N={n:,}, initial_state + {steps} advance"),
    ):
        if key not in times:
            continue
        value = statistics.median(t[clock] for t in times[key])
        rows.append(
            _checked(
                f"headline: {what} ({clock})",
                value,
                "s",
                f"< {HEADLINE_TARGET_S:g}",
                value < HEADLINE_TARGET_S,
            )
        )
        rows.append(
            _row(
                f"headline: {what} ({other})", statistics.median(t[other] for t in times[key]), "s"
            )
        )
    return rows


_PROBE = """
import json, resource, sys, time
from benchmarks.bench_seed import scenario
from sim.model import TechCompetitionModel

def status(key):
    # this process's own resident sizes (ru_maxrss can carry the parent's over fork and exec)
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

n, steps = int(sys.argv[1]), int(sys.argv[2])
params = scenario("seed", n)
base = status("VmRSS")
wall, cpu = time.perf_counter(), time.process_time()
model = TechCompetitionModel(params=params, rng=1)
build = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
built_peak = status("VmHWM")
model.run(steps)
edges = int(model.state.population.graph.indptr[-1]) // 2
print(json.dumps({"base": base, "build": build, "built_peak": built_peak,
                  "peak": status("VmHWM"), "agents": len(model.agents), "edges": edges}))
"""


def probe(n: int, steps: int) -> dict[str, Any]:
    """Build a ``seed`` model of ``n`` enterprises and run ``steps`` steps in a fresh
    interpreter: build times (``wall``, ``cpu``) in s, resident sizes in bytes (``base``
    after imports, ``built_peak`` after the build, ``peak`` at the end)."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(n), str(steps)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _construction_rows(n: int, repeats: int) -> list[Row]:
    builds = [probe(n, 0)["build"] for _ in range(repeats)]
    clock = clock_name()
    other = "cpu" if clock == "wall" else "wall"
    value = statistics.median(b[clock] for b in builds)
    what = f"build TechCompetitionModel(seed), N={n:,}, fresh process"
    return [
        _checked(f"{what} ({clock})", value, "s", f"< {BUILD_TARGET_S:g}", value < BUILD_TARGET_S),
        _row(f"{what} ({other})", statistics.median(b[other] for b in builds), "s"),
    ]


def _memory_rows(n: int, steps: int) -> list[Row]:
    out = probe(n, steps)
    gb = 1e9
    label = f"seed + network, N={n:,}, {steps} steps, fresh process"
    peak = out["peak"] / gb
    return [
        _checked(
            f"peak resident (VmHWM), {label}",
            peak,
            "GB",
            f"< {PEAK_TARGET_GB:g}",
            peak < PEAK_TARGET_GB,
        ),
        _row(f"resident after imports, {label}", out["base"] / gb, "GB"),
        _row(f"peak resident after the build, {label}", out["built_peak"] / gb, "GB"),
        _row(
            f"peak memory per enterprise above imports, {label}",
            (out["peak"] - out["base"]) / n,
            "bytes",
        ),
        _row(f"network edges, {label}", out["edges"], "edges"),
    ]


def _naive_rows(n: int, naive_steps: int, blocks: int) -> list[Row]:
    """Naive per-agent Mesa against the model and the limit kernel, every enterprise choosing
    each step."""
    params = scenario("seed", n, revision_rate=1.0)
    model = TechCompetitionModel(params=params, rng=1)
    naive = NaiveV2Model(params, rng=1)
    kernel = LimitKernel(model)
    model_steps = 10
    variants = {
        "naive": _steps(naive.step, naive_steps),
        "model": _steps(model.step, model_steps),
        "kernel": _steps(kernel.step, model_steps),
    }
    model.step()
    kernel.step()
    seconds = interleaved(variants, blocks)
    naive_step = seconds["naive"] / naive_steps
    model_step = seconds["model"] / model_steps
    kernel_step = seconds["kernel"] / model_steps
    label = f"N={n:,}, revision rate 1"
    speedup = naive_step / model_step
    return [
        _row(
            f"naive Mesa step, {label} ({naive_steps} steps x {blocks}, CPU)",
            naive_step,
            "s",
        ),
        _row(f"naive Mesa throughput, {label}", n / naive_step, "enterprise-steps/s"),
        _row(f"model step, {label} (CPU)", model_step * 1e3, "ms"),
        _checked(
            f"speed-up of the model over naive Mesa, {label}",
            speedup,
            "x",
            f">= {NAIVE_TARGET:g}",
            speedup >= NAIVE_TARGET,
        ),
        _row(f"limit kernel step, {label} (CPU)", kernel_step * 1e3, "ms"),
        _row(
            f"speed-up of the limit kernel over naive Mesa, {label}", naive_step / kernel_step, "x"
        ),
    ]


def run(quick: bool = False) -> list[Row]:
    """All rows of this benchmark; ``quick`` repeats less and times fewer steps."""
    start = time.perf_counter()
    rows = _step_rows(N, blocks=5 if quick else 11, steps=20 if quick else 40)
    rows += _naive_rows(N, naive_steps=1 if quick else 2, blocks=2 if quick else 3)
    rows += _construction_rows(N, repeats=1 if quick else 3)
    rows += _memory_rows(1_000_000, steps=5)
    rows += _headline_rows(N, steps=1000, repeats=1 if quick else 3, engine_alone=not quick)
    rows.append(_row("wall time of this benchmark", time.perf_counter() - start, "s"))
    return rows
