"""Policy brief from a results folder: figures, a self-contained HTML report and a PDF brief.

``run_sim.py report RESULTS_DIR [--lang zh|en] [--format html,pdf]`` reads what a run wrote
(``records.csv``, ``summary.csv``, ``replications.csv``, ``manifest.json``,
``scenario.resolved.yaml``) and writes into the same folder:

- the figures of :mod:`sim.viz.plots` as PNG (200 dpi), SVG and PDF (``<name>.png``; ``<name>_zh.png``
  in Chinese);
- ``report_<lang>.html``: one file, figures embedded as PNG data URIs, no external request (a
  content security policy forbids them), Chinese text in an embedded subset of the CJK font;
- ``report_<lang>.pdf``: the same brief as a multi-page PDF.

Nothing is simulated. The maps need the road network, which is loaded through
:func:`sim.study.experiment.load_world` (the on-disk cache, keyed by checksum) and, for the coverage map,
shortest driving times from the posts (one Dijkstra per post). Every number in the findings, the
table and the figure labels is read from ``summary.csv``; the paired difference intervals come from
``replications.csv``. matplotlib is only used through :mod:`sim.viz.plots`.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import io
import json
import math
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis.metrics import mean_ci
from sim.fileio import sha256_file
from sim.i18n import LANGS, minutes, pct, pp, tr, zone_name
from sim.network.graph import RoadNetwork
from sim.network.load import NetworkSourceError
from sim.scenario import PRIORITIES, ZONE_CLASSES, LoadedScenario, Scenario, ScenarioError, load_scenario
from sim.types import OUTCOMES, RecordTable
from sim.viz import plots
from sim.world.prepare import World

__all__ = [
    "FORMATS",
    "ReportError",
    "Results",
    "assumptions",
    "compliance_table",
    "findings",
    "load_results",
    "read_records_csv",
    "read_table_csv",
    "write_report",
]

FORMATS = ("html", "pdf")
FIGURE_FORMATS = ("png", "svg", "pdf")
HTML_DPI = 130
"""Resolution of the figures embedded in the HTML report (the PNG files have 200 dpi)."""

_CODED = ("layout", "zone", "incident_type", "priority", "unit", "unit_type", "platform", "outcome")
_FIXED_LOOKUPS = {"zone": ZONE_CLASSES, "priority": PRIORITIES, "outcome": OUTCOMES}
_NEEDED = ("layout", "replication", "call_s", "dispatch_s", "assign_s", "arrival_s", "clear_s", "node",
           "zone", "unit", "target_met", "counted")
_INT_TYPES = {"replication": np.int32, "incident": np.int64, "node": np.int64, "osmid": np.int64,
              "key_location": np.int32, "queued": np.int8, "target_met": np.int8, "counted": np.int8}
_REQUIRED = ("manifest.json", "summary.csv", "replications.csv", "records.csv", "scenario.resolved.yaml")


class ReportError(Exception):
    """A results folder that cannot be reported on (missing or altered files)."""


# ---------------------------------------------------------------------------------------------
# reading a results folder


def read_records_csv(path: Path | str) -> RecordTable:
    """Read ``records.csv`` back into a :class:`RecordTable` (the inverse of ``RecordTable.to_csv``).

    Columns are taken by their header, so a file from an older or newer version of the record
    still reads. String columns (layout, zone, unit, ...) become integer codes with a lookup:
    zone, priority and outcome in their fixed orders, the others in order of first appearance;
    an empty string is code -1. Whole-number columns become integers, the rest floats (an empty
    time is NaN).
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ReportError(f"{path}: empty file; expected a header row")
        raw = list(zip(*reader, strict=True)) or [() for _ in header]
    missing = [name for name in _NEEDED if name not in header]
    if missing:
        raise ReportError(f"{path}: missing column(s) {', '.join(missing)}")
    columns: dict[str, np.ndarray] = {}
    lookups: dict[str, tuple[str, ...]] = {}
    for name, values in zip(header, raw, strict=True):
        text = np.asarray(values, dtype=str)
        kind = "coded" if name in _CODED else _column_kind(text)
        if kind == "coded":
            known = list(_FIXED_LOOKUPS.get(name, ()))
            seen = dict.fromkeys(known)
            seen.update(dict.fromkeys(v for v in values if v != ""))
            known = list(seen)
            index = {v: i for i, v in enumerate(known)}
            index[""] = -1
            columns[name] = np.array([index[v] for v in values], dtype=np.int32)
            lookups[name] = tuple(known)
        elif kind == "int":
            columns[name] = text.astype(np.int64).astype(_INT_TYPES.get(name, np.int64))
        else:
            columns[name] = np.where(text == "", "nan", text).astype(float)
    return RecordTable(columns=columns, lookups=lookups)


