# ruff: noqa: RUF001  (Chinese labels use full-width punctuation on purpose)
"""Figures of a fit to a call log (matplotlib): Q-Q plots (one, or a grid of them), observed
against modelled travel times, the hour-of-week profile and backtest response-time curves. Data
in, ``(fig, ax)`` out; labels in English (``lang="en"``) or Chinese (``"zh"``).

The inputs are the JSON-able dicts that ``sim.history`` writes into ``fit_report.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_backtest_cdf", "plot_hour_of_week", "plot_qq", "plot_qq_grid", "plot_travel_scatter"]

_BLUE, _ORANGE, _GREEN = "#0072B2", "#E69F00", "#009E73"

_TEXT: dict[str, tuple[Any, Any]] = {
    "not_fitted": ("not fitted: {why}", "未拟合：{why}"),
    "fitted_q": ("fitted quantile (min)", "拟合分位数（分钟）"),
    "observed_q": ("observed quantile (min)", "观测分位数（分钟）"),
    "qq_title": ("{title}: {chosen} (n = {n})", "{title}：{chosen}（n = {n}）"),
    "qq_grid": ("On-scene and call-handling times: observed against fitted quantiles",
                "现场处置与接警处理时间：观测分位数对拟合分位数"),
    "before": ("before (scenario speeds)", "校准前（情景速度）"),
    "after": ("after (calibrated)", "校准后"),
    "modelled_t": ("modelled dispatch to arrival (min)", "模型：派警至到场（分钟）"),
    "observed_t": ("observed dispatch to arrival (min)", "记录：派警至到场（分钟）"),
    "travel_title": ("Travel times: observed against modelled", "行驶时间：记录对模型"),
    "by_how": ("by hour of week", "按周小时"),
    "daily": ("24-hour profile", "24 小时分布"),
    "calls_h": ("calls per hour", "每小时警情数"),
    "sig": ("significant", "显著"),
    "not_sig": ("not significant", "不显著"),
    "how_title": ("Arrival rate: day-of-week effect {verdict} (G = {g:.0f}, df {df}, p = {p:.2g})",
                  "警情到达率：星期效应{verdict}（G = {g:.0f}，自由度 {df}，p = {p:.2g}）"),
    "days": (("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
             ("周一", "周二", "周三", "周四", "周五", "周六", "周日")),
    "observed": ("observed", "记录"),
    "simulated": ("simulated", "仿真"),
    "response": ("response time from the call (min)", "从接警起的响应时间（分钟）"),
    "share": ("share of calls", "警情比例"),
}


def _t(key: str, lang: str, **kw: Any) -> Any:
    text = _TEXT[key][1 if lang == "zh" else 0]
    return text.format(**kw) if kw else text


def _ax(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    if ax is None:
        fig, ax = plt.subplots(figsize=size, layout="constrained")
        return fig, ax
    return ax.figure, ax


def plot_qq(fit: dict[str, Any], title: str, *, ax: Any = None, lang: str = "en") -> tuple[Any, Any]:
    """Sample quantiles against each fitted distribution's (minutes), with the line y = x."""
    fig, ax = _ax(ax, (4.2, 4.0))
    qq = fit.get("qq")
    if not qq:
        ax.text(0.5, 0.5, _t("not_fitted", lang, why=fit.get("reason", "")), ha="center",
                transform=ax.transAxes, wrap=True)
        ax.set_title(title)
        return fig, ax
    sample = np.asarray(qq["sample_s"]) / 60.0
    for name, colour in (("lognormal", _BLUE), ("gamma", _ORANGE)):
        c = fit["candidates"][name]
        ax.plot(np.asarray(qq[f"{name}_s"]) / 60.0, sample, ".", color=colour, ms=3,
                label=f"{name} (AIC {c['aic']:.0f}, KS p {c['ks_p']:.2g})")
    top = float(max(sample.max(), 1e-9))
    ax.plot([0, top], [0, top], color="0.4", lw=0.8)
    ax.set_xlabel(_t("fitted_q", lang))
    ax.set_ylabel(_t("observed_q", lang))
    ax.set_title(_t("qq_title", lang, title=title, chosen=fit["chosen"], n=fit["n"]))
    ax.legend(fontsize=7, loc="upper left")
    return fig, ax


