"""Profile of the ``seed`` step (``python -m benchmarks.profile_seed [--n N] [--steps S]``).

Builds ``TechCompetitionModel`` on the ``seed`` scenario with ``N`` enterprises (default
100,000), runs 20 warm-up steps, then records ``S`` steps (default 300) of ``model.step()``
with pyinstrument (sampling every 0.5 ms) and prints the call tree as shares of the recorded
time (NumPy's C functions count as time of the Python function calling them). Sampling
follows the wall clock, so on a shared machine read the shares, not the seconds; the CPU time
per step is measured without the profiler first.
"""

from __future__ import annotations

import argparse
import os
import time

from pyinstrument import Profiler

from benchmarks.bench_seed import scenario
from sim.model import TechCompetitionModel


def profile(n: int, steps: int) -> tuple[str, float]:
    """The call tree of ``steps`` seed steps at ``n`` enterprises, and the CPU milliseconds
    per step of as many steps without the profiler."""
    model = TechCompetitionModel(params=scenario("seed", n), rng=1)
    for _ in range(20):
        model.step()
    start = time.process_time()
    for _ in range(steps):
        model.step()
    cpu_ms = (time.process_time() - start) / steps * 1e3
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    for _ in range(steps):
        model.step()
    profiler.stop()
    return profiler.output_text(time="percent_of_total"), cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_seed", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="enterprises")
    parser.add_argument("--steps", type=int, default=300, help="steps recorded")
    args = parser.parse_args()
    tree, cpu_ms = profile(args.n, args.steps)
    print(f"load average {os.getloadavg()}; {cpu_ms:.2f} ms CPU per step unprofiled")
    print(tree)


if __name__ == "__main__":
    main()
