"""Designs: the list of points a sweep visits, and the seed of every run.

* ``grid``: the Cartesian product of each dimension's values (``values`` or ``levels`` evenly
  spaced values of a range), in row-major order of the file's parameter order.
* ``lhs``: a Latin hypercube of ``points`` rows (``scipy.stats.qmc.LatinHypercube``; McKay,
  Beckman & Conover 1979): each dimension's range is cut into ``points`` equal strata and each
  stratum holds exactly one point.
* ``sobol``: the first ``points`` (a power of 2) rows of a scrambled Sobol' sequence
  (``scipy.stats.qmc.Sobol``).
* ``oat``: one at a time (Morris 1991 calls it the local, one-factor design): point 0 is the
  base (the base scenario with ``[fixed]``), then for each parameter ``d`` in file order point
  ``2d + 1`` holds it at its low value and point ``2d + 2`` at its high value, every other
  parameter at its base value: ``1 + 2D`` points. A parameter given as ``{}`` takes
  ``base x (1 - p)`` and ``base x (1 + p)`` for ``p = perturbation`` (whole numbers rounded);
  one given a range takes its ends. :func:`oat_labels` names each point.
* ``bisect``: sequential, so it has no design fixed in advance: :mod:`.threshold` runs its
  rounds, each a grid sweep of its own.
* ``saltelli``: the Saltelli (2002) / Jansen design SALib's Sobol' analysis expects
  (``SALib.sample.sobol.sample``): ``N (D + 2)`` rows, or ``N (2D + 2)`` with second-order
  indices, for ``N = points`` and ``D`` dimensions. Row order is part of the design: the point id
  is the row number, and the analysis reads outputs in point-id order.

Unit-cube samples ``u`` map onto ``[low, high]`` linearly, or as ``low (high/low)^u`` for
``scale = "log"``; whole-number parameters are rounded.

Sizes: :class:`~sim.experiments.spec.SweepSpec` refuses a design above its limits when it is
read; :func:`design` and :func:`run_seeds` check the ceilings again by arithmetic before they
build anything, so a spec made some other way (``model_construct``) cannot exhaust memory.

Randomness: ``SeedSequence(root_seed).spawn(2)`` gives one child for the design and one whose
``spawn(n_runs)`` children seed the runs, run ``k = point_id * replicates + replicate``. Each
run's seed is stored as a 63-bit integer drawn from its child (``generate_state``), so
``TechCompetitionModel(params, rng=seed)`` reproduces that run by itself.
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import qmc

from sim.errors import InputError
from sim.experiments.spec import (
    POINTS_CEILING,
    RUNS_CEILING,
    Dimension,
    SweepSpec,
    point_value,
)


def _check_ceiling(what: str, count: int, ceiling: int) -> None:
    if count > ceiling:
        raise InputError(f"{what}: the design has {count}; expected at most {ceiling}")


def _seed_children(spec: SweepSpec) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    design, runs = np.random.SeedSequence(spec.root_seed).spawn(2)
    return design, runs


def _qmc_rng_kw(seed: np.random.SeedSequence) -> dict[str, Any]:
    """scipy >= 1.15 takes ``rng=``; older versions take ``seed=``."""
    gen = np.random.default_rng(seed)
    name = "rng" if "rng" in inspect.signature(qmc.Sobol.__init__).parameters else "seed"
    return {name: gen}


def unit_sample(spec: SweepSpec) -> NDArray[np.float64] | None:
    """The design in the unit cube, shape ``(points, D)``; ``None`` for a grid."""
    dims = len(spec.parameters)
    design_seed, _ = _seed_children(spec)
    n = spec.points
    match spec.sampler:
        case "grid" | "oat" | "bisect":
            return None
        case "lhs":
            assert n is not None
            return qmc.LatinHypercube(d=dims, **_qmc_rng_kw(design_seed)).random(n)
        case "sobol":
            assert n is not None
            return qmc.Sobol(d=dims, scramble=True, **_qmc_rng_kw(design_seed)).random(n)
        case "saltelli":
            from SALib.sample import sobol as salib_sobol

            assert n is not None
            problem = salib_problem(spec, unit=True)
            seed = int(design_seed.generate_state(1, np.uint32)[0])
            return np.asarray(
                salib_sobol.sample(
                    problem, n, calc_second_order=spec.second_order, scramble=True, seed=seed
                ),
                dtype=float,
            )
        case _:
            raise ValueError(f"sampler={spec.sampler!r}: unknown")


def salib_problem(spec: SweepSpec, *, unit: bool = False) -> dict[str, Any]:
    """SALib's problem dictionary (names and bounds; unit bounds for sampling)."""
    return {
        "num_vars": len(spec.parameters),
        "names": [d.name for d in spec.parameters],
        "bounds": [[0.0, 1.0] if unit else [d.low, d.high] for d in spec.parameters],
    }


