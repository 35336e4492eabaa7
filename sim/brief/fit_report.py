# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""The fit report: what ``run_sim.py fit`` and ``backtest`` found, as ``fit_report.json`` and a
self-contained ``fit_report.html`` (tables, and figures from :mod:`sim.viz.fit_plots` embedded as
PNG data URIs).

The JSON holds every number the HTML shows, plus the Q-Q points and the observed and modelled
travel times; the node weights of the spatial fit go to the fitted scenario's points file, not
here.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

from sim.fileio import atomic_write_text
from sim.quantities import format_speed

__all__ = ["fitted_report_path", "history_notes", "json_ready", "summary_lines",
           "write_backtest_report", "write_fit_report"]


def history_notes(folder: Path, scenario_file: Path, lang: str = "en") -> list[str]:
    """Lines for the brief's assumptions when a run replayed a call log (``replay.json`` in the
    results folder) or its scenario was fitted to one (``fit_report.json`` beside the scenario)."""
    out = []
    note = Path(folder) / "replay.json"
    if note.is_file():
        r = json.loads(note.read_text(encoding="utf-8"))
        share = f"{r['on_scene_from_log_share']:.0%}"
        out.append(
            f"这是一次回放：事件取自接警记录 {r['calls_file']}（{r['calls']} 起，{r['first_day']} 起共 "
            f"{r['days']:g} 天，{r['timezone']}）；{share} 的现场处置时间取自记录，其余按情景抽样。"
            if lang == "zh" else
            f"This run is a replay: the incidents are the {r['calls']} calls of the log {r['calls_file']} "
            f"over {r['days']:g} days from {r['first_day']} ({r['timezone']}); on-scene times come from "
            f"the log for {share} of them and are drawn from the scenario otherwise.")
    fit = scenario_file.parent / "fit_report.json" if scenario_file.name else None
    points = scenario_file.with_name(f"{scenario_file.stem}_points.csv") if scenario_file.name else None
    if fit is not None and points is not None and fit.is_file() and points.is_file():
        c = json.loads(fit.read_text(encoding="utf-8")).get("calls", {})
        html_path = fit.with_suffix(".html")
        out.append(
            f"需求、处置时间和道路速度按接警记录 {c.get('file')} 拟合（{c.get('accepted')} 起，"
            f"{c.get('first_call')} 至 {c.get('last_call')}）；拟合报告：{html_path}。"
            if lang == "zh" else
            f"Demand, times and road speeds are fitted to the call log {c.get('file')} "
            f"({c.get('accepted')} calls from {c.get('first_call')} to {c.get('last_call')}); "
            f"fit report: {html_path}.")
    return out


def fitted_report_path(scenario_file: Path) -> Path | None:
    """``fit_report.json`` beside a scenario that ``fit`` wrote (its points file is there too),
    else None."""
    if not scenario_file.name:
        return None
    path = scenario_file.parent / "fit_report.json"
    points = scenario_file.with_name(f"{scenario_file.stem}_points.csv")
    return path if path.is_file() and points.is_file() else None


def summary_lines(r: dict[str, Any], html_path: Path | str, lang: str = "en") -> list[str]:
    """The brief's bullets on a scenario fitted to a call log, from its fit report's JSON: the
    log, the arrival test, the on-scene families, and the travel-time error before and after
    calibration."""
    zh = lang == "zh"
    c, arr = r.get("calls", {}), r.get("arrivals", {})
    out = [(f"接警记录 {c.get('file')}：{c.get('rows')} 行，采用 {c.get('accepted')} 起，剔除 "
            f"{c.get('rejected_rows')} 行（{c.get('first_call')} 至 {c.get('last_call')}）。") if zh else
           (f"Call log {c.get('file')}: {c.get('rows')} rows, {c.get('accepted')} calls used, "
            f"{c.get('rejected_rows')} rows rejected ({c.get('first_call')} to {c.get('last_call')}).")]
    if arr:
        effect = bool(arr.get("day_of_week_effect"))
        out.append((f"日均 {arr['incidents_per_day']:.1f} 起；星期效应检验 G = {arr['g_statistic']:.1f}，"
                     f"p = {arr['p_value']:.3g}：" + ("显著，采用按周小时的分布。" if effect
                                                      else "不显著，采用 24 小时分布。")) if zh else
                   (f"{arr['incidents_per_day']:.1f} calls a day; day-of-week test G = "
                    f"{arr['g_statistic']:.1f}, p = {arr['p_value']:.3g}: "
                    + ("significant, so the hour-of-week profile is used." if effect
                       else "not significant, so the 24-hour profile is used.")))
    families = [f"{name} {f.get('chosen')}" for name, f in r.get("on_scene", {}).items()]
    if families:
        out.append(("现场处置时间分布（按 AIC 选择）：" if zh else
                    "On-scene time distributions (chosen by AIC): ") + "; ".join(families) + ".")
    err = r.get("travel", {}).get("errors", {}).get("all")
    if err and err["before"].get("n"):
        b, a = err["before"], err["after"]
        out.append((f"行驶时间校准（{b['n']} 起）：平均绝对误差 {b['mae_s']:.1f} 秒 → {a['mae_s']:.1f} 秒，"
                    f"偏差 {b['bias_s']:+.1f} 秒 → {a['bias_s']:+.1f} 秒。") if zh else
                   (f"Travel times calibrated on {b['n']} calls: mean absolute error {b['mae_s']:.1f} s "
                    f"-> {a['mae_s']:.1f} s, bias {b['bias_s']:+.1f} s -> {a['bias_s']:+.1f} s."))
    out.append(("完整拟合报告：" if zh else "The full fit report: ") + str(html_path))
    return out