def _column_kind(text: np.ndarray) -> str:
    if text.size == 0:
        return "float"
    if np.all(np.char.isdigit(np.char.lstrip(text, "-"))):
        return "int"
    try:
        np.where(text == "", "nan", text).astype(float)
    except ValueError:
        return "coded"
    return "float"


def read_table_csv(path: Path | str) -> list[dict[str, Any]]:
    """Read ``summary.csv`` or ``replications.csv``: ``layout`` and ``zone`` as text, every other
    column as a float (empty is NaN)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows.append({k: (v if k in ("layout", "zone") else (float(v) if v != "" else math.nan))
                         for k, v in row.items()})
    return rows


@dataclass
class Results:
    """A results folder read back: the files a run wrote and the scenario as run."""

    folder: Path
    manifest: dict[str, Any]
    summary: list[dict[str, Any]]
    replications: list[dict[str, Any]]
    records: RecordTable
    loaded: LoadedScenario
    display: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scenario(self) -> Scenario:
        return self.loaded.scenario

    @property
    def layouts(self) -> list[str]:
        return list(self.manifest["layouts"])

    @property
    def baseline(self) -> str:
        return str(self.manifest.get("baseline") or self.layouts[0])

    @property
    def others(self) -> list[str]:
        return [name for name in self.layouts if name != self.baseline]

    @property
    def replications_n(self) -> int:
        return int(self.manifest["replications"])

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", self.folder.name.removesuffix(".partial")))

    def row(self, layout: str, zone: str) -> dict[str, Any]:
        for r in self.summary:
            if r["layout"] == layout and r["zone"] == zone:
                return r
        raise ReportError(f"summary.csv has no row for layout {layout!r}, zone {zone!r}")


def load_results(folder: Path | str) -> Results:
    """Read a results folder and check records.csv against the manifest's checksum.

    The scenario is read from ``scenario.resolved.yaml`` (it holds the command-line overrides);
    relative paths in it are taken from the original scenario file's folder, as in the run.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such results folder")
    missing = [name for name in _REQUIRED if not (folder / name).is_file()]
    if missing:
        raise ReportError(f"{folder}: not a complete results folder (missing {', '.join(missing)}); "
                          "'run_sim.py run' writes one")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    want = manifest.get("records_sha256")
    if want and sha256_file(folder / "records.csv") != want:
        raise ReportError(f"{folder / 'records.csv'}: does not match the checksum in manifest.json; "
                          "the folder was changed after the run")
    loaded = load_scenario(folder / "scenario.resolved.yaml")
    original = Path(manifest.get("inputs", {}).get("scenario_file", ""))
    if original.name and original.parent.is_dir():
        loaded = dataclasses.replace(loaded, path=original)
    records = read_records_csv(folder / "records.csv")
    display = str(folder).removesuffix(".partial")
    return Results(folder=folder, manifest=manifest, summary=read_table_csv(folder / "summary.csv"),
                   replications=read_table_csv(folder / "replications.csv"), records=records,
                   loaded=loaded, display=display)


# ---------------------------------------------------------------------------------------------
# text from the numbers


def paired_difference(results: Results, a: str, b: str, zone: str, metric: str = "compliance"
                      ) -> tuple[float, float]:
    """Mean of B - A over replications (paired: same incidents) and its 95% CI half-width."""
    by_rep: dict[tuple[str, float], float] = {}
    for r in results.replications:
        if r["zone"] == zone and r["layout"] in (a, b):
            by_rep[(r["layout"], r["replication"])] = r[metric]
    reps = sorted({rep for (_, rep) in by_rep})
    diffs = [by_rep[(b, rep)] - by_rep[(a, rep)] for rep in reps if (a, rep) in by_rep and (b, rep) in by_rep]
    m, _, hi = mean_ci(diffs)
    return m, (hi - m) if not math.isnan(hi) else math.nan


def _target(results: Results, zone: str, lang: str) -> str:
    return minutes(results.scenario.zones.targets[zone], lang)


def _half(v: float, lang: str) -> str:
    return tr("n_a", lang) if math.isnan(v) else pp(v, sign=False)


