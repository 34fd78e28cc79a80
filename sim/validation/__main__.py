"""``python -m sim.validation --out docs``: run every check and write the report."""

from sim.validation.report import main

raise SystemExit(main())
