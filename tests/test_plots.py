# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""Figures on small fixed data: every plot function in both languages, the numbers they show,
hexagonal binning, hourly utilisation, bridges, and Chinese glyph coverage."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from sim import i18n
from sim.network.graph import LocalFrame, RoadNetwork
from sim.scenario import DEFAULT_SCENARIO, load_scenario
from sim.types import RecordTable
from sim.viz import plots

from .conftest import LAT0, LON0, tiny_scenario, world_for

LAYOUTS = ("two_posts", "one_post")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    """The tiny grid scenario's loaded scenario, network and world (no simulation)."""
    folder = tmp_path_factory.mktemp("tiny_plots")
    return world_for(folder, tiny_scenario("grid.osm"))


def _records(net: RoadNetwork) -> RecordTable:
    """Fixed records: 3 replications x 2 layouts x 40 incidents over two days, on fixed nodes."""
    rows = []
    for rep in range(3):
        for code in range(len(LAYOUTS)):
            for i in range(40):
                call = 6 * 3600 + i * 3600.0 + rep * 17.0
                dispatch = call + 60.0
                travel = 30.0 + (i * 37 + code * 50) % 300
                arrival = dispatch + 20.0 + travel
                zone = i % 3
                target = (60.0, 180.0, 300.0)[zone]
                rows.append((code, rep, i, call, dispatch, dispatch, arrival, arrival + 1200.0,
                             (i * 7) % net.n_nodes, zone, i % 2, int(arrival - dispatch <= target)))
    a = np.array(rows, dtype=float)
    cols = {
        "layout": a[:, 0].astype(np.int32), "replication": a[:, 1].astype(np.int32),
        "incident": a[:, 2].astype(np.int64), "call_s": a[:, 3], "dispatch_s": a[:, 4],
        "assign_s": a[:, 5], "arrival_s": a[:, 6], "clear_s": a[:, 7],
        "node": a[:, 8].astype(np.int64), "zone": a[:, 9].astype(np.int32),
        "unit": a[:, 10].astype(np.int32), "target_met": a[:, 11].astype(np.int8),
        "counted": np.ones(len(a), dtype=np.int8),
    }
    return RecordTable(columns=cols, lookups={"layout": LAYOUTS, "zone": ("key", "central", "other"),
                                              "unit": ("u0", "u1")})


SUMMARY = [
    {"layout": layout, "zone": zone, "compliance": c, "compliance_ci_low": c - 0.031,
     "compliance_ci_high": c + 0.027, "utilisation": u, "response_mean_s": 200.0 + 10 * k}
    for k, (layout, u) in enumerate(zip(LAYOUTS, (0.123, 0.456), strict=True))
    for zone, c in zip(("key", "central", "other", "all"),
                       ((0.412, 0.734, 0.905, 0.777), (0.256, 0.612, 0.873, 0.651))[k], strict=True)
]


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def _render(fig, path: Path) -> None:
    plots.save_figure(fig, path, ("png",), dpi=60)
    assert path.with_name(path.name + ".png").stat().st_size > 1000


def _figures(tiny, lang: str):
    loaded, net, world = tiny
    s = loaded.scenario
    rec = _records(net)
    fleets = [world.fleets[n] for n in LAYOUTS]
    times = np.asarray(world.oracles["car"].from_node(int(fleets[0].post[0]))) + 30.0
    areas = (net.x > 0).astype(int)
    footer = plots.source_line(s.name, "run-x", 3, lang)
    profiles = {n: plots.hourly_profile(rec, n, n_units=2, replications=3, warmup_s=0.0,
                                        horizon_s=2 * 86400.0) for n in LAYOUTS}
    return {
        "layout_map": plots.plot_layout_map(net, s, fleets, areas=areas, areas_layout=LAYOUTS[0],
                                            lang=lang, footer=footer),
        "coverage": plots.plot_coverage_map(net, s, times, layout=LAYOUTS[0], posts=fleets[0].post,
                                            node_zone=world.zones.zone, lang=lang, footer=footer),
        "compliance_map": plots.plot_compliance_map(net, s, rec, LAYOUTS[0], summary=SUMMARY,
                                                    cell_km=0.3, min_incidents=3, lang=lang,
                                                    footer=footer),
        "difference": plots.plot_difference_map(net, s, rec, LAYOUTS[0], LAYOUTS[1], cell_km=0.3,
                                                min_incidents=3, lang=lang, footer=footer),
        "cdf": plots.plot_response_cdf(rec, s, LAYOUTS, summary=SUMMARY, lang=lang, footer=footer),
        "bars": plots.plot_compliance_bars(SUMMARY, s, LAYOUTS, goal=0.9, lang=lang, footer=footer),
        "hours": plots.plot_by_hour(profiles, s, summary=SUMMARY, lang=lang, footer=footer),
    }


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_figure_has_title_labels_legend_and_source(tiny, tmp_path, lang):
    figs = _figures(tiny, lang)
    for name, (fig, ax) in figs.items():
        axes = np.atleast_1d(ax)
        texts = _texts(fig)
        assert fig._suptitle is not None or axes[0].get_title(), name
        if name != "bars":  # the bars' x axis holds the zone classes
            assert any(a.get_xlabel() for a in axes), name
        assert any(a.get_ylabel() for a in axes), name
        assert fig.legends or any(a.get_legend() is not None for a in fig.axes), name
        assert any("run-x" in t for t in texts), name  # the source line
        if name in ("layout_map", "coverage", "compliance_map", "difference"):
            assert any(t == i18n.tr("north", lang) for t in texts), name
            assert any(re.fullmatch(r"[\d.]+ ?(km|千米)", t) for t in texts), name
        _render(fig, tmp_path / f"{name}_{lang}")


