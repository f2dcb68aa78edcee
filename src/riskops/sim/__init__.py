"""riskops.sim: a simulated crypto exchange with planted, labelled fraud and AML scenarios.

``generate(SimConfig(...))`` streams wire-format events in time order; ``simulate`` writes
them with labels, address lists and a manifest; ``load_labels`` reads the labels back.
"""

from riskops.sim.generator import GENERATOR_VERSION, SimConfig, Simulation, generate
from riskops.sim.writer import (
    Label,
    SimResult,
    load_account_labels,
    load_account_roles,
    load_event_labels,
    load_labels,
    simulate,
)

__all__ = [
    "GENERATOR_VERSION",
    "Label",
    "SimConfig",
    "SimResult",
    "Simulation",
    "generate",
    "load_account_labels",
    "load_account_roles",
    "load_event_labels",
    "load_labels",
    "simulate",
]
