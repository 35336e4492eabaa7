"""Staffing: officers per shift, crewable rosters, staff and officer-hours (hand-worked)."""

from __future__ import annotations

import pytest
import yaml

from sim.optimize.size import parse_goal
from sim.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario_text
from sim.scenario.staffing import (
    Staffing,
    crew_shortfall,
    officer_hours_per_day,
    staff_needed,
    units_on_duty,
)

SHAOYANG = Staffing(police=8, auxiliaries=24, shifts=3, absence=0.15,
                    crew={"patrol_car": {"police": 1, "auxiliary": 1},
                          "patrol_motorcycle": {"auxiliary": 1}})


def test_per_shift_and_the_2017_roster():
    # 8 * 0.85 / 3 = 2.27 -> 2 police; 24 * 0.85 / 3 = 6.8 -> 6 auxiliaries per shift
    assert SHAOYANG.per_shift() == (2, 6)
    # 2 cars (2 police + 2 aux) and 4 motorcycles (4 aux) fit exactly
    roster = {"patrol_car": 2, "patrol_motorcycle": 4, "platform_vehicle": 1}
    assert crew_shortfall(SHAOYANG, roster) == (0, 0)
    assert crew_shortfall(SHAOYANG, {"patrol_car": 3, "patrol_motorcycle": 4}) == (1, 1)
    # filling in turn: car, moto, car, moto, then only motorcycles (no police left): 2 cars, 4 motos
    assert units_on_duty(SHAOYANG, ["patrol_car", "patrol_motorcycle"]) == {"patrol_car": 2,
                                                                           "patrol_motorcycle": 4}


def test_staff_and_officer_hours():
    units = {"patrol_car": 2, "patrol_motorcycle": 4}
    # police: 2 per shift x 3 shifts / 0.85 = 7.06 -> 8; aux: 6 x 3 / 0.85 = 21.2 -> 22
    assert staff_needed(SHAOYANG, units) == (8, 22)
    # 8 officers on duty around the clock
    assert officer_hours_per_day(SHAOYANG, units) == 8 * 24


def _with_staffing(cars: int) -> str:
    data = yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    p = data["layouts"]["grid_platforms_2017"]["platforms"][0]
    p["units"]["patrol_car"] = cars
    p["staffing"] = {"police": 8, "auxiliaries": 24, "shifts": 3, "absence": 0.15,
                     "crew": {"patrol_car": {"police": 1, "auxiliary": 1},
                              "patrol_motorcycle": {"auxiliary": 1}}}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def test_schema_refuses_a_roster_the_staff_cannot_crew():
    load_scenario_text(_with_staffing(2), file="s.yaml", path=DEFAULT_SCENARIO)
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(_with_staffing(3), file="s.yaml", path=DEFAULT_SCENARIO)
    assert "cannot crew" in str(err.value) and "platforms" in str(err.value.loc)


def test_parse_goal():
    assert parse_goal("central>=0.90") == ("central", 0.9)
    assert parse_goal("key >= 80%") == ("key", 0.8)
    with pytest.raises(ScenarioError):
        parse_goal("centre>=0.9")
