"""Discrete-event simulation of rapid-response police platforms (城市快警).

Data flows one way through the package's layers::

    quantities -> config -> network (road graph, travel-time oracle) -> zones, demand (incidents)
    -> engine (SimPy: units, dispatch) -> records -> metrics -> experiment -> output, plots -> cli

A module imports only from layers before it. Time is in seconds everywhere inside the code.
"""

__version__ = "0.1.0"