def _is_whole(spec: SweepSpec, dim: Dimension) -> bool:
    probe = point_value(spec.params_for({}), dim.name, None)
    return isinstance(probe, int) and not isinstance(probe, bool)


def design(spec: SweepSpec) -> list[dict[str, Any]]:
    """The points of the sweep, in point-id order: ``[{parameter: value}, ...]`` with every
    value as the model sees it after validation (types coerced)."""
    _check_ceiling("points", spec.n_points, POINTS_CEILING)
    if spec.sampler == "bisect":
        raise InputError(
            f"sampler 'bisect' ({spec.name}): chooses its points round by round; run it with "
            "python -m sim sweep or sim.experiments.threshold.run_threshold"
        )
    if spec.sampler == "oat":
        requested = oat_points(spec)
    elif spec.sampler == "grid":
        axes = [d.grid_values() for d in spec.parameters]
        requested = [
            dict(zip([d.name for d in spec.parameters], combo, strict=True))
            for combo in itertools.product(*axes)
        ]
    else:
        cube = unit_sample(spec)
        assert cube is not None
        requested = []
        whole = [_is_whole(spec, d) for d in spec.parameters]
        for row in cube:
            point: dict[str, Any] = {}
            for dim, u, is_int in zip(spec.parameters, row, whole, strict=True):
                value = dim.from_unit(float(u))
                point[dim.name] = round(value) if is_int else value
            requested.append(point)
    out = []
    for point in requested:
        params = spec.params_for(point)
        out.append({k: point_value(params, k, v) for k, v in point.items()})
    return out


def run_seeds(spec: SweepSpec, n_points: int) -> NDArray[np.int64]:
    """Seeds of every run, shape ``(n_points, replicates)``, fixed before any dispatch."""
    _check_ceiling("runs", n_points * spec.replicates, RUNS_CEILING)
    _, runs = _seed_children(spec)
    children = runs.spawn(n_points * spec.replicates)
    seeds = np.array(
        [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children], dtype=np.int64
    )
    return seeds.reshape(n_points, spec.replicates)


@dataclass(frozen=True)
class OatPoint:
    """What one point of an oat design is: the base (``parameter`` None, ``direction`` 0) or
    ``parameter`` at its low (-1) or high (+1) ``value``."""

    point_id: int
    parameter: str | None
    direction: int
    value: Any
    base: Any


def oat_labels(spec: SweepSpec) -> list[OatPoint]:
    """The points of an oat design in point-id order, each named (see the module docstring)."""
    if spec.sampler != "oat":
        raise ValueError(f"sampler={spec.sampler!r}: oat_labels needs sampler 'oat'")
    out = [OatPoint(0, None, 0, None, None)]
    for dim in spec.parameters:
        base, low, high = spec.oat_ends(dim)
        out.append(OatPoint(len(out), dim.name, -1, low, base))
        out.append(OatPoint(len(out), dim.name, +1, high, base))
    return out


def oat_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """The oat design's requested values: every point lists every parameter, at its base
    value except the one it moves."""
    bases = {d.name: spec.oat_ends(d)[0] for d in spec.parameters}
    points = [dict(bases)]
    for label in oat_labels(spec)[1:]:
        assert label.parameter is not None
        points.append({**bases, label.parameter: label.value})
    return points