def test_plot_functions_draw_into_a_given_ax(tiny):
    loaded, net, world = tiny
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    got_fig, got_ax = plots.plot_compliance_bars(SUMMARY, loaded.scenario, LAYOUTS, ax=axes[0])
    assert got_fig is fig and got_ax is axes[0]
    got_fig, got_ax = plots.plot_layout_map(net, loaded.scenario, [world.fleets["one_post"]], ax=axes[1])
    assert got_fig is fig and got_ax is axes[1]
    got_fig, got_ax = plots.plot_compliance_map(net, loaded.scenario, _records(net), "one_post",
                                                ax=axes[2], cell_km=0.3)
    assert got_ax is axes[2]
    plots.close(fig)


def test_bar_labels_and_curve_legends_equal_the_summary(tiny):
    loaded, net, _ = tiny
    fig, ax = plots.plot_compliance_bars(SUMMARY, loaded.scenario, LAYOUTS)
    shown = sorted(t.get_text() for t in ax.texts)
    assert shown == sorted(f"{r['compliance'] * 100:.1f}%" for r in SUMMARY)
    heights = sorted(round(p.get_height(), 6) for p in ax.patches if p.get_height() > 0)
    assert heights == sorted(round(r["compliance"] * 100, 6) for r in SUMMARY)
    plots.close(fig)
    fig, axes = plots.plot_response_cdf(_records(net), loaded.scenario, LAYOUTS, summary=SUMMARY)
    for a, zone in zip(axes, ("key", "central", "other"), strict=True):
        labels = [t.get_text() for t in a.get_legend().get_texts()]
        for layout, label in zip(LAYOUTS, labels, strict=True):
            value = next(r["compliance"] for r in SUMMARY if r["layout"] == layout and r["zone"] == zone)
            assert label.startswith(layout) and f"{value * 100:.1f}%" in label
    plots.close(fig)


def test_every_day_average_line_is_inside_its_panel(tiny):
    """The dotted day-average lines sit at summary.csv's utilisation (12.3% and 45.6% here), and
    the panel's scale holds them even where every hourly point is lower (the 45.6% line was once
    drawn above the top of the panel, out of sight)."""
    figs = _figures(tiny, "en")
    _, axes = figs["hours"]
    lines = [ln for ln in axes[2].get_lines() if ln.get_linestyle() == ":"]
    assert sorted(round(float(ln.get_ydata()[0]), 6) for ln in lines) == [12.3, 45.6]
    low, high = axes[2].get_ylim()
    assert all(low <= float(ln.get_ydata()[0]) <= high for ln in lines)
    for fig, _ in figs.values():
        plots.close(fig)


