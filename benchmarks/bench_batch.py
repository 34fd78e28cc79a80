"""The batched engine (:func:`sim.batch.run_batch`) against sequential Mesa model runs.

Rows (medians over repeats, measured in this process):

* 64 runs of 2,000 enterprises, of ``classic`` and of ``seed``: ``run_batch`` over 64 seeds
  against 64 ``TechCompetitionModel(...).run(steps)`` one after the other, both including
  construction and recording every step; throughput in enterprise-steps per second and the
  ratio (target: at least 5, checked on both);
* how the batch's cost grows with the number of runs ``R`` (1 to 64) at 2,000 enterprises.
"""

from __future__ import annotations

import functools

from benchmarks import Row, checked, median_time, row
from sim.batch import run_batch
from sim.model import TechCompetitionModel
from sim.params import Params, load_scenario

NAME = "batch"
SCENARIOS = ("classic", "seed")
"""The first version's workload (on which the target was set) and the second version's."""


_row = functools.partial(row, NAME)
_checked = functools.partial(checked, NAME)


def run(quick: bool = False) -> list[Row]:
    """All rows; ``quick`` runs fewer steps and one repeat."""
    runs, n = 64, 2_000
    steps = 50 if quick else 100
    repeats = 1 if quick else 3
    seeds = list(range(runs))
    rows: list[Row] = []
    for scenario in SCENARIOS:
        params = load_scenario(scenario).replace(n_enterprises=n)

        def sequential(params: Params = params) -> None:
            for seed in seeds:
                TechCompetitionModel(params=params, rng=seed).run(steps)

        def batched(params: Params = params) -> None:
            run_batch(params, seeds, steps)

        batched()  # warm-up, both paths
        TechCompetitionModel(params=params, rng=0).run(1)
        sequential_s = median_time(sequential, repeats)
        batched_s = median_time(batched, repeats)
        work = runs * n * steps
        ratio = sequential_s / batched_s
        label = f"{scenario}, R={runs}, N={n:,}, {steps} steps"
        rows += [
            _row(f"64 sequential model runs, {label}", work / sequential_s, "enterprise-steps/s"),
            _row(f"run_batch, {label}", work / batched_s, "enterprise-steps/s"),
            _checked(
                f"run_batch / sequential throughput, {label}",
                ratio,
                "x",
                ">= 5",
                bool(ratio >= 5),
            ),
        ]
    scaling_steps = steps // 2
    for r in (1, 4, 16, 64):
        seconds = median_time(
            functools.partial(run_batch, params, seeds[:r], scaling_steps), repeats
        )
        rows.append(
            _row(
                f"run_batch (build + run + frame) / steps, {SCENARIOS[-1]}, R={r}, N={n:,}",
                seconds / scaling_steps * 1e3,
                "ms",
            )
        )
    return rows
