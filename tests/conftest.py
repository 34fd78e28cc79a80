"""Shared test configuration: the hypothesis profile every property test uses (no deadline,
a modest number of examples so the suite stays within its time budget on two cores)."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("techcomp", deadline=None, max_examples=50)
settings.load_profile("techcomp")