def _change(results: Results, a: str, b: str, zone: str, lang: str, best: bool) -> str:
    ra, rb = results.row(a, zone), results.row(b, zone)
    if math.isnan(ra["compliance"]) or math.isnan(rb["compliance"]):
        return ""
    diff = rb["compliance"] - ra["compliance"]
    _, half = paired_difference(results, a, b, zone)
    same = not math.isnan(half) and abs(diff) <= half
    key = "f.same" if same else ("f.change_best" if best else "f.change")
    return tr(key, lang, a=a, b=b, verb=tr("f.verb.up" if diff >= 0 else "f.verb.down", lang),
              target=_target(results, zone, lang), where=tr(f"f.where.{zone}", lang),
              where_cap=tr(f"f.where_cap.{zone}", lang),
              a_val=pct(ra["compliance"], lang), b_val=pct(rb["compliance"], lang),
              diff=pp(diff), half=_half(half, lang))


def findings(results: Results, lang: str = "en") -> list[str]:
    """Three to five sentences with the key numbers, every share as it is in summary.csv.

    One layout: its overall compliance, its hardest target, response time and utilisation. One
    alternative B to the baseline A: B against A in each zone class, response time, the hardest
    target. Several alternatives: each one's overall compliance against A, the best alternative
    in each zone class against A, and the response time of the best one overall.
    """
    a = results.baseline
    others = results.others
    out: list[str] = []
    if not others:
        r = results.row(a, "all")
        out.append(tr("f.overall", lang, layout=a, value=pct(r["compliance"], lang),
                      lo=pct(r["compliance_ci_low"], lang), hi=pct(r["compliance_ci_high"], lang)))
        out.append(_hardest(results, a, lang))
        out.append(tr("f.response_one", lang, min=minutes(r["response_mean_s"], lang),
                      util=pct(r["utilisation"], lang)))
        return [s for s in out if s]
    several = len(others) > 1
    if several:
        items = []
        for b in others:
            diff = results.row(b, "all")["compliance"] - results.row(a, "all")["compliance"]
            _, half = paired_difference(results, a, b, "all")
            items.append(tr("f.item", lang, b=b, value=pct(results.row(b, "all")["compliance"], lang),
                            diff=pp(diff), half=_half(half, lang)))
        out.append(tr("f.overall_list", lang, a=a, a_val=pct(results.row(a, "all")["compliance"], lang),
                      items=tr("list_sep", lang).join(items)))
    for zone in ("central", "key", "other"):
        candidates = [(results.row(b, zone)["compliance"], -i, b) for i, b in enumerate(others)
                      if not math.isnan(results.row(b, zone)["compliance"])]
        if candidates:
            out.append(_change(results, a, max(candidates)[2], zone, lang, best=several))
    best_all = max(others, key=lambda b: (results.row(b, "all")["compliance"], -others.index(b)))
    ra, rb = results.row(a, "all"), results.row(best_all, "all")
    out.append(tr("f.response", lang, a=a, b=best_all, a_min=minutes(ra["response_mean_s"], lang),
                  b_min=minutes(rb["response_mean_s"], lang), a_util=pct(ra["utilisation"], lang),
                  b_util=pct(rb["utilisation"], lang)))
    if not several:
        out.append(_hardest(results, others[0], lang))
    return [s for s in out if s][:5]


def _hardest(results: Results, layout: str, lang: str) -> str:
    zones = [(results.row(layout, z)["compliance"], z) for z in ZONE_CLASSES
             if not math.isnan(results.row(layout, z)["compliance"])]
    if not zones:
        return ""
    value, zone = min(zones)
    return tr("f.hardest", lang, layout=layout, value=pct(value, lang),
              zone_target=tr("zone_target", lang, zone=zone_name(zone, lang),
                             target=_target(results, zone, lang)))


def _count(v: float) -> str:
    if math.isnan(v):
        return ""
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.1f}"


def compliance_table(results: Results, lang: str = "en") -> tuple[list[str], list[list[str]], str]:
    """Headers, rows (one per layout and zone class, values from summary.csv) and a note."""
    headers = [tr(f"col.{k}", lang) for k in ("layout", "zone", "target", "incidents", "compliance",
                                             "ci", "mean", "p90", "util")]
    rows = []
    for layout in results.layouts:
        for i, zone in enumerate((*ZONE_CLASSES, "all")):
            r = results.row(layout, zone)
            lo, hi = r["compliance_ci_low"], r["compliance_ci_high"]
            ci = tr("n_a", lang) if math.isnan(lo) else f"{pct(lo, lang)} – {pct(hi, lang)}"  # noqa: RUF001
            rows.append([layout if i == 0 else "", zone_name(zone, lang),
                         _target(results, zone, lang) if zone in ZONE_CLASSES else "",
                         _count(r["incidents"]), pct(r["compliance"], lang), ci,
                         minutes(r["response_mean_s"], lang), minutes(r["response_p90_s"], lang),
                         pct(r["utilisation"], lang)])
    clock = tr(f"clock.{results.scenario.zones.clock}", lang)
    return headers, rows, tr("table_note", lang, reps=results.replications_n, clock=clock)


