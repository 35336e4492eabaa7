"""Figures of a fit to a call log (matplotlib): Q-Q plots, observed against modelled travel times,
the hour-of-week profile and backtest response-time curves. Data in, ``(fig, ax)`` out.

The inputs are the JSON-able dicts that ``sim.history`` writes into ``fit_report.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_backtest_cdf", "plot_hour_of_week", "plot_qq", "plot_travel_scatter"]

_BLUE, _ORANGE, _GREEN = "#0072B2", "#E69F00", "#009E73"


def _ax(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    if ax is None:
        fig, ax = plt.subplots(figsize=size, layout="constrained")
        return fig, ax
    return ax.figure, ax


def plot_qq(fit: dict[str, Any], title: str, *, ax: Any = None) -> tuple[Any, Any]:
    """Sample quantiles against each fitted distribution's (minutes), with the line y = x."""
    fig, ax = _ax(ax, (4.2, 4.0))
    qq = fit.get("qq")
    if not qq:
        ax.text(0.5, 0.5, f"not fitted: {fit.get('reason', '')}", ha="center", transform=ax.transAxes)
        ax.set_title(title)
        return fig, ax
    sample = np.asarray(qq["sample_s"]) / 60.0
    for name, colour in (("lognormal", _BLUE), ("gamma", _ORANGE)):
        c = fit["candidates"][name]
        ax.plot(np.asarray(qq[f"{name}_s"]) / 60.0, sample, ".", color=colour, ms=3,
                label=f"{name} (AIC {c['aic']:.0f}, KS p {c['ks_p']:.2g})")
    top = float(max(sample.max(), 1e-9))
    ax.plot([0, top], [0, top], color="0.4", lw=0.8)
    ax.set_xlabel("fitted quantile (min)")
    ax.set_ylabel("observed quantile (min)")
    ax.set_title(f"{title}: {fit['chosen']} (n = {fit['n']})")
    ax.legend(fontsize=7, loc="upper left")
    return fig, ax


def plot_travel_scatter(scatter: dict[str, Sequence[float]], *, ax: Any = None) -> tuple[Any, Any]:
    """Observed against modelled travel time (min), before and after calibration."""
    fig, ax = _ax(ax, (5.0, 4.6))
    obs = np.asarray(scatter["observed_s"]) / 60.0
    ax.plot(np.asarray(scatter["before_s"]) / 60.0, obs, ".", ms=2, alpha=0.4, color=_ORANGE,
            label="before (scenario speeds)")
    ax.plot(np.asarray(scatter["after_s"]) / 60.0, obs, ".", ms=2, alpha=0.4, color=_BLUE,
            label="after (calibrated)")
    top = float(max(obs.max(), 1e-9)) if len(obs) else 1.0
    ax.plot([0, top], [0, top], color="0.3", lw=0.8)
    ax.set_xlabel("modelled dispatch to arrival (min)")
    ax.set_ylabel("observed dispatch to arrival (min)")
    ax.set_title("Travel times: observed against modelled")
    ax.legend(fontsize=8, markerscale=4)
    return fig, ax


def plot_hour_of_week(arrivals: dict[str, Any], *, ax: Any = None) -> tuple[Any, Any]:
    """Calls per hour by hour of the week, with the 24-hour profile repeated."""
    fig, ax = _ax(ax, (8.0, 3.0))
    weekly = np.asarray(arrivals["weekly_rate"])
    daily = np.tile(np.asarray(arrivals["hourly_rate"]), 7)
    hours = np.arange(168)
    ax.step(hours, weekly, where="post", color=_BLUE, lw=1, label="by hour of week")
    ax.step(hours, daily, where="post", color=_ORANGE, lw=1, label="24-hour profile")
    ax.set_xticks(np.arange(0, 168, 24), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_ylabel("calls per hour")
    verdict = "significant" if arrivals["day_of_week_effect"] else "not significant"
    ax.set_title(f"Arrival rate: day-of-week effect {verdict} (G = {arrivals['g_statistic']:.0f}, "
                 f"df {arrivals['df']}, p = {arrivals['p_value']:.2g})")
    ax.legend(fontsize=8)
    return fig, ax


def plot_backtest_cdf(observed_s: Sequence[float], simulated_s: Sequence[float], title: str, *,
                      ax: Any = None) -> tuple[Any, Any]:
    """Empirical distribution functions of observed and simulated response times (min)."""
    fig, ax = _ax(ax, (5.0, 3.6))
    for data, colour, label in ((observed_s, _GREEN, "observed"), (simulated_s, _BLUE, "simulated")):
        x = np.sort(np.asarray(data, dtype=float)) / 60.0
        if len(x):
            ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", color=colour, label=label)
    ax.set_xlabel("response time from the call (min)")
    ax.set_ylabel("share of calls")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig, ax
