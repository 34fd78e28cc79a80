"""Benchmarks of the model's speed and memory (``make bench`` = ``python -m benchmarks``).

Each ``benchmarks/bench_*.py`` module exposes ``run(quick=False) -> list[dict]``; every row has
``benchmark``, ``metric``, ``value`` and ``unit`` and, for a row checked against a target,
``target`` (text such as ``">= 100"``) and ``ok``. :mod:`benchmarks.__main__` discovers the
modules, prints one table and writes ``results/bench/<module>.json``.

Shared here: the row builders, the 20-provider parameter set the scaling benchmarks use, a
timing helper that reports medians over repeats, and the machine's description.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sim.params import Params, Provider, load_scenario

Row = dict[str, Any]


def row(benchmark: str, metric: str, value: float, unit: str, **extra: Any) -> Row:
    """One table row of module ``benchmark``."""
    return {"benchmark": benchmark, "metric": metric, "value": value, "unit": unit, **extra}


def checked(
    benchmark: str, metric: str, value: float, unit: str, target: str, ok: bool, **extra: Any
) -> Row:
    """A row checked against ``target`` (text such as ``">= 100"``); ``ok`` says whether met."""
    return row(benchmark, metric, value, unit, target=target, ok=bool(ok), **extra)


def twenty_providers(n_enterprises: int, *, foreign: int = 6, domestic: int = 14) -> Params:
    """The first version's seed (``classic``) with ``foreign + domestic`` providers (default
    6 + 14 = 20).

    Foreign providers cycle through the scenario's foreign ones, domestic providers through
    its domestic ones, each with a quality nudged down by 0.005 per copy so options differ.
    """
    seed = load_scenario("classic")
    foreign_specs = [p for p in seed.providers if p.foreign]
    domestic_specs = [p for p in seed.providers if not p.foreign]

    def copies(specs: list[Provider], count: int, label: str) -> list[Provider]:
        out = []
        for i in range(count):
            base = specs[i % len(specs)]
            quality = max(0.0, base.quality - 0.005 * (i // len(specs)))
            out.append(base.replace(name=f"{label}-{i}", quality=quality))
        return out

    providers = copies(foreign_specs, foreign, "foreign") + copies(domestic_specs, domestic, "dom")
    return seed.replace(n_enterprises=n_enterprises, providers=providers)


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def clock_name() -> str:
    """The clock benchmarks time with: ``wall`` (default) or ``cpu`` (this process's CPU time,
    steadier on a machine shared with other work), from the ``BENCH_CLOCK`` environment
    variable that ``python -m benchmarks --clock`` sets."""
    name = os.environ.get("BENCH_CLOCK", "wall")
    if name not in CLOCKS:
        raise ValueError(f"BENCH_CLOCK={name!r}: expected one of {', '.join(CLOCKS)}")
    return name


def median_time(func: Callable[[], Any], repeats: int, clock_override: str | None = None) -> float:
    """Median time in seconds of ``repeats`` calls of ``func`` on the clock of
    :func:`clock_name` (or ``clock_override``, a key of :data:`CLOCKS`)."""
    clock = CLOCKS[clock_override or clock_name()]
    times = []
    for _ in range(repeats):
        start = clock()
        func()
        times.append(clock() - start)
    return statistics.median(times)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """CPU model, cores, memory and the versions that matter for speed."""
    import mesa
    import pandas

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "mesa": mesa.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
