"""Duration distributions fitted to observed times: lognormal and gamma by maximum likelihood.

The better of the two by AIC is kept unless the Kolmogorov-Smirnov test rejects it (p below
``ALPHA``); then the empirical distribution (its quantiles) is written instead. With fewer than
``MIN_SAMPLES`` observations nothing is fitted and the scenario's distribution is kept.
Durations are seconds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from sim.quantities import format_duration

__all__ = ["ALPHA", "MIN_SAMPLES", "fit_duration"]

ALPHA = 0.01
MIN_SAMPLES = 30
EMPIRICAL_POINTS = 101


def _lognormal(x: np.ndarray) -> tuple[Any, dict[str, float], float]:
    logs = np.log(x)
    mu, sigma = float(logs.mean()), float(logs.std())
    dist = stats.lognorm(s=sigma, scale=math.exp(mu))
    mean = math.exp(mu + sigma * sigma / 2)
    cv = math.sqrt(math.expm1(sigma * sigma))
    return dist, {"mean_s": mean, "cv": cv, "mu": mu, "sigma": sigma}, float(dist.logpdf(x).sum())


def _gamma(x: np.ndarray) -> tuple[Any, dict[str, float], float]:
    shape, _, scale = stats.gamma.fit(x, floc=0.0)
    dist = stats.gamma(shape, scale=scale)
    return dist, {"mean_s": shape * scale, "cv": 1.0 / math.sqrt(shape), "shape": shape,
                  "scale_s": scale}, float(dist.logpdf(x).sum())


def fit_duration(x: np.ndarray, prior: dict[str, Any]) -> dict[str, Any]:
    """Fit ``x`` (durations, s; non-positive and non-finite values are dropped).

    Returns a JSON-able dict: ``spec`` (the scenario's distribution mapping to write), ``chosen``
    (lognormal, gamma, empirical or prior), the candidates with parameters, log-likelihood, AIC,
    KS statistic and p-value, and Q-Q points (sample vs fitted quantiles) for the figure.
    """
    x = np.asarray(x, dtype=float)
    x = np.sort(x[np.isfinite(x) & (x > 0)])
    out: dict[str, Any] = {"n": len(x)}
    if len(x) < MIN_SAMPLES:
        out.update(chosen="prior", spec=prior, reason=f"fewer than {MIN_SAMPLES} observations")
        return out
    cands: dict[str, dict[str, Any]] = {}
    dists = {}
    for name, fitter in (("lognormal", _lognormal), ("gamma", _gamma)):
        dist, params, ll = fitter(x)
        ks = stats.kstest(x, dist.cdf)
        cands[name] = {"params": params, "loglik": ll, "aic": 4.0 - 2.0 * ll,
                       "ks_d": float(ks.statistic), "ks_p": float(ks.pvalue)}
        dists[name] = dist
    best = min(cands, key=lambda k: cands[k]["aic"])
    probs = (np.arange(1, 100) - 0.5) / 99
    out["qq"] = {"probability": probs.tolist(), "sample_s": np.quantile(x, probs).tolist(),
                 **{f"{k}_s": dists[k].ppf(probs).tolist() for k in dists}}
    out["candidates"] = cands
    out["sample_mean_s"] = float(x.mean())
    if cands[best]["ks_p"] < ALPHA:
        q = np.quantile(x, np.linspace(0.0, 1.0, EMPIRICAL_POINTS))
        out.update(chosen="empirical", reason=f"KS rejects both (p < {ALPHA:g})", spec={
            "distribution": "empirical", "mean": format_duration(round(float(x.mean()), 1)),
            "quantiles": [format_duration(round(float(v), 1)) for v in q]})
        return out
    p = cands[best]["params"]
    out.update(chosen=best, spec={"distribution": best, "mean": format_duration(round(p["mean_s"], 1)),
                                  "cv": round(p["cv"], 4)})
    return out