def _units_text(scenario: Scenario, layout: str, lang: str) -> tuple[int, str]:
    counts: dict[str, int] = {}
    platforms = scenario.layouts[layout].platforms
    for p in platforms:
        for utype, n in p.units.items():
            counts[utype] = counts.get(utype, 0) + n
    parts = []
    for utype, n in counts.items():
        ut = scenario.unit_types[utype]
        parts.append(tr("a.unit", lang, n=n, label=ut.label or utype,
                        turnout=minutes(ut.turnout, lang) if ut.turnout >= 60 else f"{ut.turnout:g} s"))
    return len(platforms), tr("list_sep", lang).join(parts)


def assumptions(results: Results, lang: str = "en", goal: float | None = 0.9) -> list[str]:
    """The assumptions behind the numbers: network, demand, staffing, clock, run length."""
    s, m = results.scenario, results.manifest
    speeds = s.network.speeds
    shown = [f"{c} {speeds[c] * 3.6:g} km/h" for c in ("primary", "residential") if c in speeds]
    shown = shown or [f"default {speeds['default'] * 3.6:g} km/h"]
    net = m.get("network", {})
    out = [tr("a.network", lang, source=m.get("inputs", {}).get("network_source", s.network.source),
              nodes=f"{net.get('nodes', 0):,}", edges=f"{net.get('edges', 0):,}",
              speeds=tr("list_sep", lang).join(shown))]
    if s.network.source == "synthetic":
        out.append(tr("a.synthetic", lang))
    prof = s.demand.hourly_profile
    hot = sum(h.share for h in s.demand.hotspots)
    out.append(tr("a.demand", lang, per_day=f"{s.demand.incidents_per_day:g}",
                  peak=int(np.argmax(prof)), hot=pct(hot, lang, 0), n_hot=len(s.demand.hotspots)))
    for layout in results.layouts:
        posts, units = _units_text(s, layout, lang)
        out.append(tr("a.staffing", lang, layout=layout, posts=posts, units=units))
    out.append(tr("a.clock", lang, clock=tr(f"clock.{s.zones.clock}", lang),
                  handling=minutes(s.call_handling.mean, lang)))
    out.append(tr("a.run", lang, days=f"{(s.run.duration - s.run.warmup) / 86400:g}",
                  warmup=f"{s.run.warmup / 86400:g}", reps=results.replications_n, seed=m.get("seed")))
    if goal is not None:
        out.append(tr("a.goal", lang, goal=pct(goal, lang, 0)))
    out.append(tr("a.not_modelled", lang))
    from sim.brief.fit_report import history_notes

    out.extend(history_notes(results.folder, Path(m.get("inputs", {}).get("scenario_file", "")), lang))
    return out


