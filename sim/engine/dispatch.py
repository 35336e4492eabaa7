"""Dispatch policies: which units the engine sends to a job, behind one small protocol.

The SimPy core (:mod:`sim.engine.core`) handles events. When a job is handed over, or when a unit
comes free while jobs wait, it asks the layout's policy for units through :class:`DispatchPolicy`:
``choose(job, units)`` gets the job (:class:`Job`) and a view of the units at that moment
(:class:`Units`: which units are free, and what sending one would cost) and returns the units
to send (:class:`Offer`), best first. Sending fewer than the job needs leaves it waiting for the
rest; sending none leaves it waiting. Nothing here imports SimPy, so each policy is tested on
hand-made :class:`Units`. For the default policy itself (exactly :class:`EarliestArrival`, whose
``choose`` is ``units.earliest(job.needed)``) the core asks that query directly, one layer less
per dispatch; a test checks that both ways give the same records.

The policies (``dispatch.policy`` in the scenario, ``layouts.<name>.dispatch.policy`` for one
layout; see :data:`POLICIES`):

``earliest_arrival`` (default)
    The free units with the earliest arrivals, ties to the lower unit index. Urgent jobs may take
    a unit off a minor job when it would arrive strictly earlier (``dispatch.divert_from_minor``).
``preference``
    A fixed preference order of units for each node: the job gets the first free units of its
    node's list. The hypercube model's dispatch. ``preference.order`` writes lists out per grid
    (a platform's name, for the nodes of that platform's grid, to platform names in order; the
    units of a platform in index order; units not named follow by travel time). Without it
    (the default) each node's list is "own grid first, then by travel time from the home post".
``reserve``
    Cutoff priority: a job of priority ``p`` waits while fewer than ``reserve.min_free[p]``
    response units are free in its area (``reserve.scope: grid``, the default: the units of the
    platform whose grid holds the job) or in the whole fleet (``fleet``); otherwise it is sent by
    earliest arrival. The default ``min_free`` is 1 for urgent and 2 for standard and minor jobs:
    one unit per grid stays free for urgent calls.

A node's grid is the platform whose post reaches it first (as for generated patrol waypoints).

With a ``rural`` section whose ``cross_county`` rule is ``never`` or ``urgent_only``, the layout's
policy is wrapped in :class:`CrossCounty`: it sees only the units it may send across county
lines (a unit belongs to the county of its home post, a job to the county of its node), so a
job may wait while units of another county are free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

__all__ = ["POLICIES", "CrossCounty", "DispatchPolicy", "EarliestArrival", "Job", "Offer",
           "Preference", "Reserve", "Units", "generated_preference", "written_preference"]

URGENT = 0  # priority index of urgent jobs (sim.scenario.PRIORITIES)


@dataclass(frozen=True, slots=True)
class Job:
    """A job asking for units: incident number, road node, priority index (0 urgent, 1 standard,
    2 minor) and the number of units it still needs."""

    incident: int
    node: int
    priority: int
    needed: int


class Offer(NamedTuple):
    """Sending ``unit``: its turnout (s), its drive (s), whether it is already on the move, and
    whether it is taken off a minor job (a diversion)."""

    unit: int
    turnout_s: float
    travel_s: float
    moving: bool
    divert: bool = False

    @property
    def arrival_s(self) -> float:
        """Time (s) from now until the unit is on scene."""
        return self.turnout_s + self.travel_s


class Units(Protocol):
    """What the core knows about the units at the moment of one dispatch, for one job's node."""

    def free(self) -> Sequence[int]:
        """The available units (response units, on the air, not on a job), ascending."""
        ...

    def earliest(self, k: int) -> list[Offer]:
        """Up to ``k`` units with the earliest arrivals, ties to the lower unit index, best first.
        Includes diversions from minor jobs when the job is urgent and diversion is allowed."""
        ...

    def offer(self, unit: int) -> Offer:
        """The exact cost of sending one free ``unit``."""
        ...


class DispatchPolicy(Protocol):
    """Chooses the units for a job (see the module docstring)."""

    @property
    def name(self) -> str:
        """The policy's name in the scenario."""
        ...

    @property
    def holds_back(self) -> bool:
        """True if the policy may leave a job waiting while units are free (then the core tries
        every waiting job, not only the first)."""
        ...

    def choose(self, job: Job, units: Units) -> list[Offer]:
        """The units to send now, best first (at most ``job.needed``)."""
        ...


@dataclass(frozen=True)
class EarliestArrival:
    """Today's rule: the earliest arrivals, ties to the lower unit index."""

    name: str = "earliest_arrival"
    holds_back: bool = False

    def choose(self, job: Job, units: Units) -> list[Offer]:
        return units.earliest(job.needed)