def test_hex_cells_count_every_incident_and_line_up():
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-3, 3, 500), rng.uniform(-2, 2, 500)
    met = (x > 0).astype(int)
    cells = plots.hex_aggregate(x, y, met, cell_km=0.8)
    assert cells.n.sum() == 500 and cells.met.sum() == met.sum()
    assert np.all((cells.share >= 0) & (cells.share <= 1))
    # every point lies in the hexagon of its cell: the cell's centre is the nearest of all the
    # lattice's centres. The lattice by construction: cells 0.8 km across the flats, so centres
    # 0.8 km apart along a row and rows 0.8 x sqrt(3)/2 km apart, every other row shifted by half
    i, j = np.meshgrid(np.arange(-12, 13), np.arange(-12, 13))
    lx = (0.8 * (i + j / 2.0)).ravel()
    ly = (0.8 * math.sqrt(3) / 2 * j).ravel()
    nearest = np.argmin(np.hypot(x[:, None] - lx[None, :], y[:, None] - ly[None, :]), axis=1)
    by_hand: dict[tuple[float, float], list[int]] = {}
    for k, c in enumerate(nearest):
        by_hand.setdefault((round(lx[c], 9), round(ly[c], 9)), []).append(k)
    got = {(round(cx, 9), round(cy, 9)): (int(n), int(m))
           for cx, cy, n, m in zip(cells.cx, cells.cy, cells.n, cells.met, strict=True)}
    assert got == {c: (len(ks), int(met[ks].sum())) for c, ks in by_hand.items()}
    # one point at a time lands in the same cell as its nearest centre
    for k in range(0, 500, 25):
        one = plots.hex_aggregate(x[k:k + 1], y[k:k + 1], met[k:k + 1], cell_km=0.8)
        assert (one.cx[0], one.cy[0]) == pytest.approx((lx[nearest[k]], ly[nearest[k]]), abs=1e-9)
    keys = {(int(q), int(r)): i for i, (q, r) in enumerate(zip(cells.q, cells.r, strict=True))}
    again = plots.hex_aggregate(x[:10], y[:10], met[:10], cell_km=0.8)
    for q, r, cx, cy in zip(again.q, again.r, again.cx, again.cy, strict=True):
        i = keys[(int(q), int(r))]
        assert math.isclose(cells.cx[i], cx) and math.isclose(cells.cy[i], cy)
    own = plots.hex_aggregate(x, y, met, 0.8)
    assert own.polygons().shape == (len(own.q), 6, 2)


def test_hourly_utilisation_by_hand():
    # one unit busy 01:30-03:30 on day 1 of a 2-day window (warm-up 1 day): 1800 s in hour 1,
    # 3600 s in hour 2, 1800 s in hour 3; each hour of day appears once in the window
    t0 = 86400 + 1.5 * 3600
    cols = {"layout": np.zeros(1, np.int32), "replication": np.zeros(1, np.int32),
            "call_s": np.array([t0 - 100]), "assign_s": np.array([t0]),
            "clear_s": np.array([t0 + 7200]), "unit": np.zeros(1, np.int32),
            "target_met": np.ones(1, np.int8), "counted": np.ones(1, np.int8)}
    rec = RecordTable(columns=cols, lookups={"layout": ("a",), "unit": ("u",)})
    prof = plots.hourly_profile(rec, "a", n_units=2, replications=1, warmup_s=86400.0,
                                horizon_s=2 * 86400.0)
    expected = np.zeros(24)
    expected[[1, 2, 3]] = [1800 / 7200, 3600 / 7200, 1800 / 7200]
    np.testing.assert_allclose(prof["utilisation"], expected)
    # the exposure-weighted mean is total busy time over unit time
    assert math.isclose(prof["utilisation"].mean(), 7200 / (2 * 86400))
    assert prof["incidents_per_day"][1] == 1 and prof["compliance"][1] == 1.0
    assert np.isnan(prof["compliance"][5])


def test_river_crossings_are_the_bridges():
    frame = LocalFrame(LON0, LAT0)
    xs = np.array([0.0, 0.0, 500.0, 500.0, 1000.0])
    ys = np.array([-300.0, 300.0, -300.0, -250.0, -300.0])
    lon, lat = frame.to_lonlat(xs, ys)
    u = np.array([0, 2, 0, 2], dtype=np.int32)
    v = np.array([1, 3, 2, 4], dtype=np.int32)
    rlon, rlat = frame.to_lonlat(np.array([-200.0, 1200.0]), np.array([0.0, 0.0]))
    net = RoadNetwork(osmid=np.arange(5), lon=lon, lat=lat, x=xs, y=ys, edge_u=u, edge_v=v,
                      edge_length=np.hypot(xs[u] - xs[v], ys[u] - ys[v]),
                      edge_class=np.zeros(4, dtype=np.int32), classes=("residential",), frame=frame,
                      source="test", checksum="0" * 64,
                      rivers={"river": list(zip(rlon.tolist(), rlat.tolist(), strict=True))})
    assert plots.river_crossings(net).tolist() == [True, False, False, False]


def test_post_codes():
    assert plots.post_codes(["P01 Old Town", "P02 Chengnan"]) == ["P01", "P02"]
    assert plots.post_codes(["Centre", "East"], prefix="B") == ["B1", "B2"]


