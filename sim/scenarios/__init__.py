"""Named scenarios shipped as TOML files (read with :func:`sim.params.load_scenario`)."""
