"""The browser visualization: a Mesa SolaraViz page over :class:`~sim.TechCompetitionModel`.

``sim/viz/app.py`` is the page (served by ``make viz``); it imports Solara, so it is not
imported here. :mod:`sim.viz.controls` (the model parameters shown), :mod:`sim.viz.charts`
(time-series panels) and :mod:`sim.viz.network` (the enterprise network view) are plain
Python and NumPy and can be used without a browser; :mod:`sim.viz.server` starts the page on a
loopback port for the browser tests and the benchmark.
"""
