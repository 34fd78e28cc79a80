"""Agent-based simulation of access restriction in an AI technology race.

>>> from sim import TechCompetitionModel, load_scenario
>>> model = TechCompetitionModel(params=load_scenario("seed").replace(n_enterprises=500), rng=1)
>>> frame = model.run(3)
>>> list(frame["step"])
[0, 1, 2, 3]
"""

from sim.agents import EnterpriseAgent, FirmAgent, GovernmentAgent
from sim.model import TechCompetitionModel
from sim.params import Params, Provider, list_scenarios, load_scenario

__all__ = [
    "EnterpriseAgent",
    "FirmAgent",
    "GovernmentAgent",
    "Params",
    "Provider",
    "TechCompetitionModel",
    "list_scenarios",
    "load_scenario",
]
__version__ = "0.1.0"
