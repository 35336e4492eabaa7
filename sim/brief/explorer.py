"""``map.html``: an interactive map of a results folder that works offline, in one file.

Drawn with plotly from the project's own data (no tile server): the road network, rivers, the
central city and the numbered key locations, and for each layout its posts, patrol loops, the
road nodes reached within 1, 3 and 5 minutes of dispatch (free flow and every congestion period
of the scenario) and the share of incidents within target per hexagonal cell. A first menu
switches the layout; a second shows the paired difference per cell between any two layouts
(every pair is precomputed: n layouts give n(n-1)/2 pairs, small next to the road network).
Legend entries show or hide each layer; hovering a node or a cell gives its nearest post, the
time from dispatch, its compliance and its number of incidents. The page holds the map in
English and in Chinese, with a switch between them, and plotly.js inlined, so it makes no
network request.

The traces are plain dicts written with ``plotly.io.to_html(validate=False)``: plotly's
per-value validation of a graph object would take most of the report's time for the same JSON.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import plotly.io as pio

from sim.analysis.cells import HexCells, difference_cells, layout_cells
from sim.brief.figures import MapData, cell_km
from sim.brief.html import font_face
from sim.brief.results import Results
from sim.fileio import atomic_write_text
from sim.i18n import LANGS, layout_name, minutes, pct, pp, scenario_title, tr
from sim.network.graph import RoadNetwork
from sim.viz.style import BAND_COLOURS, BAND_EDGES_S, OKABE_ITO, RIVER_COLOUR, ZONE_COLOURS

__all__ = ["MIN_INCIDENTS", "map_figure", "write_map"]

MIN_INCIDENTS = 20
"""Cells with fewer incidents (in either layout of a pair) get no difference, as on the PNG maps."""
_MARKER_PX = (7, 5, 4)
"""Marker size (px) of the nodes reached within 1, 3 and 5 minutes: the 1-minute ones largest."""


def _r(a: np.ndarray) -> list[float | None]:
    """Coordinates rounded to metres (km with 3 decimals), NaN as a break (``None``)."""
    a = np.asarray(a, dtype=float)
    out = np.round(a, 3).astype(object)
    out[np.isnan(a)] = None
    return list(out.tolist())


def _road_lines(net: RoadNetwork) -> tuple[list[float | None], list[float | None]]:
    xs, ys = net.x / 1000.0, net.y / 1000.0
    n = net.n_edges
    px = np.full((n, 3), np.nan)
    py = np.full((n, 3), np.nan)
    px[:, 0], px[:, 1] = xs[net.edge_u], xs[net.edge_v]
    py[:, 0], py[:, 1] = ys[net.edge_u], ys[net.edge_v]
    return _r(px.ravel()), _r(py.ravel())


@dataclass(frozen=True)
class _Numbers:
    """What the map shows that does not depend on the language, computed once for both."""

    roads: tuple[list[float | None], list[float | None]]
    cells: dict[str, tuple[HexCells, np.ndarray]]
    """layout -> (its cells, the road node nearest each cell's centre)."""
    pairs: list[tuple[str, str, HexCells, np.ndarray, np.ndarray]]
    """(A, B, A's cells, B minus A in percentage points, cells with enough incidents in both)."""


def _numbers(results: Results, data: MapData) -> _Numbers:
    net, size = data.net, cell_km(data.net)
    cells = {}
    for layout in results.layouts:
        c = layout_cells(net, results.records, layout, size)
        cells[layout] = (c, _nearest_nodes(net, c.cx, c.cy))
    pairs = [(a, b, *difference_cells(net, results.records, a, b, size, MIN_INCIDENTS))
             for a, b in _pairs(results)]
    return _Numbers(_road_lines(net), cells, pairs)


def _pairs(results: Results) -> list[tuple[str, str]]:
    """Every pair of layouts once, the baseline's pairs first (B minus A, A the earlier layout)."""
    base = results.baseline
    order = [base, *(x for x in results.layouts if x != base)]
    return list(combinations(order, 2))


def _hex_marker(x: Any, y: Any, values: list[float], *, name: str, colorscale: str, cbar: str,
                hover: list[str], cmin: float, cmax: float, cx: float, opacity: float,
                visible: bool | str, reverse: bool = False) -> dict[str, Any]:
    return {"type": "scatter", "x": _r(x), "y": _r(y), "mode": "markers", "name": name,
            "marker": {"symbol": "hexagon", "size": 16, "color": values, "colorscale": colorscale,
                       "reversescale": reverse, "cmin": cmin, "cmax": cmax, "opacity": opacity,
                       "colorbar": {"title": {"text": cbar}, "x": cx, "len": 0.5, "y": 0.25}},
            "hovertext": hover, "hoverinfo": "text", "visible": visible}


def map_figure(results: Results, data: MapData, lang: str, numbers: _Numbers | None = None
               ) -> tuple[dict[str, Any], list[str]]:
    """The plotly figure (a dict of ``data`` and ``layout``) in ``lang`` and, per trace, what it
    belongs to: ``""`` (every layout), a layout's name, or ``"pair:<i>"`` (the i-th pair of
    layouts of the difference menu)."""
    s, net, world = results.scenario, data.net, data.world
    nums = numbers if numbers is not None else _numbers(results, data)
    xs, ys = net.x / 1000.0, net.y / 1000.0
    traces: list[dict[str, Any]] = []
    owner: list[str] = []

    def add(trace: dict[str, Any], who: str = "") -> None:
        traces.append({"type": "scatter", **trace})
        owner.append(who)

    add({"x": nums.roads[0], "y": nums.roads[1], "mode": "lines", "line": {"color": "#b5b5b5", "width": 1},
         "hoverinfo": "skip", "name": tr("m.roads", lang)})
    first_river = True
    for pts in net.rivers.values():
        if len(pts) >= 2:
            lx, ly = net.frame.to_local([p[0] for p in pts], [p[1] for p in pts])
            add({"x": _r(np.asarray(lx) / 1000.0), "y": _r(np.asarray(ly) / 1000.0), "mode": "lines",
                 "hoverinfo": "skip", "line": {"color": RIVER_COLOUR, "width": 6},
                 "name": tr("rivers", lang), "legendgroup": "rivers", "showlegend": first_river})
            first_river = False
    ring = np.asarray(s.zones.central_city, dtype=float)
    cx, cy = net.frame.to_local(ring[:, 0], ring[:, 1])
    add({"x": _r(np.asarray(cx) / 1000.0), "y": _r(np.asarray(cy) / 1000.0), "mode": "lines",
         "name": tr("m.central", lang), "hoverinfo": "skip",
         "line": {"color": ZONE_COLOURS["central"], "width": 2, "dash": "dash"}})
    if s.zones.key_locations:
        kx, ky = net.frame.to_local([k.lon for k in s.zones.key_locations],
                                    [k.lat for k in s.zones.key_locations])
        add({"x": _r(np.atleast_1d(kx) / 1000.0), "y": _r(np.atleast_1d(ky) / 1000.0),
             "mode": "markers+text", "name": tr("m.key", lang),
             "text": [f"K{i + 1}" for i in range(len(s.zones.key_locations))],
             "textposition": "top right", "hovertext": [k.name for k in s.zones.key_locations],
             "hoverinfo": "text", "marker": {"size": 14, "color": "rgba(204,121,167,0.45)",
                                             "line": {"color": ZONE_COLOURS["key"], "width": 2}}})
    periods = [tr("m.free_flow", lang), *(p.name.replace("_", " ") for p in s.congestion.periods)]
    codes_of = {}
    for k, layout in enumerate(results.layouts):
        name = layout_name(s, layout, lang)
        fleet = world.fleets[layout]
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        codes = [n.split()[0] if n.split() else str(i + 1) for i, n in enumerate(fleet.platform_names)]
        codes_of[layout] = codes
        for period in range(world.n_periods):
            times, post = data.reach_in(layout, period)
            lo = -math.inf
            for hi, band_colour, marker in zip(BAND_EDGES_S, BAND_COLOURS, _MARKER_PX, strict=False):
                sel = np.flatnonzero((times > lo + 1e-9) & (times <= hi + 1e-9))
                lo = hi
                label = tr("m.reach", lang, band=minutes(hi, lang), period=periods[period])
                # hover in free flow only: the congestion periods would triple the file for it
                hover: dict[str, Any] = {"hoverinfo": "skip"} if period else {
                    "customdata": [[codes[int(p)], round(float(t) / 60.0, 1)]
                                   for p, t in zip(post[sel], times[sel], strict=True)],
                    "hovertemplate": tr("m.hover_node", lang, post="%{customdata[0]}",
                                        time=tr("min", lang, n="%{customdata[1]}")) + "<extra></extra>"}
                add({"x": _r(xs[sel]), "y": _r(ys[sel]), "mode": "markers", "name": label,
                     "legendgroup": f"reach{period}",
                     "marker": {"size": marker, "color": band_colour, "opacity": 0.75},
                     "visible": True if period == 0 else "legendonly", **hover}, layout)
        loops = {int(i) for i in fleet.loop if i >= 0}
        if loops:
            loop_x: list[float | None] = []
            loop_y: list[float | None] = []
            for i in sorted(loops):
                nodes = fleet.loops[i].nodes
                loop_x += [*_r(xs[nodes]), None]
                loop_y += [*_r(ys[nodes]), None]
            add({"x": loop_x, "y": loop_y, "mode": "lines", "name": tr("m.loops", lang), "hoverinfo": "skip",
                 "line": {"color": colour, "width": 2}, "opacity": 0.8, "visible": "legendonly"}, layout)
        cells, near = nums.cells[layout]
        times, post = data.reach[layout]
        add(_hex_marker(
            cells.cx, cells.cy, np.nan_to_num(cells.share * 100.0).round(1).tolist(),
            name=tr("m.cells", lang), colorscale="Cividis", cbar="%", cmin=0, cmax=100, cx=1.0,
            opacity=0.7, visible="legendonly",
            hover=[tr("m.hover_cell", lang, n=int(n), share=pct(float(sh), lang),
                      post=codes[int(post[j])], time=minutes(float(times[j]), lang))
                   for n, sh, j in zip(cells.n, cells.share, near, strict=True)]), layout)
        px, py = xs[fleet.platform_nodes], ys[fleet.platform_nodes]
        add({"x": _r(px), "y": _r(py), "mode": "markers+text", "name": f"{tr('m.posts', lang)}: {name}",
             "text": codes, "textposition": "top center", "hovertext": list(fleet.platform_names),
             "hoverinfo": "text", "marker": {"size": 12, "color": colour, "symbol": "triangle-up",
                                             "line": {"color": "white", "width": 1}}}, layout)
    pair_labels = []
    for i, (a, b, a_cells, diff, ok) in enumerate(nums.pairs):
        name_a, name_b = layout_name(s, a, lang), layout_name(s, b, lang)
        lim = float(np.nanmax(np.abs(diff[ok]))) if ok.any() else 5.0
        lim = max(5.0, math.ceil(lim / 5.0) * 5.0)
        label = tr("m.pair", lang, a=name_a, b=name_b)
        pair_labels.append(label)
        add(_hex_marker(
            a_cells.cx[ok], a_cells.cy[ok], diff[ok].round(1).tolist(), name=label, colorscale="RdBu",
            cbar=tr("m.pp", lang), cmin=-lim, cmax=lim, cx=1.08, opacity=0.85, visible=False,
            reverse=True,  # plotly's RdBu runs red to blue upwards; blue is better, as on the PNG maps
            hover=[tr("m.hover_pair", lang, diff=pp(float(d) / 100.0), a=name_a, b=name_b, n=int(n))
                   for d, n in zip(diff[ok], a_cells.n[ok], strict=True)]), f"pair:{i}")
    mine = [i for i, who in enumerate(owner) if who in results.layouts]
    defaults = {i: traces[i].get("visible", True) for i in mine}
    for i in mine:  # the first layout is shown when the page opens
        if owner[i] != results.layouts[0]:
            traces[i]["visible"] = False
    layout_buttons = [{"label": layout_name(s, layout, lang), "method": "restyle",
                       "args": [{"visible": [defaults[i] if owner[i] == layout else False for i in mine]},
                                mine]} for layout in results.layouts]
    pair_idx = [i for i, who in enumerate(owner) if who.startswith("pair:")]
    pair_buttons = [{"label": tr("m.pair_none", lang), "method": "restyle",
                     "args": [{"visible": [False] * len(pair_idx)}, pair_idx]}]
    pair_buttons += [{"label": label, "method": "restyle",
                      "args": [{"visible": [owner[i] == f"pair:{k}" for i in pair_idx]}, pair_idx]}
                     for k, label in enumerate(pair_labels)]
    menus = [{"buttons": layout_buttons, "direction": "down", "x": 0.0, "xanchor": "left", "y": 1.0,
              "yanchor": "bottom", "showactive": True, "active": 0, "name": "layout"}]
    notes = [{"text": tr("m.layout", lang), "x": 0.0, "y": 1.06, "xref": "paper", "yref": "paper",
              "xanchor": "left", "yanchor": "bottom", "showarrow": False,
              "font": {"size": 11, "color": "#555"}}]
    if pair_idx:
        menus.append({"buttons": pair_buttons, "direction": "down", "x": 0.42, "xanchor": "left", "y": 1.0,
                      "yanchor": "bottom", "showactive": True, "active": 0, "name": "difference"})
        notes.append({"text": tr("m.pair_menu", lang), "x": 0.42, "y": 1.06, "xref": "paper",
                      "yref": "paper", "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                      "font": {"size": 11, "color": "#555"}})
    layout_spec = {
        "title": {"text": tr("m.title", lang, title=scenario_title(s, lang)), "x": 0.01, "y": 0.98},
        "updatemenus": menus, "annotations": notes,
        "xaxis": {"title": {"text": tr("x_km", lang)}, "scaleanchor": "y", "scaleratio": 1, "showgrid": False,
                  "zeroline": False},
        "yaxis": {"title": {"text": tr("y_km", lang)}, "showgrid": False, "zeroline": False},
        "legend": {"x": 1.16, "y": 1.0, "font": {"size": 11}}, "hovermode": "closest",
        "margin": {"l": 60, "r": 20, "t": 110, "b": 50}, "height": 780, "plot_bgcolor": "white",
        "font": {"family": '"ReportCJK", Arial, "PingFang SC", "Microsoft YaHei", sans-serif'},
        "meta": {"owners": owner}}
    return {"data": traces, "layout": layout_spec}, owner


def _nearest_nodes(net: RoadNetwork, cx_km: np.ndarray, cy_km: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([net.x, net.y]) / 1000.0)
    _, idx = tree.query(np.column_stack([cx_km, cy_km]))
    return np.asarray(idx, dtype=int).reshape(-1)


_PAGE = """<!DOCTYPE html>
<html lang="{html_lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{font_face}body{{margin:0;font:15px/1.45 "ReportCJK",-apple-system,"Segoe UI",Roboto,Arial,
"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;background:#fafafa}}
header{{padding:10px 18px;background:#fff;border-bottom:1px solid #ddd}}
button{{font:inherit;padding:3px 10px;margin-right:6px}}
.lang{{display:none}}.lang.on{{display:block}}p.help{{margin:4px 0 0;color:#555;font-size:.9em}}</style>
</head><body><header><button id="btn-en" type="button">English</button>
<button id="btn-zh" type="button">中文</button>{helps}</header>
{divs}
<script>
function showLang(l){{document.querySelectorAll('.lang').forEach(function(d){{
d.classList.toggle('on', d.dataset.lang === l);}});
var shown = document.querySelector('#lang-' + l + ' .plotly-graph-div');
if (shown && window.Plotly) {{ Plotly.Plots.resize(shown); }}}}
document.getElementById('btn-en').onclick = function(){{showLang('en');}};
document.getElementById('btn-zh').onclick = function(){{showLang('zh');}};
</script></body></html>
"""


def _shown_text(fig: dict[str, Any]) -> str:
    """Every piece of text the figure shows (for the subset of the CJK font to embed)."""
    lay = fig["layout"]
    out = [lay["title"]["text"], lay["xaxis"]["title"]["text"], lay["yaxis"]["title"]["text"]]
    out += [str(b["label"]) for menu in lay["updatemenus"] for b in menu["buttons"]]
    out += [str(a["text"]) for a in lay.get("annotations", ())]
    for t in fig["data"]:
        out += [str(t.get("name", "")), str(t.get("hovertemplate", ""))]
        for key in ("hovertext", "text"):
            out += [str(v) for v in t.get(key, ())]
    return "".join(out)


def write_map(results: Results, data: MapData, path: Path, first_lang: str = "en") -> Path:
    """Write ``map.html`` (both languages, ``first_lang`` shown first); return its path."""
    divs, helps, texts = [], [], []
    langs = [first_lang, *(x for x in LANGS if x != first_lang)]
    numbers = _numbers(results, data)
    for i, lang in enumerate(langs):
        fig, _ = map_figure(results, data, lang, numbers)
        texts.append(_shown_text(fig))
        div = pio.to_html(fig, validate=False, full_html=False, include_plotlyjs=(i == 0),
                          div_id=f"map-{lang}", config={"displaylogo": False, "responsive": True})
        on = " on" if i == 0 else ""
        divs.append(f'<div class="lang{on}" id="lang-{lang}" data-lang="{lang}">{div}</div>')
        helps.append(f'<p class="help lang{on}" data-lang="{lang}">{html.escape(tr("m.help", lang))}</p>')
    page = _PAGE.format(font_face=font_face("中文" + "".join(helps) + "".join(texts)),
                        html_lang="zh-CN" if first_lang == "zh" else "en",
                        title=html.escape(tr("m.title", first_lang,
                                             title=scenario_title(results.scenario, first_lang))),
                        helps="".join(helps), divs="\n".join(divs))
    atomic_write_text(path, page)
    return path