def _scenario_names() -> list[str]:
    s = load_scenario(DEFAULT_SCENARIO).scenario
    names = [s.title, s.description]
    names += [k.name for k in s.zones.key_locations]
    names += [u.label or "" for u in s.unit_types.values()]
    names += [p.name for lay in s.layouts.values() for p in lay.platforms]
    return names


def test_chinese_text_renders_with_a_cjk_font_and_no_missing_glyph(tmp_path):
    font = plots.cjk_font()
    texts = list(i18n.all_text("zh")) + _scenario_names()
    cjk = {ch for t in texts for ch in t if ord(ch) > 0x2E7F}
    assert "城" in cjk and "警" in cjk
    from fontTools.ttLib import TTFont

    with TTFont(font.path, fontNumber=font.index, lazy=True) as tt:
        cmap = tt.getBestCmap()
    assert not sorted(ch for ch in cjk if ord(ch) not in cmap), f"{font.name} lacks glyphs"
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8, 0.25 * len(texts)))
    for i, t in enumerate(texts):
        fig.text(0.01, 1 - (i + 0.5) / len(texts), t.replace("\n", " ")[:160], fontsize=6)
    # a missing glyph is a UserWarning at draw time, which pytest turns into an error here
    for fmt in ("png", "svg", "pdf"):
        fig.savefig(tmp_path / f"zh.{fmt}", dpi=50)
    plots.close(fig)