def plot_qq_grid(fits: dict[str, dict[str, Any]], *, lang: str = "en", footer: str = ""
                 ) -> tuple[Any, Any]:
    """:func:`plot_qq` for several fits (title -> fit) side by side, up to four a row."""
    n = max(1, len(fits))
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.1 * rows + 0.6), layout="constrained",
                             squeeze=False)
    flat = axes.ravel()
    for ax, (title, fit) in zip(flat, fits.items(), strict=False):
        plot_qq(fit, title, ax=ax, lang=lang)
        ax.title.set_fontsize(9)
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)
        if ax.get_legend() is not None:
            ax.legend(fontsize=6, loc="upper left")
    for ax in flat[len(fits):]:
        ax.set_axis_off()
    fig.suptitle(_t("qq_grid", lang), fontsize=11)
    if footer:
        fig.supxlabel(footer, fontsize=6, color="0.4")
    return fig, axes


def plot_travel_scatter(scatter: dict[str, Sequence[float]], *, ax: Any = None, lang: str = "en",
                        footer: str = "") -> tuple[Any, Any]:
    """Observed against modelled travel time (min), before and after calibration."""
    fig, ax = _ax(ax, (5.0, 4.6))
    obs = np.asarray(scatter["observed_s"]) / 60.0
    ax.plot(np.asarray(scatter["before_s"]) / 60.0, obs, ".", ms=2, alpha=0.4, color=_ORANGE,
            label=_t("before", lang))
    ax.plot(np.asarray(scatter["after_s"]) / 60.0, obs, ".", ms=2, alpha=0.4, color=_BLUE,
            label=_t("after", lang))
    top = float(max(obs.max(), 1e-9)) if len(obs) else 1.0
    ax.plot([0, top], [0, top], color="0.3", lw=0.8)
    ax.set_xlabel(_t("modelled_t", lang))
    ax.set_ylabel(_t("observed_t", lang))
    ax.set_title(_t("travel_title", lang))
    ax.legend(fontsize=8, markerscale=4)
    if footer:
        fig.supxlabel(footer, fontsize=6, color="0.4")
    return fig, ax


def plot_hour_of_week(arrivals: dict[str, Any], *, ax: Any = None, lang: str = "en",
                      footer: str = "") -> tuple[Any, Any]:
    """Calls per hour by hour of the week, with the 24-hour profile repeated."""
    fig, ax = _ax(ax, (8.0, 3.0))
    weekly = np.asarray(arrivals["weekly_rate"])
    daily = np.tile(np.asarray(arrivals["hourly_rate"]), 7)
    hours = np.arange(168)
    ax.step(hours, weekly, where="post", color=_BLUE, lw=1, label=_t("by_how", lang))
    ax.step(hours, daily, where="post", color=_ORANGE, lw=1, label=_t("daily", lang))
    ax.set_xticks(np.arange(0, 168, 24), list(_t("days", lang)))
    ax.set_ylabel(_t("calls_h", lang))
    verdict = _t("sig" if arrivals["day_of_week_effect"] else "not_sig", lang)
    ax.set_title(_t("how_title", lang, verdict=verdict, g=arrivals["g_statistic"], df=arrivals["df"],
                    p=arrivals["p_value"]))
    ax.legend(fontsize=8)
    if footer:
        fig.supxlabel(footer, fontsize=6, color="0.4")
    return fig, ax


def plot_backtest_cdf(observed_s: Sequence[float], simulated_s: Sequence[float], title: str, *,
                      ax: Any = None, lang: str = "en") -> tuple[Any, Any]:
    """Empirical distribution functions of observed and simulated response times (min)."""
    fig, ax = _ax(ax, (5.0, 3.6))
    for data, colour, label in ((observed_s, _GREEN, _t("observed", lang)),
                                (simulated_s, _BLUE, _t("simulated", lang))):
        x = np.sort(np.asarray(data, dtype=float)) / 60.0
        if len(x):
            ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", color=colour, label=label)
    ax.set_xlabel(_t("response", lang))
    ax.set_ylabel(_t("share", lang))
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig, ax
