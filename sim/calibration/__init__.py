"""Likelihood-free Bayesian calibration (ABC-SMC with pyabc): see :mod:`sim.calibration.core`
and ``docs/calibration.md``."""

from sim.calibration.core import (
    CalibrationError,
    CalibrationResult,
    CalibrationSpec,
    load_calibration,
    run_calibration,
    spec_from_mapping,
    weighted_quantiles,
)

__all__ = [
    "CalibrationError",
    "CalibrationResult",
    "CalibrationSpec",
    "load_calibration",
    "run_calibration",
    "spec_from_mapping",
    "weighted_quantiles",
]
