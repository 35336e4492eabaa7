"""Calibrate travel: a speed factor per road class and congestion period, and the turnout time.

Observations are calls whose log has a dispatch and an arrival time, a responding unit whose post
is known (``<platform>/...`` in the unit name, or a ``platform`` column) and that was parked
there: its previous job in the log cleared long enough before (the modelled drive back, times
``RETURN_MARGIN``, plus a minute) or it had none. The observed time ``arrival - dispatch`` is
modelled as

    turnout + sum over road classes c of  theta[c, p] * T0[c]

where ``T0[c]`` is the time (s) spent on class ``c`` along the fastest route from the post, at the
scenario's free-flow speeds, and ``p`` is the congestion period of the dispatch minute. The route
depends on the speeds, so routes and fit are iterated. The fit is a robust linear regression
(Huber loss, by iteratively reweighted least squares): free-flow calls give the turnout and
``theta[c, 0]`` (speed ``v_c / theta``), then each period's calls give ``theta[c, p]`` with the
turnout held (period factor ``theta[c, 0] / theta[c, p]``). A class with fewer than
``MIN_OBS`` calls that spend at least ``MIN_SHARE`` of their route on it is not fitted and keeps
the scenario's value; the report names it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from sim.history.calls import CallLog
from sim.network.oracle import edge_times
from sim.world.prepare import World

__all__ = ["MIN_OBS", "calibrate_travel", "huber_fit", "parked_observations"]

MIN_OBS = 40
MIN_SHARE = 0.1
RETURN_MARGIN = 1.5
HUBER_K = 1.345
ITERATIONS = 3


def huber_fit(x: np.ndarray, y: np.ndarray, *, k: float = HUBER_K, iters: int = 100) -> np.ndarray:
    """Coefficients ``b`` minimising the Huber loss of ``y - x @ b`` (IRLS, scale by the MAD)."""
    b = np.linalg.lstsq(x, y, rcond=None)[0]
    for _ in range(iters):
        r = y - x @ b
        scale = 1.4826 * float(np.median(np.abs(r - np.median(r)))) or 1e-9
        u = np.abs(r) / scale
        w = np.where(u <= k, 1.0, k / np.maximum(u, 1e-12))
        sw = np.sqrt(w)
        nb = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)[0]
        if np.allclose(nb, b, rtol=1e-7, atol=1e-9):
            return np.asarray(nb)
        b = nb
    return np.asarray(b)


def parked_observations(log: CallLog, world: World, layout: str, unit_type: str) -> dict[str, Any]:
    """The calls usable for calibration: ``index`` into the log, ``post`` node, observed ``travel``
    (s), dispatch ``period``; and how many calls were set aside and why (``dropped``)."""
    fleet = world.fleets[layout]
    post_of = dict(zip(fleet.platform_names, fleet.platform_nodes.tolist(), strict=True))
    oracle = world.oracles[unit_type]
    names = np.where(log.platform != "", log.platform,
                     np.array([u.split("/")[0] for u in log.unit], dtype=object))
    has = ~np.isnan(log.dispatch_epoch) & ~np.isnan(log.arrival_epoch)
    order = np.argsort(np.where(has, log.dispatch_epoch, np.inf), kind="stable")
    last: dict[str, tuple[float, int]] = {}  # unit -> (clear epoch, node) of its previous job
    index, post, travel = [], [], []
    dropped = {"no dispatch or arrival time": int((~has).sum()), "post unknown": 0,
               "not parked at its post": 0}
    for i in order:
        if not has[i]:
            continue
        unit, node = str(log.unit[i]), int(log.node[i])
        p = post_of.get(str(names[i]))
        prev = last.get(unit)
        clear = log.clear_epoch[i]
        last[unit] = (float(clear) if np.isfinite(clear) else np.inf, node)
        if p is None:
            dropped["post unknown"] += 1
            continue
        if prev is not None:
            back = float(oracle.to_node(p)[0][prev[1]])
            if prev[0] + RETURN_MARGIN * back + 60.0 > log.dispatch_epoch[i]:
                dropped["not parked at its post"] += 1
                continue
        index.append(int(i))
        post.append(p)
        travel.append(float(log.arrival_epoch[i] - log.dispatch_epoch[i]))
    idx = np.array(index, dtype=np.int64)
    minute = log.dispatch_minute[idx]
    return {"index": idx, "post": np.array(post, dtype=np.int64), "travel": np.array(travel),
            "period": world.period_of_minute[minute] if len(idx) else np.zeros(0, dtype=np.int64),
            "dropped": dropped}


def _class_times(world: World, base: np.ndarray, theta_edge: np.ndarray, posts: np.ndarray,
                 ) -> dict[int, np.ndarray]:
    """For each post: ``[node, class]`` base time (s) on each class along the fastest route from the
    post when edge times are ``base * theta_edge``."""
    net = world.net
    t = base * theta_edge
    ok = np.isfinite(t)
    eu, ev, et, eb = net.edge_u[ok], net.edge_v[ok], t[ok], base[ok]
    ec = net.edge_class[ok]
    order = np.lexsort((et, ev, eu))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (eu[order][1:] != eu[order][:-1]) | (ev[order][1:] != ev[order][:-1])
    keep = order[first]
    n, k = net.n_nodes, len(net.classes)
    graph = csr_matrix((et[keep], (eu[keep], ev[keep])), shape=(n, n))
    edge_of = csr_matrix((np.arange(1, len(keep) + 1), (eu[keep], ev[keep])), shape=(n, n))
    out = {}
    for p in np.unique(posts):
        dist, pred = dijkstra(graph, directed=True, indices=int(p), return_predecessors=True)
        reach = np.flatnonzero(np.isfinite(dist))
        seq = reach[np.argsort(dist[reach], kind="stable")]
        tree = np.zeros((n, k))
        pr = pred[seq]
        e = np.asarray(edge_of[np.maximum(pr, 0), seq]).ravel() - 1
        for v, u, j in zip(seq.tolist(), pr.tolist(), e.tolist(), strict=True):
            if u < 0:
                continue
            tree[v] = tree[u]
            tree[v, ec[keep[j]]] += eb[keep[j]]
        out[int(p)] = tree
    return out


def _metrics(err: np.ndarray) -> dict[str, float]:
    if len(err) == 0:
        return {"n": 0, "mae_s": float("nan"), "bias_s": float("nan"), "p90_abs_s": float("nan")}
    return {"n": len(err), "mae_s": float(np.mean(np.abs(err))), "bias_s": float(np.mean(err)),
            "p90_abs_s": float(np.quantile(np.abs(err), 0.9))}


def calibrate_travel(log: CallLog, world: World, layout: str, unit_type: str) -> dict[str, Any]:
    """Fit turnout and speed factors (see the module docstring); a JSON-able report.

    ``speeds`` (road class -> fitted free-flow speed, m/s), ``period_factors`` (period name -> road
    class -> factor), ``turnout_s``, ``refused`` (class and period -> reason), and errors before
    and after by road class and hour of day, with the observed and modelled times for a scatter.
    """
    s, net = world.scenario, world.net
    ut = s.unit_types[unit_type]
    obs = parked_observations(log, world, layout, unit_type)
    base = edge_times(net, s.network.speeds, factor=ut.speed_factor, cap=ut.max_speed)
    if ut.access != "walk" and net.edge_walk_only is not None:
        base = np.where(net.edge_walk_only, np.inf, base)
    classes = net.classes
    n_cls, periods = len(classes), world.n_periods
    y, posts, per = obs["travel"], obs["post"], obs["period"]
    nodes = log.node[obs["index"]]
    report: dict[str, Any] = {"observations": len(y), "dropped": obs["dropped"], "unit_type": unit_type,
                              "layout": layout, "refused": {}}
    if len(y) < MIN_OBS:
        report["refused"]["all"] = f"only {len(y)} usable calls (need {MIN_OBS})"
        return report
    theta = np.ones((periods, n_cls))
    prior_factor = np.ones((periods, n_cls))
    for pi, period in enumerate(s.congestion.periods, start=1):
        for c, name in enumerate(classes):
            f = period.speed_factor.get(name, period.speed_factor["default"])
            prior_factor[pi, c] = 1.0 - ut.congestion_sensitivity * (1.0 - f)
    theta[1:] = 1.0 / prior_factor[1:]
    turnout = float(ut.turnout)
    fitted = np.zeros((periods, n_cls), dtype=bool)
    t0 = np.zeros((len(y), n_cls))
    for _ in range(ITERATIONS):
        for pi in range(periods):
            rows = np.flatnonzero(per == pi)
            if not len(rows):
                continue
            trees = _class_times(world, base, theta[pi][net.edge_class], posts[rows])
            t0[rows] = np.array([trees[int(p)][int(v)] for p, v in zip(posts[rows], nodes[rows],
                                                                      strict=True)])
        share = t0 / np.maximum(t0.sum(axis=1, keepdims=True), 1e-9)
        for pi in range(periods):
            rows = np.flatnonzero(per == pi)
            enough = np.array([(share[rows, c] >= MIN_SHARE).sum() >= MIN_OBS for c in range(n_cls)])
            free = np.flatnonzero(enough)
            if not len(free) or len(rows) < MIN_OBS:
                continue
            fixed = t0[rows][:, ~enough] @ theta[pi, ~enough]
            if pi == 0:
                x = np.column_stack([np.ones(len(rows)), t0[rows][:, free]])
                b = huber_fit(x, y[rows] - fixed)
                turnout, theta[0, free] = float(b[0]), b[1:]
            else:
                b = huber_fit(t0[rows][:, free], y[rows] - turnout - fixed)
                theta[pi, free] = b
            fitted[pi] = enough
        for pi in range(1, periods):  # classes not fitted in a period keep its prior factor
            keep = ~fitted[pi]
            theta[pi, keep] = theta[0, keep] / prior_factor[pi, keep]
    period_names = ["free_flow", *[p.name for p in s.congestion.periods]]
    for pi, pname in enumerate(period_names):
        rows = per == pi
        for c, cname in enumerate(classes):
            if not fitted[pi, c]:
                n_ok = int((share[rows, c] >= MIN_SHARE).sum())
                report["refused"][f"{cname}/{pname}"] = (f"{n_ok} calls with at least {MIN_SHARE:.0%} "
                                                         f"of the route on it (need {MIN_OBS})")
    after = turnout + (t0 * theta[per]).sum(axis=1)
    before = np.array([world.period_oracles[int(p)][unit_type].from_node(int(q))[int(v)]
                       for p, q, v in zip(per, posts, nodes, strict=True)]) + ut.turnout
    main_class = np.argmax(t0, axis=1)
    hour = log.dispatch_minute[obs["index"]] // 60
    err_b, err_a = before - y, after - y
    report["errors"] = {
        "all": {"before": _metrics(err_b), "after": _metrics(err_a)},
        "by_class": {classes[c]: {"before": _metrics(err_b[main_class == c]),
                                  "after": _metrics(err_a[main_class == c])}
                     for c in range(n_cls) if np.any(main_class == c)},
        "by_hour": {int(h): {"before": _metrics(err_b[hour == h]), "after": _metrics(err_a[hour == h])}
                    for h in range(24) if np.any(hour == h)},
    }
    speeds = s.network.speeds
    report["speeds"] = {c: float(speeds.get(c, speeds["default"]) / theta[0, k])
                        for k, c in enumerate(classes) if fitted[0, k]}
    report["speed_factor"] = {c: float(1.0 / theta[0, k]) for k, c in enumerate(classes) if fitted[0, k]}
    report["period_factors"] = {
        period_names[pi]: {c: float(min(1.0, theta[0, k] / theta[pi, k]))
                           for k, c in enumerate(classes) if fitted[pi, k]}
        for pi in range(1, periods)}
    report["turnout_s"] = turnout
    report["scatter"] = {"observed_s": y.tolist(), "before_s": before.tolist(), "after_s": after.tolist()}
    return report