def test_save_figure_writes_png_at_200_dpi_svg_and_pdf(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    paths = plots.save_figure(fig, tmp_path / "fig.name", ("png", "svg", "pdf"))
    assert [p.name for p in paths] == ["fig.name.png", "fig.name.svg", "fig.name.pdf"]
    from PIL import Image

    with Image.open(paths[0]) as im:
        assert im.size == (800, 600)
    assert b"<svg" in paths[1].read_bytes()[:400] and paths[2].read_bytes().startswith(b"%PDF")
    # no date in the files: the same figure gives the same bytes
    fig2, ax2 = plt.subplots(figsize=(4, 3))
    ax2.plot([0, 1], [0, 1])
    again = plots.save_figure(fig2, tmp_path / "again", ("svg", "pdf"))
    assert again[0].read_bytes() == paths[1].read_bytes()
    assert again[1].read_bytes() == paths[2].read_bytes()


def test_wrap_breaks_chinese_between_characters_not_before_punctuation():
    lines = i18n.wrap("城市快警，重点部位一分钟，中心城区三分钟。", 10)
    assert all(sum(2 if ord(c) > 0x2E7F else 1 for c in line) <= 12 for line in lines)
    assert "".join(lines) == "城市快警，重点部位一分钟，中心城区三分钟。"
    assert not any(line.startswith(("，", "。")) for line in lines)
    assert i18n.wrap("one two three four", 9) == ["one two", "three", "four"]


def test_every_label_exists_in_both_languages():
    for key, entry in i18n.TEXT.items():
        assert set(entry) == set(i18n.LANGS), key
        fields = {tuple(sorted(set(re.findall(r"{(\w+)", entry[lang])))) for lang in i18n.LANGS}
        assert len(fields) == 1, f"{key}: fields differ between languages"


def test_goal_line_never_strikes_through_a_value_label(tiny):
    loaded, _net, _world = tiny
    fig, ax = plots.plot_compliance_bars(SUMMARY, loaded.scenario, LAYOUTS, goal=0.9)
    fig.canvas.draw()
    goal = next(line for line in ax.get_lines() if line.get_linestyle() == "--")
    y_goal = ax.transData.transform((0, 90.0))[1]
    labels = [t for t in ax.texts if t.get_text().endswith("%")]
    assert labels
    for t in labels:
        box = t.get_window_extent()
        if box.y0 <= y_goal <= box.y1:  # where a label meets the line, the label is on top, opaque
            patch = t.get_bbox_patch()
            assert patch is not None and patch.get_facecolor()[:3] == (1.0, 1.0, 1.0)
            assert t.get_zorder() > goal.get_zorder()
    plots.close(fig)


def test_one_minute_band_stands_apart_from_the_next():
    from matplotlib.colors import to_rgb

    one, three = (np.array(to_rgb(c)) for c in plots.BAND_COLOURS[:2])
    # not two neighbours of one colour map (the old purple and teal were 0.35 apart)
    assert np.linalg.norm(one - three) > 0.7


def test_layout_labels_name_the_layouts_in_figures(tiny):
    loaded, net, _world = tiny
    base = loaded.scenario
    lay = base.layouts["two_posts"].model_copy(update={"label": "Two posts", "label_zh": "两个点位"})
    s = base.model_copy(update={"layouts": {**base.layouts, "two_posts": lay}})
    for lang, want in (("en", "Two posts"), ("zh", "两个点位")):
        fig, ax = plots.plot_compliance_bars(SUMMARY, s, LAYOUTS, lang=lang)
        names = [t.get_text() for t in ax.get_legend().get_texts()]
        assert want in names and "two_posts" not in names
        plots.close(fig)
    fig, _ = plots.plot_coverage_map(net, s, np.zeros(net.n_nodes), layout="two_posts")
    assert any("Two posts" in t for t in _texts(fig))
    plots.close(fig)


def test_small_network_map_is_not_mostly_white_space(tiny):
    loaded, net, world = tiny
    fig, ax = plots.plot_layout_map(net, loaded.scenario, [world.fleets[n] for n in LAYOUTS])
    fig.canvas.draw()
    w, h = fig.get_size_inches() * fig.dpi
    box = ax.get_window_extent()
    assert box.width * box.height / (w * h) > 0.3
    plots.close(fig)


def test_a_kept_layout_is_the_one_the_layout_engine_gives(tiny, tmp_path):
    """Coverage maps of two layouts: the second, given the first one's kept layout, has the axes
    where the constrained layout puts them when it lays that figure out itself."""
    from sim.viz import save

    loaded, net, world = tiny
    s = loaded.scenario

    def coverage(layout: str, times_s: np.ndarray):
        fleet = world.fleets[layout]
        return plots.plot_coverage_map(net, s, times_s, layout=layout, posts=fleet.post,
                                       node_zone=world.zones.zone, footer="run-x")[0]

    t0 = np.asarray(world.oracles["car"].from_node(int(world.fleets["two_posts"].post[0]))) + 30.0
    t1 = np.asarray(world.oracles["car"].from_node(int(world.fleets["one_post"].post[0]))) + 30.0
    key = ("test-kind", str(tmp_path))
    save.save_with_preview(coverage("two_posts", t0), tmp_path / "a", dpi=60, layout_key=key)
    fresh = coverage("one_post", t1)
    save.save_with_preview(fresh, tmp_path / "b", dpi=60, close_after=False)  # its own layout
    kept = coverage("one_post", t1)
    save.save_with_preview(kept, tmp_path / "c", dpi=60, close_after=False, layout_key=key)
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    assert isinstance(fresh.get_layout_engine(), ConstrainedLayoutEngine)
    assert not isinstance(kept.get_layout_engine(), ConstrainedLayoutEngine)  # laid out from the kept one
    for a, b in zip(fresh.axes, kept.axes, strict=True):
        assert np.allclose(a.get_position().bounds, b.get_position().bounds, atol=2e-3)
    assert np.allclose(fresh._supxlabel.get_position(), kept._supxlabel.get_position(), atol=2e-3)
    save.close(fresh)
    save.close(kept)


def test_forked_jobs_come_back_in_order_and_raise_what_they_raised():
    from sim.brief import forked

    jobs = [(lambda i=i: i * i) for i in range(6)]
    heard: list[int] = []
    assert forked.run_all(jobs, 2, lambda i, r: heard.append(i)) == [i * i for i in range(6)]
    assert sorted(heard) == list(range(6))

    def boom() -> None:
        raise ValueError("no figure")

    with pytest.raises(ValueError, match="no figure"):
        forked.run_all([*jobs[:4], boom], 2)
    with forked.in_background(lambda: 7) as job:
        assert job.result() == 7


def test_rivers_differ_from_every_time_band_and_are_in_the_coverage_legend(tiny):
    from matplotlib.colors import to_rgb

    from sim.viz.style import BAND_COLOURS, RIVER_COLOUR

    river = np.array(to_rgb(RIVER_COLOUR))
    for band in BAND_COLOURS:
        assert np.abs(river - np.array(to_rgb(band))).max() > 0.12, band
    import dataclasses

    loaded, net, world = tiny
    river = [(LON0 - 0.01, LAT0 + 0.001), (LON0 + 0.01, LAT0 + 0.001)]
    wet = dataclasses.replace(net, rivers={"River": river})
    fig, ax = plots.plot_coverage_map(wet, loaded.scenario, np.full(net.n_nodes, 100.0), layout=LAYOUTS[0],
                                      node_zone=world.zones.zone)
    labels = [t.get_text() for leg in ax.findobj(lambda a: hasattr(a, "get_texts")) for t in leg.get_texts()]
    assert i18n.tr("rivers", "en") in labels
    plots.close(fig)
