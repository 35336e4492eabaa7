"""Everything a run needs that does not change between replications: the prepared world.

Built once from a validated scenario and its road network: the zone of every node, the demand
weights, one travel-time oracle per unit type, and for each layout its fleet of units snapped to
road nodes. Platforms farther than ``network.snap_tolerance`` from any road are scenario errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import LoadedScenario, Scenario, ScenarioError
from .demand import node_weights
from .network.graph import RoadNetwork
from .network.oracle import TravelTimeOracle, edge_times
from .quantities import format_distance
from .zones import ZoneMap, classify_nodes

__all__ = ["Fleet", "World", "prepare_world"]


@dataclass(frozen=True, eq=False)
class Fleet:
    """The units of one layout (arrays of equal length, in a fixed order: unit index = tie-break).

    Attributes
    ----------
    unit_name : e.g. ``"P01 Old Town/patrol_car#2"``.
    unit_type : unit type name per unit.
    platform : platform index per unit (into ``platform_names``).
    post : road node where the unit waits.
    turnout_s : turnout time (s) when leaving from the post.
    platform_names, platform_nodes, platform_snap_m : per platform: name, node, snapping distance (m).
    """

    layout: str
    unit_name: tuple[str, ...]
    unit_type: tuple[str, ...]
    platform: np.ndarray
    post: np.ndarray
    turnout_s: np.ndarray
    platform_names: tuple[str, ...]
    platform_nodes: np.ndarray
    platform_snap_m: np.ndarray

    def __len__(self) -> int:
        return len(self.unit_name)


@dataclass(eq=False)
class World:
    """The prepared, replication-independent part of a scenario (see module docstring)."""

    scenario: Scenario
    net: RoadNetwork
    zones: ZoneMap
    weights: np.ndarray
    oracles: dict[str, TravelTimeOracle]
    fleets: dict[str, Fleet]
    _post_times: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def post_times(self, layout: str) -> np.ndarray:
        """Driving time (s) from each unit's post to every node: ``[node, unit]``, read-only.

        Computed once per layout (one forward Dijkstra per post and speed profile) and shared by
        every run of that layout, so a dispatch from a post is one row lookup.
        """
        table = self._post_times.get(layout)
        if table is None:
            fleet = self.fleets[layout]
            table = np.empty((self.net.n_nodes, len(fleet)))
            for u, (utype, post) in enumerate(zip(fleet.unit_type, fleet.post, strict=True)):
                table[:, u] = self.oracles[utype].from_node(int(post))
            table.setflags(write=False)
            self._post_times[layout] = table
        return table


def _oracles(scenario: Scenario, net: RoadNetwork) -> dict[str, TravelTimeOracle]:
    speeds = scenario.network.speeds
    by_profile: dict[tuple[float, float | None], TravelTimeOracle] = {}
    out: dict[str, TravelTimeOracle] = {}
    for name, ut in scenario.unit_types.items():
        key = (ut.speed_factor, ut.max_speed)
        if key not in by_profile:  # unit types that drive alike share one oracle and its caches
            by_profile[key] = TravelTimeOracle(
                net, edge_times(net, speeds, factor=ut.speed_factor, cap=ut.max_speed))
        out[name] = by_profile[key]
    return out


def _fleet(loaded: LoadedScenario, net: RoadNetwork, layout_name: str) -> Fleet:
    s = loaded.scenario
    layout = s.layouts[layout_name]
    tol = s.network.snap_tolerance
    names, types, plat, post, turnout = [], [], [], [], []
    p_nodes, p_snap = [], []
    for i, p in enumerate(layout.platforms):
        px, py = net.frame.to_local(p.lon, p.lat)
        node, dist = net.nearest_node(float(px), float(py))
        if dist > tol:
            raise loaded.error(
                ("layouts", layout_name, "platforms", i),
                f"platform '{p.name}' is {format_distance(round(dist))} from the nearest drivable road "
                f"(tolerance {format_distance(tol)}): is it off the network or in a river?",
            )
        p_nodes.append(node)
        p_snap.append(dist)
        for utype, count in p.units.items():  # YAML order, so unit ids are stable
            for k in range(count):
                names.append(f"{p.name}/{utype}#{k + 1}")
                types.append(utype)
                plat.append(i)
                post.append(node)
                turnout.append(s.unit_types[utype].turnout)
    return Fleet(
        layout=layout_name, unit_name=tuple(names), unit_type=tuple(types),
        platform=np.array(plat, dtype=np.int32), post=np.array(post, dtype=np.int64),
        turnout_s=np.array(turnout, dtype=float), platform_names=tuple(p.name for p in layout.platforms),
        platform_nodes=np.array(p_nodes, dtype=np.int64), platform_snap_m=np.array(p_snap),
    )


def prepare_world(loaded: LoadedScenario, net: RoadNetwork, layouts: list[str] | None = None) -> World:
    """Zones, demand weights, oracles and fleets for ``layouts`` (default: the scenario's run list).

    Raises
    ------
    ScenarioError
        For a layout name the scenario does not define, or a platform too far from the network.
    """
    s = loaded.scenario
    names = layouts or s.layout_names()
    for name in names:
        if name not in s.layouts:
            raise ScenarioError(f"no layout named '{name}' in this scenario; layouts: "
                                f"{', '.join(s.layouts)}", file=loaded.path, loc=("layouts",),
                                line=loaded.lines.get(("layouts",)))
    zones = classify_nodes(net, s.zones)
    for i, k in enumerate(s.zones.key_locations):
        if not np.any(zones.key_location == i):
            raise loaded.error(("zones", "key_locations", i),
                               f"key location '{k.name}' has no road node within its radius "
                               f"({format_distance(k.radius)}); move it or widen the radius")
    return World(
        scenario=s, net=net, zones=zones, weights=node_weights(net, s), oracles=_oracles(s, net),
        fleets={name: _fleet(loaded, net, name) for name in names},
    )