def reproduce(results: Results, lang: str, formats: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(explanation, command or checksum lines) pairs for the "how to reproduce" section."""
    m = results.manifest
    s = results.scenario
    cmd = "python " + " ".join(shlex.quote(str(c)) for c in m.get("command", []))
    explicit = ["python", "run_sim.py", "run", str(m.get("inputs", {}).get("scenario_file", ""))]
    for layout in results.layouts:
        explicit += ["--layout", layout]
    explicit += ["--days", f"{s.run.duration / 86400:g}", "--reps", str(results.replications_n),
                 "--seed", str(m.get("seed"))]
    report = ["python", "run_sim.py", "report", results.display, "--lang", lang,
              "--format", ",".join(formats)]
    inputs = m.get("inputs", {})
    sums = [f"{tr('r.scenario_sha', lang)}: {inputs.get('scenario_sha256', '')}",
            f"{tr('r.network_sha', lang)}: {inputs.get('network_input_sha256', '')}",
            f"{tr('r.records_sha', lang)}: {m.get('records_sha256', '')}"]
    return [(tr("r.command", lang), [cmd]),
            (tr("r.explicit", lang), [" ".join(shlex.quote(x) for x in explicit)]),
            (tr("r.report", lang), [" ".join(shlex.quote(x) for x in report)]),
            (tr("r.checksums", lang), sums)]


def _versions(results: Results) -> str:
    v = results.manifest.get("versions", {})
    keys = ("police-rapid-response-sim", "python", "simpy", "numpy", "scipy", "osmnx", "matplotlib")
    return ", ".join(f"{k} {v[k]}" for k in keys if k in v)


# ---------------------------------------------------------------------------------------------
# figures


@dataclass
class Figure:
    """A figure of the report: its name, title and files, and the open matplotlib figure."""

    name: str
    title: str
    files: list[Path]
    fig: Any = None


def _node_times(world: World, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Per node: fastest turnout + driving time (s) from the layout's posts, and which post
    (platform index) gets there first. One Dijkstra per post and unit type (cached by the oracle)."""
    fleet = world.fleets[layout]
    n_plat = len(fleet.platform_names)
    per_plat = np.full((n_plat, world.net.n_nodes), np.inf)
    dispatchable = getattr(fleet, "dispatchable", None)  # volunteers are never dispatched
    seen: set[tuple[int, int, str]] = set()
    for u, (plat, post, utype, turnout) in enumerate(zip(fleet.platform, fleet.post, fleet.unit_type,
                                                          fleet.turnout_s, strict=True)):
        if dispatchable is not None and not dispatchable[u]:
            continue
        key = (int(plat), int(post), utype)
        if key in seen:
            continue
        seen.add(key)
        t = turnout + world.oracles[utype].from_node(int(post))
        per_plat[plat] = np.minimum(per_plat[plat], t)
    return per_plat.min(axis=0), per_plat.argmin(axis=0)


def _cell_km(net: RoadNetwork) -> float:
    span = max(float(np.ptp(net.x)), float(np.ptp(net.y))) / 1000.0
    raw = span / 18.0
    for v in (0.05, 0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0):
        if v >= raw:
            return v
    return 5.0


def _file_name(name: str, lang: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in name)
    return safe if lang == "en" else f"{safe}_{lang}"


def build_figures(results: Results, lang: str, *, net: RoadNetwork | None, world: World | None,
                  goal: float | None, formats: Sequence[str] = FIGURE_FORMATS,
                  keep_open: bool = False, dpi: int = 200) -> list[Figure]:
    """Draw every figure of the report, save each in ``formats`` into the results folder, and
    return them (still open if ``keep_open``, for the PDF brief)."""
    s = results.scenario
    footer = plots.source_line(s.name, results.run_id, results.replications_n, lang)
    figs: list[Figure] = []

    def keep(name: str, title: str, made: tuple[Any, Any]) -> None:
        fig = made[0]
        files = plots.save_figure(fig, results.folder / _file_name(name, lang), formats, dpi=dpi,
                                  close_after=not keep_open)
        figs.append(Figure(name, title, files, fig if keep_open else None))

    layouts = results.layouts
    have_maps = net is not None and world is not None
    times = {}
    if have_maps:
        assert net is not None and world is not None
        times = {name: _node_times(world, name) for name in layouts}
        area_layout = results.others[0] if results.others else layouts[0]
        keep("layout_map", tr("fig.layout_map", lang),
             plots.plot_layout_map(net, s, [world.fleets[n] for n in layouts], areas=times[area_layout][1],
                                   areas_layout=area_layout, lang=lang, footer=footer))
    keep("compliance_bars", tr("fig.bars", lang),
         plots.plot_compliance_bars(results.summary, s, layouts, goal=goal, lang=lang, footer=footer))
    keep("response_times", tr("fig.cdf", lang),
         plots.plot_response_cdf(results.records, s, layouts, summary=results.summary, lang=lang,
                                 footer=footer))
    if have_maps:
        assert net is not None and world is not None
        cell = _cell_km(net)
        for b in results.others:
            keep(f"difference_{b}", tr("fig.difference", lang, a=results.baseline, b=b),
                 plots.plot_difference_map(net, s, results.records, results.baseline, b, cell_km=cell,
                                           lang=lang, footer=footer))
        for name in layouts:
            keep(f"compliance_map_{name}", tr("fig.compliance_map", lang, layout=name),
                 plots.plot_compliance_map(net, s, results.records, name, summary=results.summary,
                                           cell_km=cell, lang=lang, footer=footer))
        for name in layouts:
            keep(f"coverage_{name}", tr("fig.coverage", lang, layout=name),
                 plots.plot_coverage_map(net, s, times[name][0], layout=name,
                                         posts=world.fleets[name].platform_nodes,
                                         node_zone=world.zones.zone, lang=lang, footer=footer))
    profiles = {name: plots.hourly_profile(results.records, name, n_units=_on_duty(s, world, name),
                                           replications=results.replications_n,
                                           warmup_s=s.run.warmup, horizon_s=s.run.duration)
                for name in layouts}
    keep("by_hour", tr("fig.hours", lang),
         plots.plot_by_hour(profiles, s, summary=results.summary, patrol=_presence_by_hour(results),
                            lang=lang, footer=footer))
    return figs


def _presence_by_hour(results: Results) -> dict[str, np.ndarray] | None:
    """Police presence at key locations by hour of day (``presence_by_hour.csv``, if the run
    measured it): layout -> 24 shares. None when there is no such data."""
    path = results.folder / "presence_by_hour.csv"
    if not path.is_file():
        return None
    out: dict[str, np.ndarray] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("kind") != "key" or row.get("layout") not in results.layouts:
                continue
            try:
                hour, value = int(row["hour"]), float(row["police_presence"])
            except (KeyError, TypeError, ValueError):
                continue
            if 0 <= hour < 24:
                out.setdefault(row["layout"], np.full(24, np.nan))[hour] = value
    return out or None


def _on_duty(s: Scenario, world: World | None, layout: str) -> float | np.ndarray:
    """Mean number of units taking dispatches in each hour of day (from the fleet's duty minutes
    when the world is loaded), else the layout's unit count."""
    fleet = world.fleets.get(layout) if world is not None else None
    if fleet is not None:
        disp = np.asarray(getattr(fleet, "dispatchable", np.ones(len(fleet), dtype=bool)))
        off = getattr(fleet, "off_air", None)
        if off is not None and np.ndim(off) == 2 and off.shape[0] == 1440:
            on = ~np.asarray(off, dtype=bool)[:, disp]
            return on.reshape(24, 60, -1).mean(axis=1).sum(axis=1)
        return float(disp.sum())
    return float(sum(sum(p.units.values()) for p in s.layouts[layout].platforms))


# ---------------------------------------------------------------------------------------------
# HTML


_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
        "base-uri 'none'; form-action 'none'")

