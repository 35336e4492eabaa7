"""Does ``fit`` recover the true scenario behind a synthetic log, and does ``backtest`` tell a true
model from a wrong one? (slow: a 35-day log of about 5,000 calls is simulated and fitted)

The truth is the constants of ``sim.history.synth_log``; the starting point of the fit is the
default scenario (other speeds, congestion factors, turnout, hotspots, type mix and on-scene
times). Tolerances are stated with each check.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from sim.history import synth_log as truth_of
from sim.history.backtest import backtest
from sim.history.calls import history_spec, parse_window, read_calls
from sim.history.fit import fit_log
from sim.history.synth_log import SynthOptions, write_synthetic
from sim.quantities import parse_duration, parse_speed
from sim.scenario import DEFAULT_SCENARIO, load_scenario, validate_data
from sim.study.experiment import load_world

pytestmark = pytest.mark.slow

TZ = truth_of.TIMEZONE


def _prior(truth_path: Path):
    """The default scenario, answering with the truth's layout (what a city would start from)."""
    t = load_scenario(truth_path)
    base = load_scenario(DEFAULT_SCENARIO)
    d = copy.deepcopy(base.data)
    d["layouts"] = {truth_of.LAYOUT: t.data["layouts"][truth_of.LAYOUT]}
    d["run"] = t.data["run"]
    d["history"] = t.data["history"]
    d["dispatch"] = {"divert_from_minor": False}
    d.pop("sweep", None)
    for x in d["incident_types"]:
        x["units_required"] = 1
    return validate_data(d, file="prior.yaml", lines={}, text="", path=DEFAULT_SCENARIO)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("big")
    paths = write_synthetic(folder, SynthOptions(days=35, per_day=150))
    prior = _prior(paths["truth"])
    net, world = load_world(prior)
    log = read_calls(paths["calls"], history_spec(prior), prior.scenario, net)
    truth = load_scenario(paths["truth"])
    _, truth_world = load_world(truth)
    return {"paths": paths, "prior": prior, "world": world, "log": log,
            "fit": fit_log(prior, log, world), "truth": truth, "truth_world": truth_world}


def test_enough_calls(fitted: dict) -> None:
    assert len(fitted["log"]) >= 5000


def test_speed_factors_within_5_percent(fitted: dict) -> None:
    travel = fitted["fit"]["travel"]
    assert travel["refused"] == {}
    for cls, speed in truth_of.TRUE_SPEEDS.items():
        if cls == "default":
            continue
        assert abs(travel["speeds"][cls] / parse_speed(speed) - 1) < 0.05, cls
    for period in truth_of.TRUE_CONGESTION:
        got = travel["period_factors"][period["name"]]
        for cls, f in period["speed_factor"].items():
            if cls in got:
                assert abs(got[cls] / f - 1) < 0.05, (period["name"], cls)
    assert abs(travel["turnout_s"] - parse_duration(truth_of.TRUE_TURNOUT)) < 5.0
    err = travel["errors"]["all"]
    assert err["after"]["mae_s"] < 0.5 * err["before"]["mae_s"]


def _cells(world, weights: np.ndarray, size: float = 500.0) -> dict[tuple[int, int], float]:
    net = world.net
    ix, iy = np.floor(net.x / size).astype(int), np.floor(net.y / size).astype(int)
    out: dict[tuple[int, int], float] = {}
    for a, b, w in zip(ix, iy, weights, strict=True):
        out[(a, b)] = out.get((a, b), 0.0) + float(w)
    return out


