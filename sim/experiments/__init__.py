"""Batch experiments: declared sweeps, seeded replicates, local and Dask runs, a resumable
Parquet store and figures.

>>> from sim.experiments import load                       # doctest: +SKIP
>>> frame = load("results/phase_diagram")                  # doctest: +SKIP

``frame`` has one row per recorded step of each run, keyed by ``point_id``, ``replicate``
and ``seed`` (plus ``step``), with the point's varied parameters and the model's outputs.
See ``docs/experiments.md``.
"""

from sim.experiments.spec import SweepSpec, load_spec
from sim.experiments.store import load, read_manifest, verify
from sim.experiments.sweep import SweepResult, plan, run_sweep

__all__ = [
    "SweepResult",
    "SweepSpec",
    "load",
    "load_spec",
    "plan",
    "read_manifest",
    "run_sweep",
    "verify",
]