_CSS = """
body{margin:0;background:#f4f4f2;color:#1a1a1a;font:16px/1.55 "ReportCJK",-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif}
main{max-width:1040px;margin:0 auto;padding:28px 36px 48px;background:#fff}
h1{font-size:1.8em;margin:0 0 .2em}h2{font-size:1.3em;margin:1.6em 0 .5em;border-bottom:2px solid #0072B2;
padding-bottom:.15em}.sub{color:#555;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:.86em}th,td{padding:.3em .5em;text-align:left;
border-bottom:1px solid #ddd;vertical-align:top}th{background:#eef3f8}
tbody tr.first td{border-top:2px solid #999}
td.num{text-align:right;white-space:nowrap}.note{color:#555;font-size:.85em}
figure{margin:1.4em 0;page-break-inside:avoid}figure img{width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.9em;color:#333;margin-top:.3em}
pre{background:#f6f6f6;padding:.6em .8em;overflow-x:auto;font-size:.8em;white-space:pre-wrap;
word-break:break-all}
ul.findings li{margin-bottom:.4em}footer{margin-top:2em;color:#666;font-size:.8em}
"""


def _font_face(text: str) -> str:
    """An @font-face rule with the CJK font cut down to the characters in ``text`` (WOFF, base64)."""
    chars = {ch for ch in text if ord(ch) > 0x2E7F}
    if not chars:
        return ""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = plots.cjk_font()
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # keep the licence and copyright notices
    options.notdef_outline = True
    buf = io.BytesIO()
    with TTFont(font.path, fontNumber=font.index, lazy=False) as tt:
        sub = subset.Subsetter(options)
        sub.populate(text="".join(sorted(chars)))
        sub.subset(tt)
        tt.flavor = "woff"
        tt.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return ('@font-face{font-family:"ReportCJK";font-display:block;'
            f'src:url(data:font/woff;base64,{data}) format("woff")}}')