def test_hotspot_mass_in_the_right_cells(fitted: dict) -> None:
    world, truth_world = fitted["world"], fitted["truth_world"]
    got = _cells(world, np.asarray(fitted["fit"]["spatial"]["weights"]))
    want = _cells(truth_world, truth_world.weights)
    tv = 0.5 * sum(abs(got.get(k, 0.0) - want.get(k, 0.0)) for k in set(got) | set(want))
    assert tv < 0.15  # total variation distance over 500 m cells
    net = world.net
    for h in truth_of.TRUE_HOTSPOTS:
        hx, hy = net.frame.to_local(h["lon"], h["lat"])
        cx, cy = int(np.floor(hx / 500.0)), int(np.floor(hy / 500.0))
        block = [(cx + i, cy + j) for i in (-1, 0, 1) for j in (-1, 0, 1)]
        g, w = sum(got.get(k, 0.0) for k in block), sum(want.get(k, 0.0) for k in block)
        assert w > h["share"] * 0.8  # the block holds the hotspot (a check of the check)
        assert abs(g / w - 1) < 0.15, h["name"]
    busiest = max(want, key=lambda k: want[k])
    assert got[busiest] >= sorted(got.values())[-5]  # the true busiest cell is among the top 5


def test_hour_of_week_profile(fitted: dict) -> None:
    arr = fitted["fit"]["arrivals"]
    assert arr["day_of_week_effect"] and arr["p_value"] < 1e-4
    assert abs(arr["incidents_per_day"] / 150.0 - 1) < 0.05
    week = np.asarray(truth_of.true_weekly_profile(load_scenario(DEFAULT_SCENARIO).data["demand"]
                                                   ["hourly_profile"]))
    true_rate = 150.0 * 7 * week / week.sum()
    rate = np.asarray(arr["weekly_rate"])
    # 6-hour blocks hold about 5 weeks x 6 h x 6 calls: relative error within 25%
    blocks = rate.reshape(28, 6).sum(axis=1) / true_rate.reshape(28, 6).sum(axis=1)
    assert np.all(np.abs(blocks - 1) < 0.25)
    fri_night = slice(4 * 24 + 20, 4 * 24 + 24)
    assert rate[fri_night].sum() / np.tile(arr["hourly_rate"], 7)[fri_night].sum() > 1.2


def test_type_mix_and_on_scene_distributions(fitted: dict) -> None:
    fit = fitted["fit"]
    for name, share in truth_of.TRUE_SHARES.items():
        assert abs(fit["type_mix"][name] - share) < 0.02, name
    for name, spec in truth_of.TRUE_ON_SCENE.items():
        f = fit["on_scene"][name]
        assert f["chosen"] == spec["distribution"], name
        p = f["candidates"][f["chosen"]]["params"]
        assert abs(p["mean_s"] / parse_duration(spec["mean"]) - 1) < 0.05, name
        assert abs(p["cv"] / spec["cv"] - 1) < 0.1, name
    ch = fit["call_handling"]
    assert abs(ch["candidates"]["gamma"]["params"]["mean_s"] / 60.0 - 1) < 0.1


def test_no_day_of_week_effect_when_there_is_none(tmp_path: Path) -> None:
    paths = write_synthetic(tmp_path, SynthOptions(days=28, per_day=150, seed=3, weekly=False))
    prior = _prior(paths["truth"])
    net, world = load_world(prior)
    log = read_calls(paths["calls"], history_spec(prior), prior.scenario, net)
    arr = fit_log(prior, log, world)["arrivals"]
    assert not arr["day_of_week_effect"] and arr["p_value"] > 0.01


def test_backtest_accepts_the_true_model_and_rejects_a_wrong_one(fitted: dict, tmp_path: Path) -> None:
    train = parse_window("2025-01-06:2025-01-26", TZ)
    test = parse_window("2025-01-27:2025-02-09", TZ)
    log = fitted["log"]
    true = backtest(fitted["truth"], log, fitted["truth_world"], train=train, test=test,
                    out_dir=tmp_path, refit=False, reps=2)
    assert true["verdict"] == "consistent"
    wrong = backtest(fitted["prior"], log, fitted["world"], train=train, test=test,
                     out_dir=tmp_path, refit=False, reps=2)
    assert wrong["verdict"] == "differs" and wrong["groups"][0]["ks_p"] < 1e-3
    refit = backtest(fitted["prior"], log, fitted["world"], train=train, test=test,
                     out_dir=tmp_path, refit=True, reps=2)
    assert refit["verdict"] == "consistent"
