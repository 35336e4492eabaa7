"""The figures of a brief: which figures a results folder gets, drawn through :mod:`sim.viz` and
written as PNG (SVG and PDF on request).

Each figure is drawn once per language and closed as soon as its files are written; the HTML and
the PDF brief embed a small palette PNG of it made from the same pixels. What does not depend on
the language (the reach of every layout's posts, the network's map geometry) is computed once and
shared by both languages. The figures are independent, so on Linux two forked processes draw
them (:mod:`sim.brief.forked`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis.hourly import hourly_profile
from sim.analysis.reach import node_reach
from sim.brief.forked import run_all, workers_here
from sim.brief.results import Results, presence_by_hour
from sim.i18n import layout_name, tr
from sim.network.graph import RoadNetwork
from sim.scenario import Scenario
from sim.viz import charts, maps
from sim.viz.basemap import geometry
from sim.viz.fonts import cjk_font
from sim.viz.save import save_with_preview
from sim.viz.style import source_line
from sim.world.prepare import World

__all__ = ["PREVIEW_PX", "Figure", "FigureJob", "MapData", "build_figures", "cell_km", "draw_figures",
           "figure_jobs", "figure_names", "map_data", "on_duty"]


PREVIEW_PX = 1150
"""Width (px) of the figures embedded in the briefs: the HTML page shows them up to 968 px wide
(a little more keeps them sharp when zoomed), the PDF about 110 dpi across a landscape page."""


@dataclass(frozen=True)
class Figure:
    """A figure of the brief: its name, title, files (the first is the PNG) and a small PNG of
    it to embed in the HTML and PDF briefs."""

    name: str
    title: str
    files: list[Path]
    preview: bytes = field(repr=False, default=b"")


@dataclass
class MapData:
    """What the maps need beyond the records, computed once for every language."""

    net: RoadNetwork
    world: World
    reach: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """layout -> (fastest time (s) to each node, index of the post that gets there first)."""
    _by_period: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def reach_in(self, layout: str, period: int) -> tuple[np.ndarray, np.ndarray]:
        """:attr:`reach` in congestion period ``period`` (0 = free flow), computed once."""
        if period == 0:
            return self.reach[layout]
        key = (layout, period)
        if key not in self._by_period:
            self._by_period[key] = node_reach(self.world, layout, period)
        return self._by_period[key]


def map_data(net: RoadNetwork, world: World, layouts: Sequence[str]) -> MapData:
    """The reach of every layout's posts in free flow (one Dijkstra per post and unit type)."""
    return MapData(net, world, {name: node_reach(world, name) for name in layouts})


def cell_km(net: RoadNetwork) -> float:
    """Hexagon size (km) for the compliance maps: about 18 cells across the network."""
    span = max(float(np.ptp(net.x)), float(np.ptp(net.y))) / 1000.0
    raw = span / 18.0
    for v in (0.05, 0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0):
        if v >= raw:
            return v
    return 5.0


def _file_name(name: str, lang: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in name)
    return safe if lang == "en" else f"{safe}_{lang}"


def figure_names(results: Results, have_maps: bool) -> list[str]:
    """The names of the figures, in the order of the brief."""
    names = ["layout_map"] if have_maps else []
    names += ["compliance_bars", "response_times"]
    if have_maps:
        names += [f"difference_{b}" for b in results.others]
        names += [f"compliance_map_{n}" for n in results.layouts]
        names += [f"coverage_{n}" for n in results.layouts]
    return [*names, "by_hour"]


def build_figures(results: Results, lang: str, *, maps_from: MapData | None, goal: float | None,
                  formats: Sequence[str] = ("png",), dpi: int = 150, workers: int | None = None,
                  progress: Callable[[str], None] | None = None) -> list[Figure]:
    """Draw every figure of the brief in ``lang``, write each in ``formats`` (PNG always) into the
    results folder, close it, and return the list in the brief's order. ``workers`` processes
    draw them (default :func:`sim.brief.forked.workers_here`); ``progress`` hears one line per figure."""
    jobs = figure_jobs(results, lang, maps_from=maps_from, goal=goal, formats=formats, dpi=dpi)
    return draw_figures(jobs, lang, workers=workers, progress=progress)


def draw_figures(jobs: Sequence[FigureJob], lang: str, *, workers: int | None = None,
                 progress: Callable[[str], None] | None = None) -> list[Figure]:
    """Draw the figures of :func:`figure_jobs` (see :func:`build_figures`)."""
    drawn = _draw_all(list(jobs), workers_here() if workers is None else workers, lang, progress)
    return [Figure(j.name, j.title, files, preview) for j, (files, preview) in zip(jobs, drawn, strict=True)]