def _html(results: Results, lang: str, sections: dict[str, Any], figures: list[Figure]) -> str:
    e = html.escape
    parts = [f"<h1>{e(sections['title'])}</h1>", f"<p class=sub>{e(sections['subtitle'])}</p>",
             f"<h2>{e(tr('h.question', lang))}</h2>", f"<p>{e(sections['question'])}</p>",
             f"<h2>{e(tr('h.findings', lang))}</h2>", "<ul class=findings>"]
    parts += [f"<li>{e(s)}</li>" for s in sections["findings"]]
    parts.append("</ul>")
    headers, rows, note = sections["table"]
    parts.append(f"<h2>{e(tr('h.table', lang))}</h2><table><thead><tr>")
    parts += [f"<th>{e(h)}</th>" for h in headers]
    parts.append("</tr></thead><tbody>")
    for row in rows:
        cls = " class=first" if row[0] else ""
        cells = "".join(f"<td{' class=num' if i >= 3 else ''}>{e(c)}</td>" for i, c in enumerate(row))
        parts.append(f"<tr{cls}>{cells}</tr>")
    parts.append(f"</tbody></table><p class=note>{e(note)}</p>")
    parts.append(f"<h2>{e(tr('h.figures', lang))}</h2>")
    if sections.get("no_maps"):
        parts.append(f"<p class=note>{e(sections['no_maps'])}</p>")
    for i, f in enumerate(figures, 1):
        data = base64.b64encode(plots.figure_png(f.fig, dpi=HTML_DPI)).decode("ascii")
        caption = tr("figure_n", lang, n=i, title=f.title)
        others = ", ".join(p.name for p in f.files)
        parts.append(f'<figure id="{e(f.name)}"><img src="data:image/png;base64,{data}" alt="{e(caption)}">'
                     f"<figcaption>{e(caption)} <span class=note>({e(others)})</span></figcaption></figure>")
    parts.append(f"<h2>{e(tr('h.assumptions', lang))}</h2><ul>")
    parts += [f"<li>{e(a)}</li>" for a in sections["assumptions"]]
    parts.append(f"</ul><h2>{e(tr('h.reproduce', lang))}</h2>")
    for label, lines in sections["reproduce"]:
        parts.append(f"<p>{e(label)}</p><pre>{e(chr(10).join(lines))}</pre>")
    parts.append(f"<p class=note>{e(sections['versions'])}</p>")
    parts.append(f"<footer>{e(sections['generated'])}</footer>")
    body = "\n".join(parts)
    text = "".join(p for p in parts if "data:image" not in p)  # every text of the page, no images
    font_face = _font_face(text + sections["title"] + results.scenario.title
                           + "".join(tr("figure_n", lang, n=i, title=f.title)
                                     for i, f in enumerate(figures, 1)))
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(sections['title'])}: {e(results.scenario.title or results.scenario.name)}</title>\n"
            f"<style>{font_face}{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


# ---------------------------------------------------------------------------------------------
# the report


def _sections(results: Results, lang: str, goal: float | None, formats: Sequence[str],
              no_maps: str) -> dict[str, Any]:
    s = results.scenario
    sep = tr("list_sep", lang)
    if results.others:
        question = tr("question", lang, layouts=sep.join(results.layouts), baseline=results.baseline,
                      n_b=sep.join(results.others))
    else:
        question = tr("question_one", lang, layout=results.baseline)
    generated = tr("generated", lang, date=str(results.manifest.get("finished_utc", "")),
                   folder=results.display)
    return {
        "title": tr("report_title", lang),
        "subtitle": tr("report_subtitle", lang, title=s.title or s.name, run_id=results.run_id),
        "question": question,
        "findings": findings(results, lang),
        "table": compliance_table(results, lang),
        "assumptions": assumptions(results, lang, goal),
        "reproduce": reproduce(results, lang, formats),
        "versions": tr("r.versions", lang, versions=_versions(results)),
        "generated": generated,
        "no_maps": no_maps,
    }


def _text_blocks(sections: dict[str, Any], lang: str) -> list[tuple[str, Any]]:
    blocks: list[tuple[str, Any]] = [
        ("title", sections["title"]), ("subtitle", sections["subtitle"]),
        ("heading", tr("h.question", lang)), ("para", sections["question"]),
        ("heading", tr("h.findings", lang)), ("bullets", sections["findings"]),
        ("heading", tr("h.table", lang)), ("table", sections["table"]),
        ("heading", tr("h.assumptions", lang)), ("bullets", sections["assumptions"]),
        ("heading", tr("h.reproduce", lang)),
    ]
    for label, lines in sections["reproduce"]:
        blocks += [("para", label), ("code", lines)]
    blocks.append(("para", sections["versions"]))
    if sections.get("no_maps"):
        blocks.append(("para", sections["no_maps"]))
    blocks.append(("para", sections["generated"]))
    return blocks


