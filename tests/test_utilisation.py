"""Utilisation: busy time over on-air time plus busy time off the air, worked by hand."""

import numpy as np
import pytest

from sim.analysis.metrics import replication_metrics, utilisation
from sim.engine.core import simulate
from sim.engine.results import off_air_between

from .conftest import hand_incidents, tiny_scenario, world_for


def test_off_air_time_within_intervals_by_hand():
    off = np.zeros((1440, 2), dtype=bool)
    off[480:540, 0] = True  # unit 0 off the air 08:00-09:00 every day
    off[0:10, 1] = True  # unit 1 off the air 00:00-00:10
    h = 3600.0
    units = np.array([0, 0, 0, 1, 1])
    start = np.array([7.5 * h, 7 * h, 8 * h + 30, 23 * h, 5 * h])
    end = np.array([8.5 * h, 86400 + 9.5 * h, 8 * h + 75, 86400 + 60.0, 6 * h])
    got = off_air_between(off, units, start, end)
    # 08:00-08:30; both days' whole hours; 45 s inside the hour; 00:00-00:01 next day; none
    assert got.tolist() == pytest.approx([1800.0, 7200.0, 45.0, 60.0, 0.0])


def test_a_job_running_past_the_shift_change_is_busy_off_the_air(tmp_path):
    data = tiny_scenario("grid.osm", days="1 d")
    data["run"]["warmup"] = "0 s"
    data["layouts"]["one_post"]["platforms"][0]["units"] = {"car": 1}
    data["shifts"] = {"starts": ["00:00", "12:00"], "handover": "10 min"}  # off 00:00-00:10, 12:00-12:10
    _, _, world = world_for(tmp_path, data)
    fleet = world.fleets["one_post"]
    post = int(fleet.post_table[0, 0])
    # a call at 11:50 at the post itself, handed over 1 s later, 20 min on scene
    inc = hand_incidents(world, [42600.0], [post], [1], [1200.0])
    res = simulate(world, "one_post", inc, 0, presence=False)
    # assign 42601, turnout 30 s, no drive, clear at 42601 + 30 + 1200 = 43831 s (12:10:31):
    # busy 1230 s, of which the hand-over 12:00-12:10 (600 s) is off the air
    assert res.unit_busy_s[0] == pytest.approx(1230.0)
    assert res.unit_busy_off_air_s[0] == pytest.approx(600.0)
    assert res.unit_on_air_s[0] == pytest.approx(86400.0 - 2 * 600.0)
    expected = 1230.0 / (85200.0 + 600.0)
    rows = replication_metrics(res.records, res.unit_busy_s, res.unit_on_air_s,
                               res.unit_busy_off_air_s)
    assert rows[-1]["utilisation"] == pytest.approx(expected)
    assert expected != pytest.approx(1230.0 / 85200.0)  # the old clamp would differ


def test_utilisation_never_exceeds_one_without_clamping():
    # a unit busy the whole window, half of it off the air, and an idle one
    assert utilisation(np.array([100.0, 0.0]), np.array([50.0, 100.0]),
                       np.array([50.0, 0.0])) == pytest.approx(0.5)
