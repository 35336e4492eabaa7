"""The registry of named dispatch policies: a scenario's ``dispatch`` section (or a layout's
own ``layouts.<name>.dispatch``) and the prepared world become a
:class:`~sim.engine.dispatch.DispatchPolicy` for one layout (see :mod:`sim.engine.dispatch`
for the rules and their defaults)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.engine.dispatch import (
    CrossCounty,
    DispatchPolicy,
    EarliestArrival,
    Job,
    Preference,
    Reserve,
    generated_preference,
    written_preference,
)
from sim.scenario import DISPATCH_POLICIES, PRIORITIES, DispatchSpec, layout_dispatch
from sim.world.prepare import World
from sim.world.villages import cross_county_allowed

__all__ = ["REGISTRY", "build_policy", "cross_county", "grid_of_nodes", "work_conserving"]


def grid_of_nodes(world: World, layout: str) -> np.ndarray:
    """Each node's grid: the platform whose home post reaches it first (the fastest of its units;
    ties to the lower platform), as for generated patrol waypoints."""
    fleet = world.fleets[layout]
    table = world.post_times(layout)
    best = np.full(world.net.n_nodes, np.inf)
    grid = np.full(world.net.n_nodes, -1, dtype=np.int64)
    for p in range(len(fleet.platform_names)):
        units = np.flatnonzero(fleet.platform == p)
        if not units.size:
            continue
        t = table[:, units].min(axis=1)
        better = t < best
        best[better] = t[better]
        grid[better] = p
    return grid


def _earliest(world: World, layout: str, spec: DispatchSpec) -> DispatchPolicy:
    return EarliestArrival()


def _preference(world: World, layout: str, spec: DispatchSpec) -> DispatchPolicy:
    fleet = world.fleets[layout]
    grid = grid_of_nodes(world, layout).tolist()
    units = np.flatnonzero(fleet.dispatchable).tolist()
    table = world.post_times(layout)
    turnout = fleet.turnout_s.astype(float)

    def time_to(node: int) -> list[float]:
        times: list[float] = (table[node] + turnout).tolist()
        return times

    grid_of_unit = fleet.platform.tolist()
    order: Callable[[int], list[int]] = generated_preference(grid_of_unit, units, grid.__getitem__,
                                                             time_to)
    if spec.preference.order:
        names = list(fleet.platform_names)
        lists = {names.index(g): [names.index(p) for p in ps] for g, ps in spec.preference.order.items()}
        by_platform = [[u for u in units if grid_of_unit[u] == p] for p in range(len(names))]
        order = written_preference(lists, by_platform, order, grid.__getitem__)
    return Preference(order=order)


def _reserve(world: World, layout: str, spec: DispatchSpec) -> DispatchPolicy:
    fleet = world.fleets[layout]
    r = spec.reserve
    min_free = [int(r.min_free.get(p, 1)) for p in PRIORITIES]  # type: ignore[call-overload]
    if r.scope == "fleet":
        area_of_node = [0] * world.net.n_nodes
        area_of_unit = [0] * len(fleet)
    else:
        area_of_node = grid_of_nodes(world, layout).tolist()
        area_of_unit = fleet.platform.tolist()
    return Reserve(min_free=min_free, area_of_node=area_of_node, area_of_unit=area_of_unit)


REGISTRY: dict[str, Callable[[World, str, DispatchSpec], DispatchPolicy]] = {
    "earliest_arrival": _earliest,
    "preference": _preference,
    "reserve": _reserve,
}
"""Policy name -> builder ``(world, layout, dispatch spec) -> policy``."""
assert tuple(REGISTRY) == DISPATCH_POLICIES, "every policy the scenario may name has a builder"


def build_policy(world: World, layout: str) -> DispatchPolicy:
    """The dispatch policy of ``layout``, as its scenario names it (inside the cross-county rule
    when the scenario's ``rural.cross_county`` restricts dispatch)."""
    spec = layout_dispatch(world.scenario, layout)
    policy = REGISTRY[spec.policy](world, layout, spec)
    if _county_rule(world) is not None:
        policy = cross_county(world, layout, policy)
    return policy


def _county_rule(world: World) -> str | None:
    rural = world.rural
    return None if rural is None or rural.cross_county == "always" else rural.cross_county


def cross_county(world: World, layout: str, inner: DispatchPolicy) -> DispatchPolicy:
    """``inner`` under the scenario's cross-county rule: a unit belongs to the county of its home
    post, a job to the county of its node (:func:`sim.world.villages.cross_county_allowed`)."""
    rural, rule = world.rural, _county_rule(world)
    assert rural is not None and rule is not None
    unit_county = rural.county[world.fleets[layout].post]
    node_county = rural.county.tolist()
    masks: dict[tuple[int, bool], list[bool]] = {}

    def allowed(job: Job) -> list[bool]:
        key = (node_county[job.node], job.priority == PRIORITIES.index("urgent"))
        hit = masks.get(key)
        if hit is None:
            hit = cross_county_allowed(rule, unit_county, key[0], PRIORITIES[job.priority]).tolist()
            masks[key] = hit
        return hit

    return CrossCounty(inner=inner, allowed=allowed, n_units=len(unit_county))


def work_conserving(world: World, layout: str) -> bool:
    """False when the layout's policy may leave a job waiting while units are free (reserve, or
    a cross-county rule): the invariant check then skips its work-conservation test."""
    return layout_dispatch(world.scenario, layout).policy != "reserve" and _county_rule(world) is None
