"""The rural part of a prepared world: what the engine reads about villages, counties and rural
roads, computed once per scenario (not per replication).

- each road node's rural zone class and village (:func:`sim.world.villages.rural_zones`), with
  the urban classes winning: a node in a key location or the central city is never rural;
- the response-time target of each node (the rural class's target where rural, else none);
- each node's county and whether it is urban (county town or central city), for the
  cross-county dispatch rule and the rural road speeds;
- the village officers (:class:`~sim.world.villages.VillageOfficers`), one per village;
- the free-flow speed of every edge with ``rural.road_speeds`` applied outside the towns.

The village officer's role is **modelled from public descriptions** of the system (see
:mod:`sim.scenario.rural`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.network.graph import RoadNetwork
from sim.scenario import RURAL_ZONE_CLASSES, ZONE_CLASSES, LoadedScenario
from sim.world.villages import (
    RuralZones,
    VillageOfficers,
    county_of_nodes,
    load_villages,
    rural_edge_speeds,
    rural_zones,
    village_officers,
)
from sim.world.zones import ZoneMap

__all__ = ["RuralWorld", "prepare_rural"]


@dataclass(frozen=True, eq=False)
class RuralWorld:
    """The rural data of a world (see the module docstring).

    Attributes
    ----------
    zones : rural zone class (-1 none, else an index into ``RURAL_ZONE_CLASSES``) and village
        (-1 none) of every node, urban nodes cleared.
    target_s : ``[n nodes]`` response-time target (s) of the node's rural class; NaN where the
        node is not rural (the urban zone's target applies).
    county, urban : each node's county index (-1: none listed) and whether it is urban.
    officers : the village officers.
    edge_speed_mps : ``[n edges]`` free-flow speed (m/s) before unit-type factors and caps.
    without_officers : layouts run without the village officers.
    cross_county : the cross-county rule (``never``, ``urgent_only`` or ``always``).
    """

    zones: RuralZones
    target_s: np.ndarray
    county: np.ndarray
    urban: np.ndarray
    officers: VillageOfficers
    edge_speed_mps: np.ndarray
    without_officers: frozenset[str]
    cross_county: str

    def officers_in(self, layout: str) -> bool:
        """Whether ``layout`` runs with the village officers."""
        return layout not in self.without_officers


def prepare_rural(loaded: LoadedScenario, net: RoadNetwork, zones: ZoneMap) -> RuralWorld:
    """The rural world of a scenario with a ``rural`` section, on the placed network ``net``
    whose urban zone classes are ``zones``."""
    s = loaded.scenario
    r = s.rural
    assert r is not None
    villages = load_villages(loaded)
    rz = rural_zones(net, r, villages)
    urban_zone = zones.zone != ZONE_CLASSES.index("other")  # key or central win over rural
    zone = np.where(urban_zone, -1, rz.zone).astype(np.int8)
    village = np.where(urban_zone, -1, rz.village).astype(np.int32)
    township = np.where(urban_zone, -1, rz.township).astype(np.int32)
    by_class = np.array([r.target_of(c) for c in RURAL_ZONE_CLASSES] + [np.nan])
    target = by_class[np.where(zone >= 0, zone, len(RURAL_ZONE_CLASSES))]
    county, town = county_of_nodes(net, r)
    urban = town | urban_zone
    return RuralWorld(
        zones=RuralZones(zone=zone, village=village, township=township), target_s=target,
        county=county, urban=urban, officers=village_officers(loaded, net, villages),
        edge_speed_mps=rural_edge_speeds(net, s.network.speeds, r, urban),
        without_officers=frozenset(r.without_officers), cross_county=r.cross_county)