def json_ready(report: dict[str, Any]) -> dict[str, Any]:
    """The report without arrays that belong elsewhere (node weights), NaN written as null."""
    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items() if k != "weights"}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if hasattr(v, "tolist"):
            return clean(v.tolist())
        return v
    out: dict[str, Any] = clean(report)
    return out


def _img(fig: Any) -> str:
    from sim.viz import plots

    data = base64.b64encode(plots.figure_png(fig, dpi=110)).decode("ascii")
    plots.close(fig)
    return f'<img src="data:image/png;base64,{data}" alt="">'


def _table(head: list[str], rows: list[list[Any]]) -> str:
    e = html.escape
    th = "".join(f"<th>{e(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{e(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.4g}"
    return str(v)


_STYLE = ("<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
          "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #bbb;"
          "padding:2px 8px;text-align:right}th{background:#eee}img{max-width:100%}</style>")


def _page(title: str, parts: list[str]) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-"
            f"Policy' content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
            f"<title>{html.escape(title)}</title>{_STYLE}</head><body><h1>{html.escape(title)}</h1>"
            + "\n".join(parts) + "</body></html>\n")


def write_fit_report(folder: Path, report: dict[str, Any], *, figures: bool = True) -> dict[str, Path]:
    """Write ``fit_report.json`` and ``fit_report.html`` into ``folder``; returns their paths."""
    from sim.viz import fit_plots

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clean = json_ready(report)
    atomic_write_text(folder / "fit_report.json", json.dumps(clean, indent=1, ensure_ascii=False))
    c, arr, travel = clean["calls"], clean["arrivals"], clean["travel"]
    parts = [f"<p>Call log <code>{html.escape(c['file'])}</code> (sha256 {c['sha256'][:16]}…, time zone "
             f"{html.escape(c['timezone'])}): {c['rows']} rows, {c['accepted']} calls accepted, "
             f"{c['rejected_rows']} rows rejected; calls from {c['first_call']} to {c['last_call']}.</p>"]
    if c["problems_by_reason"]:
        parts.append(_table(["problem", "rows"], [[k, v] for k, v in c["problems_by_reason"].items()]))
    parts.append("<h2>Arrivals</h2>")
    parts.append(f"<p>{arr['incidents_per_day']:.1f} calls a day. Day-of-week effect: G = "
                 f"{arr['g_statistic']:.1f} on {arr['df']} degrees of freedom, p = {arr['p_value']:.3g}: "
                 + ("significant, the hour-of-week profile is written." if arr["day_of_week_effect"]
                    else "not significant, the 24-hour profile is written.") + "</p>")
    if figures:
        parts.append(_img(fit_plots.plot_hour_of_week(arr)[0]))
    sp = clean["spatial"]
    parts.append(f"<h2>Where calls come from</h2><p>Calls per road-metre smoothed with a Gaussian "
                 f"kernel on {sp['cell_m']:g} m cells; bandwidth {sp['bandwidth_m']:g} m chosen by "
                 "5-fold cross-validation (held-out log-likelihood below); written as demand.points.</p>")
    parts.append(_table(["bandwidth (m)", "held-out log-likelihood"],
                        [[k, v] for k, v in sp["cv_loglik"].items()]))
    parts.append("<h2>Type mix and on-scene times</h2>")
    rows = []
    for name, f in clean["on_scene"].items():
        cands = f.get("candidates", {})
        rows.append([name, clean["type_counts"][name], clean["type_mix"][name], f["n"], f["chosen"],
                     f["spec"].get("mean"), f["spec"].get("cv"),
                     cands.get("lognormal", {}).get("aic"), cands.get("gamma", {}).get("aic"),
                     cands.get(f["chosen"], {}).get("ks_d"), cands.get(f["chosen"], {}).get("ks_p")])
    parts.append(_table(["type", "calls", "share", "on-scene times", "chosen", "mean", "cv",
                         "AIC lognormal", "AIC gamma", "KS D", "KS p"], rows))
    if figures:
        parts += [_img(fit_plots.plot_qq(f, name)[0]) for name, f in clean["on_scene"].items()]
    ch = clean["call_handling"]
    parts.append(f"<h2>Call handling</h2><p>{ch['n']} calls with a dispatch time: {ch['chosen']} "
                 f"{json.dumps(ch['spec'])}.</p>")
    if figures and ch.get("qq"):
        parts.append(_img(fit_plots.plot_qq(ch, "call handling")[0]))
    parts.append(_travel_section(travel, figures))
    out = {"json": folder / "fit_report.json", "html": folder / "fit_report.html"}
    atomic_write_text(out["html"], _page("Fit to the call log", parts))
    return out


