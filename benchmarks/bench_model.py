"""The Mesa model's speed and memory against a naive per-agent Mesa model and NumPy's limit.

Rows (medians over repeats, all measured in this one process unless said otherwise):

* step throughput, enterprise-steps per second, at 1k to 1M enterprises and 20 providers
  (6 foreign, 14 domestic), and the exponent ``b`` of a fit ``time per step ~ N^b`` (linear
  cost: ``b`` close to 1, at most 1.1);
* cost against the number of providers (6, 20, 60) at 100k enterprises;
* the naive per-agent Mesa model (:mod:`benchmarks.naive_mesa`) at 1k and 10k, and the speed-up
  of the model over it (target: at least 100 at 10k);
* the limit kernel: the least NumPy work a step needs (one ``exp`` per enterprise and provider,
  one uniform per enterprise), and the model's throughput as a fraction of it at 100k
  (target: at least 0.3);
* DataCollector overhead at 100k: a full ``model.step()`` against the same step without
  ``datacollector.collect`` (target: under 10 %), and with the observation also left out,
  always in CPU time;
* construction time of a 100k ``classic`` model and peak resident memory of a 1M run, each in
  a fresh subprocess (peak: the process's own ``VmHWM``) so the numbers are clean;
* the headline: ``TechCompetitionModel`` (``classic``, the first version's workload, 100k
  enterprises) built and run for 1,000 steps (target: under 10 s). The second version's
  ``seed`` has its own build and headline rows in :mod:`benchmarks.bench_seed`.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import Row, checked, median_time, row, twenty_providers
from benchmarks.naive_mesa import NaiveModel
from sim import engine
from sim.model import TechCompetitionModel
from sim.params import load_scenario

ROOT = Path(__file__).resolve().parents[1]
NAME = "model"


_row = functools.partial(row, NAME)
_checked = functools.partial(checked, NAME)


def step_time(model: Any, steps: int, repeats: int) -> float:
    """Median seconds per ``model.step()`` over ``repeats`` blocks of ``steps`` steps."""

    def block() -> None:
        for _ in range(steps):
            model.step()

    block()  # warm-up: first-call costs and caches
    return median_time(block, repeats) / steps


def _steps_for(n: int) -> int:
    """Steps per timed block: about 2 million enterprise-steps, at least 2."""
    return max(2, min(200, 2_000_000 // n))


def limit_kernel_time(n: int, providers: int, repeats: int, rng: np.random.Generator) -> float:
    """Median seconds of the least NumPy work one step needs: ``exp`` of an ``(n, J)`` array
    into a preallocated buffer and ``n`` uniforms into another."""
    utilities = rng.random((n, providers))
    weights = np.empty_like(utilities)
    uniforms = np.empty(n)

    def kernel() -> None:
        for _ in range(10):
            np.exp(utilities, out=weights)
            rng.random(out=uniforms)

    kernel()
    return median_time(kernel, repeats) / 10


_PROBE = """
import json, resource, sys, time
from benchmarks import twenty_providers
from sim.model import TechCompetitionModel
from sim.params import load_scenario

def status(key):
    # this process's own resident sizes: VmHWM is the peak of this address space only, while
    # ru_maxrss can carry over the parent's resident size through fork and exec
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

n, steps, scenario = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
params = twenty_providers(n) if scenario == "twenty" else (
    load_scenario(scenario).replace(n_enterprises=n))
