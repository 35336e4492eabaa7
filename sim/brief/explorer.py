"""``map.html``: an interactive map of a results folder that works offline, in one file.

Drawn with plotly from the project's own data (no tile server): the road network, rivers, the
central city and the numbered key locations, and for each layout its posts, patrol loops, the
road nodes reached within 1, 3 and 5 minutes of dispatch (free flow and every congestion period
of the scenario), the share of incidents within target per hexagonal cell, and the paired
difference of each cell against the baseline layout. A menu switches the layout; legend entries
show or hide each layer; hovering a node or a cell gives its nearest post, the time from
dispatch, its compliance and its number of incidents. The page holds the map in English and in
Chinese, with a switch between them, and plotly.js inlined (``include_plotlyjs=True``), so it
makes no network request.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from sim.analysis.cells import difference_cells, layout_cells
from sim.brief.figures import MapData, cell_km
from sim.brief.html import font_face
from sim.brief.results import Results
from sim.fileio import atomic_write_text
from sim.i18n import LANGS, layout_name, minutes, pct, pp, scenario_title, tr
from sim.network.graph import RoadNetwork

__all__ = ["map_figure", "write_map"]

_BANDS = ((60.0, "#D55E00", 7), (180.0, "#0072B2", 5), (300.0, "#7FB8E0", 4))
_OKABE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _r(a: np.ndarray) -> list[float | None]:
    """Coordinates rounded to metres (km with 3 decimals), NaN as a break."""
    return [None if np.isnan(v) else round(float(v), 3) for v in a]


def _road_lines(net: RoadNetwork) -> tuple[list[float | None], list[float | None]]:
    xs, ys = net.x / 1000.0, net.y / 1000.0
    n = net.n_edges
    px = np.full((n, 3), np.nan)
    py = np.full((n, 3), np.nan)
    px[:, 0], px[:, 1] = xs[net.edge_u], xs[net.edge_v]
    py[:, 0], py[:, 1] = ys[net.edge_u], ys[net.edge_v]
    return _r(px.ravel()), _r(py.ravel())


def _hex_path(cx: float, cy: float, size: float) -> tuple[list[float | None], list[float | None]]:
    radius = size / np.sqrt(3.0)
    ang = np.radians(60.0 * np.arange(7) - 30.0)
    return _r(cx + radius * np.cos(ang)), _r(cy + radius * np.sin(ang))


def map_figure(results: Results, data: MapData, lang: str) -> tuple[go.Figure, list[str]]:
    """The plotly figure in ``lang`` and, per trace, the layout it belongs to (``""``: all)."""
    s, net, world = results.scenario, data.net, data.world
    xs, ys = net.x / 1000.0, net.y / 1000.0
    fig = go.Figure()
    owner: list[str] = []

    def add(trace: Any, layout: str = "") -> None:
        fig.add_trace(trace)
        owner.append(layout)

    rx, ry = _road_lines(net)
    add(go.Scatter(x=rx, y=ry, mode="lines", line={"color": "#b5b5b5", "width": 1}, hoverinfo="skip",
                   name=tr("m.roads", lang)))
    for pts in net.rivers.values():
        if len(pts) >= 2:
            lx, ly = net.frame.to_local([p[0] for p in pts], [p[1] for p in pts])
            add(go.Scatter(x=_r(lx / 1000.0), y=_r(ly / 1000.0), mode="lines", hoverinfo="skip",
                           line={"color": "#56B4E9", "width": 6}, showlegend=False, opacity=0.8))
    ring = np.asarray(s.zones.central_city, dtype=float)
    cx, cy = net.frame.to_local(ring[:, 0], ring[:, 1])
    add(go.Scatter(x=_r(cx / 1000.0), y=_r(cy / 1000.0), mode="lines", name=tr("m.central", lang),
                   line={"color": "#E69F00", "width": 2, "dash": "dash"}, hoverinfo="skip"))
    if s.zones.key_locations:
        kx, ky = net.frame.to_local([k.lon for k in s.zones.key_locations],
                                    [k.lat for k in s.zones.key_locations])
        add(go.Scatter(x=_r(np.atleast_1d(kx) / 1000.0), y=_r(np.atleast_1d(ky) / 1000.0),
                       mode="markers+text", name=tr("m.key", lang),
                       text=[f"K{i + 1}" for i in range(len(s.zones.key_locations))],
                       textposition="top right", hovertext=[k.name for k in s.zones.key_locations],
                       hoverinfo="text", marker={"size": 14, "color": "rgba(204,121,167,0.45)",
                                                 "line": {"color": "#CC79A7", "width": 2}}))
    periods = [tr("m.free_flow", lang), *(p.name.replace("_", " ") for p in s.congestion.periods)]
    size = cell_km(net)
    for k, layout in enumerate(results.layouts):
        name = layout_name(s, layout, lang)
        fleet = world.fleets[layout]
        colour = _OKABE[k % len(_OKABE)]
        codes = [n.split()[0] if n.split() else str(i + 1) for i, n in enumerate(fleet.platform_names)]
        for period in range(world.n_periods):
            times, post = data.reach_in(layout, period)
            lo = 0.0
            for hi, band_colour, marker in _BANDS:
                sel = np.flatnonzero((times > lo - 1e-9) & (times <= hi + 1e-9)) if lo else \
                    np.flatnonzero(times <= hi + 1e-9)
                lo = hi
                label = tr("m.reach", lang, band=minutes(hi, lang), period=periods[period])
                # hover in free flow only: the congestion periods would triple the file for it
                hover: dict[str, Any] = {"hoverinfo": "skip"} if period else {
                    "customdata": [[codes[int(p)], round(float(t) / 60.0, 1)]
                                   for p, t in zip(post[sel], times[sel], strict=True)],
                    "hovertemplate": tr("m.hover_node", lang, post="%{customdata[0]}",
                                        time=tr("min", lang, n="%{customdata[1]}")) + "<extra></extra>"}
                add(go.Scatter(
                    x=_r(xs[sel]), y=_r(ys[sel]), mode="markers", name=label, legendgroup=f"reach{period}",
                    marker={"size": marker, "color": band_colour, "opacity": 0.75},
                    visible=True if period == 0 else "legendonly", **hover), layout)
        loops = {int(i) for i in fleet.loop if i >= 0}
        if loops:
            loop_x: list[float | None] = []
            loop_y: list[float | None] = []
            for i in sorted(loops):
                nodes = fleet.loops[i].nodes
                loop_x += [*_r(xs[nodes]), None]
                loop_y += [*_r(ys[nodes]), None]
            add(go.Scatter(x=loop_x, y=loop_y, mode="lines", name=tr("m.loops", lang), hoverinfo="skip",
                           line={"color": colour, "width": 2}, opacity=0.8, visible="legendonly"), layout)
        cells = layout_cells(net, results.records, layout, size)
        near = _nearest_nodes(net, cells.cx, cells.cy)
        times, post = data.reach[layout]
        shares = cells.share
        add(go.Scatter(
            x=_r(cells.cx), y=_r(cells.cy), mode="markers", name=tr("m.cells", lang),
            marker={"symbol": "hexagon", "size": 16, "color": np.nan_to_num(shares * 100.0).round(1).tolist(),
                    "colorscale": "Cividis", "cmin": 0, "cmax": 100, "opacity": 0.7,
                    "colorbar": {"title": {"text": "%"}, "x": 1.0, "len": 0.5, "y": 0.25}},
            hovertext=[tr("m.hover_cell", lang, n=int(n), share=pct(float(sh), lang),
                          post=codes[int(post[j])], time=minutes(float(times[j]), lang))
                       for n, sh, j in zip(cells.n, shares, near, strict=True)],
            hoverinfo="text", visible="legendonly"), layout)
        if layout != results.baseline:
            a_cells, diff, ok = difference_cells(net, results.records, results.baseline, layout, size, 20)
            base = layout_name(s, results.baseline, lang)
            add(go.Scatter(
                x=_r(a_cells.cx[ok]), y=_r(a_cells.cy[ok]), mode="markers", name=tr("m.diff", lang, a=base),
                marker={"symbol": "hexagon", "size": 16, "color": diff[ok].round(1).tolist(),
                        "colorscale": "RdBu", "cmid": 0, "opacity": 0.8,
                        "colorbar": {"title": {"text": "pp"}, "x": 1.08, "len": 0.5, "y": 0.25}},
                hovertext=[tr("m.hover_diff", lang, diff=pp(float(d) / 100.0), a=base, n=int(n))
                           for d, n in zip(diff[ok], a_cells.n[ok], strict=True)],
                hoverinfo="text", visible="legendonly"), layout)
        px, py = xs[fleet.platform_nodes], ys[fleet.platform_nodes]
        add(go.Scatter(x=_r(px), y=_r(py), mode="markers+text", name=f"{tr('m.posts', lang)}: {name}",
                       text=codes, textposition="top center", hovertext=list(fleet.platform_names),
                       hoverinfo="text", marker={"size": 12, "color": colour, "symbol": "triangle-up",
                                                 "line": {"color": "white", "width": 1}}), layout)
    first = results.layouts[0]
    defaults = [t.visible for t in fig.data]
    for trace, who in zip(fig.data, owner, strict=True):
        if who and who != first:
            trace.visible = False
    buttons = []
    for layout in results.layouts:
        vis = [(d if d is not None else True) if who in ("", layout) else False
               for d, who in zip(defaults, owner, strict=True)]
        buttons.append({"label": layout_name(s, layout, lang), "method": "restyle",
                        "args": [{"visible": vis}]})
    fig.update_layout(
        title={"text": tr("m.title", lang, title=scenario_title(s, lang)), "x": 0.01},
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left", "y": 1.0,
                      "yanchor": "bottom", "showactive": True, "active": 0}],
        xaxis={"title": tr("x_km", lang), "scaleanchor": "y", "scaleratio": 1, "showgrid": False},
        yaxis={"title": tr("y_km", lang), "showgrid": False},
        legend={"x": 1.16, "y": 1.0, "font": {"size": 11}}, hovermode="closest",
        margin={"l": 60, "r": 20, "t": 80, "b": 50}, height=760, plot_bgcolor="white",
        font={"family": '"ReportCJK", Arial, "PingFang SC", "Microsoft YaHei", sans-serif'},
        meta={"owners": owner})
    return fig, owner


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


def _shown_text(fig: go.Figure) -> str:
    """Every piece of text the figure shows (for the subset of the CJK font to embed)."""
    out = [str(fig.layout.title.text), str(fig.layout.xaxis.title.text), str(fig.layout.yaxis.title.text)]
    out += [str(b.label) for menu in fig.layout.updatemenus for b in menu.buttons]
    for t in fig.data:
        out += [str(t.name or ""), str(getattr(t, "hovertemplate", "") or "")]
        for key in ("hovertext", "text"):
            value = getattr(t, key, None)
            if value is not None:
                out += [str(v) for v in np.atleast_1d(value)]
    return "".join(out)


def write_map(results: Results, data: MapData, path: Path, first_lang: str = "en") -> Path:
    """Write ``map.html`` (both languages, ``first_lang`` shown first); return its path."""
    divs, helps, texts = [], [], []
    langs = [first_lang, *(x for x in LANGS if x != first_lang)]
    for i, lang in enumerate(langs):
        fig, _ = map_figure(results, data, lang)
        texts.append(_shown_text(fig))
        div = fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"map-{lang}",
                          config={"displaylogo": False, "responsive": True})
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
