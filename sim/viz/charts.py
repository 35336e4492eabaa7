"""The charts of a results folder; each takes data and an optional ``ax`` and returns ``(fig, ax)``.

5. :func:`plot_response_cdf`: response-time curves per zone class;
6. :func:`plot_compliance_bars`: compliance per layout and zone class with 95% CIs;
7. :func:`plot_by_hour`: incidents, compliance and utilisation by hour of day.

Layouts are shown by their ``label``/``label_zh``, in the Okabe-Ito colours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed

import matplotlib.pyplot as plt
import numpy as np

from sim.analysis.cells import zone_targets
from sim.analysis.hourly import target_clock_times
from sim.i18n import layout_name, minutes, pct, scenario_title, tr, zone_name
from sim.scenario import ZONE_CLASSES, Scenario
from sim.types import RecordTable
from sim.viz.fonts import cjk_font
from sim.viz.style import BAND_EDGES_S, OKABE_ITO, add_footer, join_notes, new_ax, summary_row

__all__ = ["plot_by_hour", "plot_compliance_bars", "plot_response_cdf"]

_LABEL_BOX = {"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.9}


def plot_response_cdf(records: RecordTable, scenario: Scenario, layouts: Sequence[str], *,
                      summary: Sequence[dict[str, Any]] | None = None, lang: str = "en",
                      ax: Any = None, footer: str = "") -> tuple[Any, Any]:
    """Cumulative share of incidents reached within t, one panel per zone class, one line per layout.

    The x axis uses the scenario's target clock; every panel marks the 1, 3 and 5 minute targets
    and draws its own zone's target bold. With ``summary``, the legend gives each layout's share
    within target from it (mean over replications); else the share of the pooled incidents.
    """
    clock = scenario.zones.clock
    if ax is None:
        cjk_font()
        fig, axes = plt.subplots(1, 3, figsize=(13, 5.4), sharey=True, layout="constrained")
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    c = records.columns
    elapsed = target_clock_times(records, clock) / 60.0
    layout_names = records.lookups["layout"]
    counted = c["counted"] == 1
    targets = zone_targets(scenario)
    marks = sorted({*BAND_EDGES_S, *targets.values()})
    for zi, zone in enumerate(ZONE_CLASSES):
        a = axes[zi]
        target_s = targets[zone]
        target_min = target_s / 60.0
        for k, layout in enumerate(layouts):
            if layout not in layout_names:
                continue
            code = layout_names.index(layout)
            sel = counted & (c["layout"] == code) & (c["zone"] == zi) & (c["target_met"] >= 0)
            t = np.sort(np.where(np.isnan(elapsed[sel]), np.inf, elapsed[sel]))
            if t.size == 0:
                continue
            share = np.arange(1, t.size + 1) / t.size * 100.0
            row = summary_row(summary, layout, zone)
            met = row["compliance"] if row is not None else float(np.mean(c["target_met"][sel] == 1))
            finite = np.isfinite(t)
            a.step(np.concatenate(([0.0], t[finite])), np.concatenate(([0.0], share[finite])),
                   where="post", color=OKABE_ITO[k % 8], lw=2,
                   label=tr("cdf_line", lang, layout=layout_name(scenario, layout, lang),
                            value=pct(met, lang), target=minutes(target_s, lang)))
        for m in marks:
            own = abs(m - target_s) < 1e-9
            a.axvline(m / 60.0, color="black" if own else "0.55", ls="--" if own else ":",
                      lw=1.4 if own else 0.9, zorder=1)
        a.set_xlim(0, max(10.0, 3 * target_min))
        top = a.secondary_xaxis("top")
        top.set_xticks([m / 60.0 for m in marks], [minutes(m, lang) for m in marks], fontsize=7.5)
        for m, lab in zip(marks, top.get_xticklabels(), strict=True):
            if abs(m - target_s) < 1e-9:
                lab.set_fontweight("bold")
            else:
                lab.set_color("0.35")
        a.set_ylim(0, 100)
        a.set_title(tr("zone_target", lang, zone=zone_name(zone, lang),
                       target=minutes(target_s, lang)), fontsize=10)
        a.set_xlabel(tr("cdf_x_call" if clock == "call" else "cdf_x_dispatch", lang))
        a.grid(alpha=0.3)
        a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=7.5, frameon=False)
    axes[0].set_ylabel(tr("cdf_y", lang))
    fig.suptitle(tr("cdf_title", lang, title=scenario_title(scenario, lang)), fontsize=12)
    add_footer(fig, join_notes(tr("cdf_note", lang) if summary is not None else "", footer))
    return fig, axes




def plot_compliance_bars(summary: Sequence[dict[str, Any]], scenario: Scenario,
                         layouts: Sequence[str], *, goal: float | None = 0.9, lang: str = "en",
                         ax: Any = None, footer: str = "") -> tuple[Any, Any]:
    """Compliance per zone class (groups) and layout (bars), with 95% CI whiskers from ``summary``
    (rows with ``layout``, ``zone``, ``compliance``, ``compliance_ci_low``, ``compliance_ci_high``),
    each bar labelled with its value, and a dashed line at ``goal`` (a share) if given."""
    fig, ax = new_ax(ax, (11, 5.6))
    zones = [*ZONE_CLASSES, "all"]
    n = max(1, len(layouts))
    width = 0.8 / n
    for k, layout in enumerate(layouts):
        xs, vals, lo, hi = [], [], [], []
        for zi, zone in enumerate(zones):
            row = summary_row(summary, layout, zone)
            if row is None or row["compliance"] is None or math.isnan(row["compliance"]):
                continue
            m = row["compliance"]
            lo_v, hi_v = row.get("compliance_ci_low"), row.get("compliance_ci_high")
            xs.append(zi - 0.4 + width * (k + 0.5))
            vals.append(m * 100)
            lo.append(0.0 if lo_v is None or math.isnan(lo_v) else (m - lo_v) * 100)
            hi.append(0.0 if hi_v is None or math.isnan(hi_v) else (hi_v - m) * 100)
        bars = ax.bar(xs, vals, width=width * 0.92, color=OKABE_ITO[k % 8],
                      label=layout_name(scenario, layout, lang), zorder=2,
                      yerr=[lo, hi], capsize=4, error_kw={"elinewidth": 1.2, "ecolor": "0.15"})
        for b, v, h in zip(bars, vals, hi, strict=True):
            # on a white box above the goal line, so that the line never strikes through a value
            ax.text(b.get_x() + b.get_width() / 2, v + h + 1.2, f"{v:.1f}%", ha="center",
                    va="bottom", fontsize=7.5 if n <= 3 else 6.5, zorder=4, bbox=_LABEL_BOX)
    if goal is not None:
        ax.axhline(goal * 100, color="black", ls="--", lw=1.2, zorder=1,
                   label=tr("bars_goal", lang, goal=pct(goal, lang, 0)))
    ax.set_xticks(range(len(zones)), [
        tr("zone_target", lang, zone=zone_name(z, lang), target=minutes(scenario.zones.targets[z], lang))
        if z in scenario.zones.targets else zone_name(z, lang) for z in zones], fontsize=9)
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel(tr("bars_y", lang))
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncols=min(3, n + 1), fontsize=8.5,
              frameon=False)
    ax.set_title(tr("bars_title", lang), fontsize=12)
    add_footer(fig, join_notes(tr("bars_note", lang), footer))
    return fig, ax



def plot_by_hour(profiles: dict[str, dict[str, np.ndarray]], scenario: Scenario, *,
                 summary: Sequence[dict[str, Any]] | None = None,
                 patrol: dict[str, np.ndarray] | None = None, min_incidents: int = 5,
                 lang: str = "en", ax: Any = None, footer: str = "") -> tuple[Any, Any]:
    """Incidents, compliance and unit utilisation by hour of day, one line per layout.

    ``profiles`` maps layout -> :func:`hourly_profile`. With ``summary`` each layout's day-average
    utilisation (summary.csv, zone ``all``) is drawn as a dotted line. A panel of the share of
    units on patrol is added only if ``patrol`` (layout -> 24 shares) is given. Hours with fewer
    than ``min_incidents`` incidents are left out of the compliance line.
    """
    rows = 4 if patrol else 3
    if ax is None:
        cjk_font()
        fig, axes = plt.subplots(rows, 1, figsize=(11, 2.5 * rows + 1.2), sharex=True,
                                 layout="constrained", height_ratios=[0.7] + [1.0] * (rows - 1))
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    hours = np.arange(24) + 0.5
    layouts = list(profiles)
    first = profiles[layouts[0]] if layouts else None
    if first is not None:
        axes[0].bar(hours, first["incidents_per_day"], width=0.85, color="0.7", zorder=2)
    axes[0].set_ylabel(tr("hour_calls", lang))
    handles: list[Any] = []
    averages: list[Any] = []  # the day-average lines, at ``day_means`` (shares)
    day_means: list[float] = []
    for k, layout in enumerate(layouts):
        prof = profiles[layout]
        colour = OKABE_ITO[k % 8]
        comp = np.where(prof["known"] >= min_incidents, prof["compliance"] * 100, np.nan)
        name = layout_name(scenario, layout, lang)
        line = axes[1].plot(hours, comp, marker="o", ms=3.5, color=colour, lw=1.8, label=name)[0]
        handles.append(line)
        axes[2].plot(hours, prof["utilisation"] * 100, marker="o", ms=3.5, color=colour, lw=1.8)
        row = summary_row(summary, layout, "all")
        if row is not None and not math.isnan(row["utilisation"]):
            day_means.append(row["utilisation"])
            averages.append(axes[2].axhline(
                row["utilisation"] * 100, color=colour, ls=":", lw=1.4,
                label=tr("hour_util_mean", lang, layout=name, value=pct(row["utilisation"], lang))))
        if patrol and layout in patrol:
            axes[3].plot(hours, np.asarray(patrol[layout]) * 100, marker="o", ms=3.5, color=colour,
                         lw=1.8)
    axes[1].set_ylabel(tr("hour_compliance", lang))
    axes[1].set_ylim(0, 105)
    axes[2].set_ylabel(tr("hour_util", lang))
    # the scale holds every hourly point and every day-average line drawn
    top = max([float(np.nanmax(p["utilisation"])) for p in profiles.values()
               if np.isfinite(p["utilisation"]).any()] + day_means or [0.1])
    axes[2].set_ylim(0, min(105.0, max(5.0, top * 100 * 1.2)))
    if patrol:
        axes[3].set_ylabel(tr("hour_patrol", lang))
        axes[3].set_ylim(0, 105)
    if handles:
        # one row per layout: its line, then its day average (the columns fill top to bottom)
        paired = len(averages) == len(handles)
        ncols = 2 if paired else (1 if averages else min(3, len(handles)))
        axes[0].legend(handles=handles + averages, loc="lower center", bbox_to_anchor=(0.5, 1.02),
                       fontsize=8, ncols=ncols, frameon=False)
    for a in axes:
        a.grid(alpha=0.3)
    axes[-1].set_xlim(0, 24)
    axes[-1].set_xticks(range(0, 25, 2))
    axes[-1].set_xlabel(tr("hour_x", lang))
    fig.suptitle(tr("hour_title", lang, title=scenario_title(scenario, lang)), fontsize=12)
    add_footer(fig, join_notes(tr("hour_note", lang), footer))
    return fig, axes


