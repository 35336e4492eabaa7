"""Chosen sites as scenario layouts: ``optimized.yaml``, a scenario that ``compare`` runs directly.

A chosen set of sites becomes a layout that ``extends`` one of the scenario's own (the *base*),
so it inherits the base's units per platform, patrol setting and volunteers:

- expansion (``--keep``): the base's platforms stay, the new sites are added as platforms with
  the units of the base's first platform;
- otherwise the base's platforms are *moved* to the new sites (matched one to one by least total
  straight-line distance, so each keeps its name, grid and units), extra base platforms are
  removed, and extra sites are added as new platforms.

``optimized.yaml`` is the scenario's own YAML with these layouts added, ``run.layouts`` set to
the base and the new layouts, and ``run.baseline`` the base.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.optimize import linear_sum_assignment

from sim.network.graph import RoadNetwork
from sim.scenario import LoadedScenario, load_scenario_text

__all__ = ["layout_entry", "optimized_scenario", "write_optimized"]


def layout_entry(loaded: LoadedScenario, base: str, nodes: list[int], names: list[str],
                 net: RoadNetwork, *, keep: bool, description: str,
                 posts_by_time: dict[int, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The YAML mapping of a layout that ``extends`` ``base`` and stands at ``nodes``.

    With ``keep`` the nodes are the *new* sites only. ``posts_by_time`` maps the position of a
    node in ``nodes`` to the timed posts of the platform standing there.
    """
    platforms = loaded.scenario.layouts[base].platforms
    template = dict(platforms[0].units)
    entry: dict[str, Any] = {"extends": base, "description": description}
    out: list[dict[str, Any]] = []
    lonlat = [(round(float(net.lon[n]), 6), round(float(net.lat[n]), 6)) for n in nodes]
    if keep:
        for k, (lon, lat) in enumerate(lonlat):
            out.append({"name": f"N{k + 1:02d} {names[k]}", "lon": lon, "lat": lat, "units": dict(template)})
    else:
        px, py = net.frame.to_local([p.lon for p in platforms], [p.lat for p in platforms])
        sx, sy = net.x[nodes], net.y[nodes]
        dist = np.hypot(np.asarray(px)[:, None] - sx[None, :], np.asarray(py)[:, None] - sy[None, :])
        rows, cols = linear_sum_assignment(dist)
        matched = dict(zip(cols.tolist(), rows.tolist(), strict=True))
        removed = [p.name for i, p in enumerate(platforms) if i not in set(rows.tolist())]
        if removed:
            entry["remove"] = removed
        for k, (lon, lat) in enumerate(lonlat):
            if k in matched:
                out.append({"name": platforms[matched[k]].name, "lon": lon, "lat": lat})
            else:
                out.append({"name": f"N{k + 1:02d} {names[k]}", "lon": lon, "lat": lat,
                            "units": dict(template)})
    for k, p in enumerate(out):
        if posts_by_time and k in posts_by_time:
            p["posts_by_time"] = posts_by_time[k]
    entry["platforms"] = out
    return entry


def optimized_scenario(loaded: LoadedScenario, base: str, layouts: dict[str, dict[str, Any]]
                       ) -> dict[str, Any]:
    """The scenario's own YAML data with ``layouts`` added and run against ``base``."""
    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(loaded.text))
    net = data.get("network", {})
    if net.get("path"):  # the new file may live elsewhere: keep the network where it is
        net["path"] = str(loaded.resolve_path(net["path"]))
    clash = [n for n in layouts if n in data["layouts"]]
    if clash:
        raise ValueError(f"layout names already in the scenario: {', '.join(clash)}")
    data["layouts"].update(layouts)
    data["run"]["layouts"] = [base, *layouts]
    data["run"]["baseline"] = base
    return data


def write_optimized(path: Path, loaded: LoadedScenario, data: dict[str, Any]) -> LoadedScenario:
    """Write ``optimized.yaml`` after checking that it loads as a valid scenario."""
    text = ("# Written by run_sim.py optimize from " + str(loaded.path) + ".\n"
            "# The layouts at the end extend the scenario's own; run them with:\n"
            f"#   python run_sim.py compare {path}\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))
    checked = load_scenario_text(text, file=str(path), path=Path(path).resolve())
    Path(path).write_text(text, encoding="utf-8")
    return checked