base = status("VmRSS")
start = time.perf_counter()
model = TechCompetitionModel(params=params, rng=1)
build_s = time.perf_counter() - start
start = time.perf_counter()
model.run(steps)
run_s = time.perf_counter() - start
print(json.dumps({"base": base, "build_s": build_s, "run_s": run_s, "peak": status("VmHWM"),
                  "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "agents": len(model.agents)}))
"""


def probe(n: int, steps: int, scenario: str = "twenty") -> dict[str, float]:
    """Build a model of ``n`` enterprises (``scenario`` ``"twenty"``: 20 providers) and run
    ``steps`` steps in a fresh interpreter. Times in s; ``base`` (resident size after imports)
    and ``peak`` (the process's high-water mark) in bytes."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(n), str(steps), scenario],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _throughput_rows(sizes: list[int], repeats: int) -> tuple[list[Row], dict[int, float]]:
    rows, per_step = [], {}
    for n in sizes:
        model = TechCompetitionModel(params=twenty_providers(n), rng=1)
        per_step[n] = step_time(model, _steps_for(n), repeats)
        rows.append(_row(f"step throughput, N={n:,}, J=20", n / per_step[n], "enterprise-steps/s"))
        del model
    fitted = [n for n in sizes if n >= 10_000]
    times = np.array([per_step[n] for n in fitted])
    slope = float(np.polyfit(np.log(fitted), np.log(times), 1)[0])
    rows.append(
        _checked(
            f"cost exponent b, time ~ N^b, N={fitted[0]:,}..{fitted[-1]:,}",
            slope,
            "-",
            "<= 1.1",
            slope <= 1.1,
        )
    )
    # time = fixed + marginal * N, fitted to relative error over every size
    all_sizes = np.array(sizes, dtype=float)
    all_times = np.array([per_step[n] for n in sizes])
    marginal, fixed = np.polyfit(all_sizes, all_times, 1, w=1.0 / all_times)
    rows.append(_row("fixed cost per step (fit t = a + c N), J=20", fixed * 1e6, "us"))
    rows.append(_row("marginal cost per enterprise-step (c), J=20", marginal * 1e9, "ns"))
    return rows, per_step


def _provider_rows(n: int, repeats: int) -> list[Row]:
    rows = []
    for foreign, domestic in ((3, 3), (6, 14), (18, 42)):
        model = TechCompetitionModel(
            params=twenty_providers(n, foreign=foreign, domestic=domestic), rng=1
        )
        seconds = step_time(model, _steps_for(n), repeats)
        rows.append(_row(f"time per step, N={n:,}, J={foreign + domestic}", seconds * 1e3, "ms"))
    return rows


def _naive_rows(sizes: list[int], repeats: int) -> list[Row]:
    """Naive per-agent Mesa against the model on the same parameters, at the default revision
    rate (0.1: a tenth of the enterprises make a logit choice each step) and at 1 (every
    enterprise makes a logit choice among the 20 providers every step)."""
    rows = []
    for revision_rate in (0.1, 1.0):
        for n in sizes:
            params = twenty_providers(n).replace(revision_rate=revision_rate)
            model = TechCompetitionModel(params=params, rng=1)
            naive = NaiveModel(params, rng=1)
            model_step = step_time(model, _steps_for(n), repeats)
            naive_step = step_time(naive, 2, repeats)
            label = f"N={n:,}, J=20, revision rate {revision_rate:g}"
            rows.append(
                _row(f"naive Mesa throughput, {label}", n / naive_step, "enterprise-steps/s")
            )
            rows.append(_row(f"model throughput, {label}", n / model_step, "enterprise-steps/s"))
            speedup = naive_step / model_step
            metric = f"speed-up over naive Mesa, {label}"
            if n == 10_000:
                rows.append(_checked(metric, speedup, "x", ">= 100", speedup >= 100))
            else:
                rows.append(_row(metric, speedup, "x"))
    return rows


def _limit_rows(n: int, model_step: float, repeats: int) -> list[Row]:
    kernel = limit_kernel_time(n, 20, repeats, np.random.default_rng(0))
    fraction = kernel / model_step
    return [
        _row(f"limit kernel throughput, N={n:,}, J=20", n / kernel, "enterprise-steps/s"),
        _checked(
            f"model / limit-kernel throughput, N={n:,}",
            fraction,
            "ratio",
            ">= 0.3",
            fraction >= 0.3,
        ),
    ]


def _collector_rows(n: int, repeats: int) -> list[Row]:
    """Full ``model.step()`` against the same step without the DataCollector (engine step and
    observation, which the agents' attributes read) and against the bare engine step, on one
    model, interleaved so all three see the same machine state, in this process's CPU time
    (a 10 % difference is below what other work on a shared machine adds to wall times)."""
    model = TechCompetitionModel(params=twenty_providers(n), rng=1)
    steps = _steps_for(n)

    def bare() -> None:
        model.state = engine.advance(model.plan, model.state, model._rngs)

    def observed() -> None:
        bare()
        model._observe()

    variants = {"bare": bare, "observed": observed, "full": model.step}
    times: dict[str, list[float]] = {name: [] for name in variants}

    def block(step: Any) -> None:
        for _ in range(steps):
            step()

    block(model.step)
    for _ in range(3 * repeats):
        for name, step in variants.items():
            times[name].append(median_time(functools.partial(block, step), 1, "cpu") / steps)
    median = {name: float(np.median(values)) for name, values in times.items()}
    collector = median["full"] / median["observed"] - 1.0
    reporting = median["full"] / median["bare"] - 1.0
    return [
        _checked(
            f"DataCollector overhead (collect vs none), N={n:,}, J=20",
            collector * 100,
            "%",
            "< 10",
            collector < 0.10,
        ),
        _row(
            f"observe + collect overhead vs bare engine step, N={n:,}, J=20", reporting * 100, "%"
        ),
    ]


def _construction_rows(quick: bool) -> list[Row]:
    repeats = 1 if quick else 3
    builds = [probe(100_000, 0, "classic")["build_s"] for _ in range(repeats)]
    build = float(np.median(builds))
    rows = [
        _checked(
            "build TechCompetitionModel(classic), N=100,000 (fresh process)",
            build,
            "s",
            "< 2",
            build < 2,
        )
    ]
    n = 100_000 if quick else 1_000_000
    result = probe(n, 20)
    per_enterprise = (result["peak"] - result["base"]) / n
    rows.append(
        _checked(
            f"peak memory per enterprise, N={n:,}, J=20, 20 steps",
            per_enterprise,
            "bytes",
            "< 1024",
            per_enterprise < 1024,
        )
    )
    peak_gb = result["peak"] / 1e9
    if n == 1_000_000:
        rows.append(
            _checked(
                "peak resident memory, N=1,000,000, J=20", peak_gb, "GB", "< 1.5", peak_gb < 1.5
            )
        )
    else:
        rows.append(_row(f"peak resident memory, N={n:,}, J=20", peak_gb, "GB"))
    return rows


def _headline_rows(repeats: int) -> list[Row]:
    params = load_scenario("classic").replace(n_enterprises=100_000)

    def headline() -> None:
        TechCompetitionModel(params=params, rng=1).run(1000)

    seconds = median_time(headline, repeats)
    return [
        _checked(
            "headline: classic, N=100,000, build + run(1000)", seconds, "s", "< 10", seconds < 10
        )
    ]


def run(quick: bool = False) -> list[Row]:
    """All rows of this benchmark; ``quick`` drops the 1M size and repeats less."""
    repeats = 3 if quick else 5
    sizes = [1_000, 10_000, 100_000] if quick else [1_000, 10_000, 100_000, 1_000_000]
    start = time.perf_counter()
    rows, per_step = _throughput_rows(sizes, repeats)
    rows += _provider_rows(100_000, repeats)
    rows += _naive_rows([1_000, 10_000], repeats)
    rows += _limit_rows(100_000, per_step[100_000], repeats)
    rows += _collector_rows(100_000, repeats)
    rows += _construction_rows(quick)
    rows += _headline_rows(1 if quick else 3)
    rows.append(_row("wall time of this benchmark", time.perf_counter() - start, "s"))
    return rows