def figure_jobs(results: Results, lang: str, *, maps_from: MapData | None, goal: float | None,
                formats: Sequence[str] = ("png",), dpi: int = 150) -> list[FigureJob]:
    """The figures of the brief in ``lang``, in its order, each with its title and how to draw it."""
    s = results.scenario
    footer = source_line(s.name, results.run_id, results.replications_n, lang)
    formats = ("png", *[f for f in formats if f != "png"])
    layouts = results.layouts
    jobs: list[FigureJob] = []

    def job(name: str, title: str, draw: Callable[[], tuple[Any, Any]], kind: str = "") -> None:
        jobs.append(FigureJob(name, title, draw, results.folder / _file_name(name, lang), formats, dpi,
                         (kind, lang) if kind else None))

    def name(layout: str) -> str:
        return layout_name(s, layout, lang)

    if maps_from is not None:
        net, world, reach = maps_from.net, maps_from.world, maps_from.reach
        geometry(net)  # once, before any worker is forked
        area_layout = results.others[0] if results.others else layouts[0]
        job("layout_map", tr("fig.layout_map", lang),
            lambda: maps.plot_layout_map(net, s, [world.fleets[n] for n in layouts],
                                         areas=reach[area_layout][1], areas_layout=area_layout,
                                         lang=lang, footer=footer))
    job("compliance_bars", tr("fig.bars", lang),
        lambda: charts.plot_compliance_bars(results.summary, s, layouts, goal=goal, lang=lang,
                                            footer=footer))
    job("response_times", tr("fig.cdf", lang),
        lambda: charts.plot_response_cdf(results.records, s, layouts, summary=results.summary, lang=lang,
                                         footer=footer))
    if maps_from is not None:
        cell = cell_km(net)
        for b in results.others:
            job(f"difference_{b}", tr("fig.difference", lang, a=name(results.baseline), b=name(b)),
                partial(maps.plot_difference_map, net, s, results.records, results.baseline, b,
                        cell_km=cell, lang=lang, footer=footer), "difference")
        for n in layouts:
            job(f"compliance_map_{n}", tr("fig.compliance_map", lang, layout=name(n)),
                partial(maps.plot_compliance_map, net, s, results.records, n, summary=results.summary,
                        cell_km=cell, lang=lang, footer=footer), "compliance_map")
        for n in layouts:
            job(f"coverage_{n}", tr("fig.coverage", lang, layout=name(n)),
                partial(maps.plot_coverage_map, net, s, reach[n][0], layout=n,
                        posts=world.fleets[n].platform_nodes, node_zone=world.zones.zone, lang=lang,
                        footer=footer), "coverage")
    world_or_none = maps_from.world if maps_from is not None else None
    profiles = {n: hourly_profile(results.records, n, n_units=on_duty(s, world_or_none, n),
                                  replications=results.replications_n,
                                  warmup_s=s.run.warmup, horizon_s=s.run.duration)
                for n in layouts}
    job("by_hour", tr("fig.hours", lang),
        lambda: charts.plot_by_hour(profiles, s, summary=results.summary, patrol=presence_by_hour(results),
                                    lang=lang, footer=footer))
    return jobs


@dataclass(frozen=True)
class FigureJob:
    """One figure to draw: ``draw()`` makes it, then it is written to ``path`` + each format."""

    name: str
    title: str
    draw: Callable[[], tuple[Any, Any]]
    path: Path
    formats: Sequence[str]
    dpi: int
    layout_key: tuple[str, str] | None = None
    """Figures with the same key and shape share one layout (:func:`sim.viz.save.save_with_preview`)."""

    def __call__(self) -> tuple[list[Path], bytes]:
        fig, _ = self.draw()
        return save_with_preview(fig, self.path, self.formats, dpi=self.dpi, preview_px=PREVIEW_PX,
                                 layout_key=self.layout_key)


def _draw_all(jobs: list[FigureJob], workers: int, lang: str, progress: Callable[[str], None] | None
              ) -> list[tuple[list[Path], bytes]]:
    """Every job's files and preview, in the jobs' order."""
    finished = 0

    def done(_i: int, result: tuple[list[Path], bytes]) -> None:
        nonlocal finished
        finished += 1
        if progress:
            progress(f"figures ({lang}): {finished}/{len(jobs)} {result[0][0].name}")

    if workers > 1:
        cjk_font()  # found once, before the fork
    return run_all(jobs, workers, done)


def on_duty(s: Scenario, world: World | None, layout: str) -> float | np.ndarray:
    """Mean number of units taking dispatches in each hour of day (from the fleet's duty minutes
    when the world is loaded), else the layout's count of units whose type takes dispatches."""
    fleet = world.fleets.get(layout) if world is not None else None
    if fleet is not None:
        disp = np.asarray(fleet.dispatchable)
        off = getattr(fleet, "off_air", None)
        if off is not None and np.ndim(off) == 2 and off.shape[0] == 1440:
            on = ~np.asarray(off, dtype=bool)[:, disp]
            return np.asarray(on.reshape(24, 60, -1).mean(axis=1).sum(axis=1), dtype=float)
        return float(disp.sum())
    return float(sum(n for p in s.layouts[layout].platforms for utype, n in p.units.items()
                     if s.unit_types[utype].role == "response"))