@dataclass(frozen=True)
class Preference:
    """A fixed preference order of units per node: the first free units of the node's list.

    ``order(node)`` gives the node's list; it must hold every dispatchable unit once.
    """

    order: Callable[[int], Sequence[int]]
    name: str = "preference"
    holds_back: bool = False

    def choose(self, job: Job, units: Units) -> list[Offer]:
        free = set(units.free())
        out: list[Offer] = []
        if not free:
            return out
        for u in self.order(job.node):
            if u in free:
                out.append(units.offer(u))
                if len(out) == job.needed:
                    break
        return out


@dataclass(frozen=True)
class Reserve:
    """Cutoff priority: a job waits while fewer than ``min_free[priority]`` units are free in
    its area; otherwise earliest arrival.

    ``area_of_node[node]`` and ``area_of_unit[unit]`` give areas (grids; all 0 for the fleet).
    """

    min_free: Sequence[int]
    area_of_node: Sequence[int]
    area_of_unit: Sequence[int]
    name: str = "reserve"
    holds_back: bool = True

    def choose(self, job: Job, units: Units) -> list[Offer]:
        area = self.area_of_node[job.node]
        free_here = sum(1 for u in units.free() if self.area_of_unit[u] == area)
        if free_here < self.min_free[job.priority]:
            return []
        return units.earliest(job.needed)


class _Allowed:
    """A :class:`Units` view that shows only the units ``mask`` allows."""

    def __init__(self, units: Units, mask: Sequence[bool], n_units: int) -> None:
        self.units, self.mask, self.n_units = units, mask, n_units

    def free(self) -> list[int]:
        return [u for u in self.units.free() if self.mask[u]]

    def earliest(self, k: int) -> list[Offer]:
        ask = k
        while True:  # the k earliest allowed are among the `ask` earliest of all, for some ask
            offers = self.units.earliest(ask)
            ok = [o for o in offers if self.mask[o.unit]]
            if len(ok) >= k or len(offers) < ask or ask >= self.n_units:
                return ok[:k]
            ask = min(2 * ask, self.n_units)

    def offer(self, unit: int) -> Offer:
        return self.units.offer(unit)


@dataclass(frozen=True)
class CrossCounty:
    """The cross-county rule around another policy: ``inner`` sees only the units that
    ``allowed(job)`` permits (a boolean per unit), e.g. those of the job's county unless the job
    is urgent (see :func:`sim.world.villages.cross_county_allowed`)."""

    inner: DispatchPolicy
    allowed: Callable[[Job], Sequence[bool]]
    n_units: int
    holds_back: bool = True

    @property
    def name(self) -> str:
        return self.inner.name

    def choose(self, job: Job, units: Units) -> list[Offer]:
        return self.inner.choose(job, _Allowed(units, self.allowed(job), self.n_units))


def generated_preference(grid_of_unit: Sequence[int], units: Sequence[int],
                         grid_of_node: Callable[[int], int],
                         time_to: Callable[[int], Sequence[float]]) -> Callable[[int], list[int]]:
    """The default preference lists: a node's own-grid units first, then the others, each by
    travel time from the home post (``time_to(node)[u]``, turnout included), ties to the lower
    unit. Lists are computed when a node first asks and kept."""
    cache: dict[int, list[int]] = {}

    def order(node: int) -> list[int]:
        hit = cache.get(node)
        if hit is None:
            g, t = grid_of_node(node), time_to(node)
            hit = sorted(units, key=lambda u: (grid_of_unit[u] != g, t[u], u))
            cache[node] = hit
        return hit

    return order


def written_preference(lists: Mapping[int, Sequence[int]], units_of_platform: Sequence[Sequence[int]],
                       fallback: Callable[[int], list[int]],
                       grid_of_node: Callable[[int], int]) -> Callable[[int], list[int]]:
    """Preference lists written per grid: ``lists[grid platform]`` names platforms in order; their
    units come first (index order), then every other unit in the ``fallback`` order."""
    cache: dict[int, list[int]] = {}

    def order(node: int) -> list[int]:
        hit = cache.get(node)
        if hit is None:
            named = [u for p in lists.get(grid_of_node(node), ()) for u in units_of_platform[p]]
            seen = set(named)
            hit = named + [u for u in fallback(node) if u not in seen]
            cache[node] = hit
        return hit

    return order


POLICIES: tuple[str, ...] = ("earliest_arrival", "preference", "reserve")
"""Names a scenario may give as ``dispatch.policy``."""