def _travel_section(travel: dict[str, Any], figures: bool) -> str:
    from sim.viz import fit_plots

    parts = ["<h2>Travel times</h2>",
             f"<p>{travel['observations']} calls answered by a {html.escape(travel['unit_type'])} parked "
             f"at its post; set aside: {html.escape(json.dumps(travel['dropped']))}.</p>"]
    if travel["refused"]:
        parts.append("<p>Not fitted (kept from the scenario):</p>" + _table(
            ["road class / period", "why"], [[k, v] for k, v in travel["refused"].items()]))
    if "speeds" not in travel:
        return "\n".join(parts)
    parts.append(f"<p>Turnout {travel['turnout_s']:.1f} s.</p>")
    parts.append(_table(["road class", "speed", "factor on the scenario's speed"],
                        [[c, format_speed(v), travel["speed_factor"][c]]
                         for c, v in travel["speeds"].items()]))
    for p, f in travel["period_factors"].items():
        parts.append(f"<p>{html.escape(p)}: " + ", ".join(f"{c} {v:.3f}" for c, v in f.items()) + "</p>")
    err = travel["errors"]
    rows = [["all", *_err_cells(err["all"])]]
    rows += [[c, *_err_cells(v)] for c, v in err["by_class"].items()]
    rows += [[f"{int(h):02d}:00", *_err_cells(v)] for h, v in err["by_hour"].items()]
    parts.append(_table(["calls (main road class / hour)", "n", "MAE before (s)", "MAE after (s)",
                         "bias before (s)", "bias after (s)", "P90 before (s)", "P90 after (s)"], rows))
    if figures and travel.get("scatter"):
        parts.append(_img(fit_plots.plot_travel_scatter(travel["scatter"])[0]))
    return "\n".join(parts)


def _err_cells(v: dict[str, Any]) -> list[Any]:
    b, a = v["before"], v["after"]
    return [b["n"], b["mae_s"], a["mae_s"], b["bias_s"], a["bias_s"], b["p90_abs_s"], a["p90_abs_s"]]


def write_backtest_report(folder: Path, report: dict[str, Any], *, figures: bool = True) -> dict[str, Path]:
    """Write ``backtest_report.json`` and ``backtest_report.html`` into ``folder``."""
    from sim.viz import fit_plots

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clean = json_ready(report)
    atomic_write_text(folder / "backtest_report.json", json.dumps(clean, indent=1, ensure_ascii=False))
    parts = [f"<p>Trained on {clean['train'][0]} to {clean['train'][1]} ({clean['train_calls']} calls"
             f"{', refitted' if clean['refit'] else ', model as given'}); tested on {clean['test'][0]} "
             f"to {clean['test'][1]} ({clean['test_calls']} calls), {clean['replications']} simulated "
             f"replications of layout {html.escape(clean['layout'])}. Verdict: "
             f"<b>{clean['verdict']}</b>.</p>"]
    rows = [[g["priority"], g["zone"], g["n_observed"], g["n_simulated"], g["median_observed_s"],
             g["median_simulated_s"], g["p90_observed_s"], g["p90_simulated_s"], g["compliance_observed"],
             g["compliance_simulated"], g["ks_d"], g["ks_p"], g["verdict"]] for g in clean["groups"]]
    parts.append(_table(["priority", "zone", "observed", "simulated", "median obs (s)", "median sim (s)",
                         "P90 obs (s)", "P90 sim (s)", "compliance obs", "compliance sim", "KS D",
                         "KS p", "verdict"], rows))
    parts.append("<p>The KS test treats calls as independent; calls in one busy week are not, so "
                 "read small p-values in small groups with care.</p>")
    if figures:
        parts.append(_img(fit_plots.plot_backtest_cdf(clean["observed_response_s"],
                                                      clean["simulated_response_s"], "All calls")[0]))
    out = {"json": folder / "backtest_report.json", "html": folder / "backtest_report.html"}
    atomic_write_text(out["html"], _page("Backtest: does the model reproduce the log?", parts))
    return out
