"""How fast each road node can be reached from a layout's posts: turnout plus driving time of the
fastest unit that takes dispatches, and the post that gets there first (its response area).

Idle units at their home posts, no waiting for a free unit; ``period`` picks a congestion period
of the scenario (0 = free flow). Times are seconds.
"""

from __future__ import annotations

import numpy as np

from sim.world.prepare import World

__all__ = ["node_reach"]


def node_reach(world: World, layout: str, period: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per road node: the shortest turnout + driving time (s) from the layout's posts, and which
    post (platform index) gets there first. One Dijkstra per post and unit type (cached by the
    oracle); volunteers and platform vehicles, never dispatched, are left out."""
    fleet = world.fleets[layout]
    oracles = world.period_oracles[period]
    n_plat = len(fleet.platform_names)
    per_plat = np.full((n_plat, world.net.n_nodes), np.inf)
    seen: set[tuple[int, int, str]] = set()
    for u, (plat, post, utype, turnout) in enumerate(zip(fleet.platform, fleet.post, fleet.unit_type,
                                                          fleet.turnout_s, strict=True)):
        if not fleet.dispatchable[u]:
            continue
        key = (int(plat), int(post), utype)
        if key in seen:
            continue
        seen.add(key)
        t = turnout + oracles[utype].from_node(int(post))
        per_plat[plat] = np.minimum(per_plat[plat], t)
    return per_plat.min(axis=0), per_plat.argmin(axis=0)