def write_report(folder: Path | str, *, lang: str = "en", formats: Sequence[str] = FORMATS,
                 cache_dir: Path | None = None, net: RoadNetwork | None = None,
                 world: World | None = None, goal: float | None = 0.9,
                 figure_formats: Sequence[str] = FIGURE_FORMATS,
                 progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write the figures and the report (``formats``: html, pdf) of a results folder; return the
    files written. ``net`` and ``world`` may be passed when already loaded (as at the end of a run);
    otherwise they are loaded from the network cache, and if that fails the maps are left out."""
    if lang not in LANGS:
        raise ReportError(f"unknown language {lang!r}; choose one of {', '.join(LANGS)}")
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ReportError(f"unknown report format {bad[0]!r}; choose from {', '.join(FORMATS)}")
    t0 = time.perf_counter()
    results = load_results(folder)
    no_maps = ""
    if net is None or world is None:
        from sim.study.experiment import load_world

        try:
            net, world = load_world(results.loaded, cache_dir, progress=progress)
        except (ScenarioError, NetworkSourceError) as exc:
            net = world = None
            no_maps = tr("no_maps", lang, reason=str(exc))
            if progress:
                progress(no_maps)
    with plots.many_figures():
        return _write(results, lang, formats, net, world, goal, figure_formats, no_maps, progress, t0)


def _write(results: Results, lang: str, formats: Sequence[str], net: RoadNetwork | None,
           world: World | None, goal: float | None, figure_formats: Sequence[str], no_maps: str,
           progress: Callable[[str], None] | None, t0: float) -> list[Path]:
    figures = build_figures(results, lang, net=net, world=world, goal=goal, formats=figure_formats,
                            keep_open=True)
    try:
        sections = _sections(results, lang, goal, formats, no_maps)
        written = [p for f in figures for p in f.files]
        if "html" in formats:
            path = results.folder / f"report_{lang}.html"
            path.write_text(_html(results, lang, sections, figures), encoding="utf-8")
            written.append(path)
        if "pdf" in formats:
            path = results.folder / f"report_{lang}.pdf"
            footer = plots.source_line(results.scenario.name, results.run_id, results.replications_n,
                                       lang)
            pages = plots.text_pages(_text_blocks(sections, lang), lang=lang, footer=footer)
            plots.write_pdf(path, [*pages, *(f.fig for f in figures)], title=sections["title"],
                            close_after=False)
            for page in pages:
                plots.close(page)
            written.append(path)
    finally:
        for f in figures:
            plots.close(f.fig)
    if progress:
        progress(f"report ({lang}): {len(figures)} figures, {', '.join(formats)} in "
                 f"{time.perf_counter() - t0:.1f} s")
    return written


def report_after_run(folder: Path | str, *, net: RoadNetwork, world: World, lang: str = "en",
                     progress: Callable[[str], None] | None = None) -> list[Path]:
    """The end of ``run_sim.py run``: write the report into the (unfinished) results folder, then
    add the time it took to the manifest and refresh the manifest's file checksums."""
    t0 = time.perf_counter()
    written = write_report(folder, lang=lang, net=net, world=world, progress=progress)
    manifest_path = Path(folder) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    runtime = manifest.setdefault("runtime_s", {})
    runtime["plots_s"] = round(time.perf_counter() - t0, 3)
    if "total_s" in runtime:
        runtime["total_s"] = round(runtime["total_s"] + runtime["plots_s"], 3)
    if "files" in manifest:
        from sim.study.folder import file_checksums

        manifest["files"] = file_checksums(Path(folder))
    tmp = manifest_path.with_name(manifest_path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(manifest_path)
    return written


# ---------------------------------------------------------------------------------------------
# command line: run_sim.py report RESULTS_DIR [--lang zh|en] [--format html,pdf]


def _formats_arg(text: str) -> tuple[str, ...]:
    import argparse

    out = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in out if f not in FORMATS]
    if not out or bad:
        raise argparse.ArgumentTypeError(f"formats are html and/or pdf, comma-separated; got {text!r}")
    return out


def _share_arg(text: str) -> float:
    import argparse

    try:
        v = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share such as 0.9 or 90%, got {text!r}") from None
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"the goal must be a share in (0, 1], got {text!r}")
    return v


def register(sub: Any) -> None:
    """Add the ``report`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "report", help="write the figures and a policy brief (HTML, PDF) from a results folder",
        description="Write the figures (PNG, SVG, PDF) and a policy brief from a results folder, in "
                    "English or Chinese: a self-contained HTML file and a multi-page PDF. Nothing is "
                    "simulated; maps load the road network from the cache.")
    p.add_argument("results", type=Path, help="a results folder (results/<scenario>/<run-id>)")
    p.add_argument("--lang", choices=LANGS, default="en", help="language of every label (default en)")
    p.add_argument("--format", type=_formats_arg, default=FORMATS, metavar="html,pdf",
                   help="report formats, comma-separated (default: html,pdf)")
    p.add_argument("--goal", type=_share_arg, default=0.9,
                   help="share of incidents within target drawn as the goal line (default 0.9)")
    p.add_argument("--cache-dir", type=Path, default=None, help="network cache folder")
    p.set_defaults(handler=_cmd_report)


def _cmd_report(args: Any) -> int:
    import sys

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        written = write_report(args.results, lang=args.lang, formats=args.format,
                               cache_dir=args.cache_dir, goal=args.goal, progress=say)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        if path.name.startswith("report_"):
            print(path)
    return 0
