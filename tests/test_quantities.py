import math

import pytest

from sim.quantities import QuantityError, parse_distance, parse_duration, parse_speed


@pytest.mark.parametrize(("text", "seconds"), [
    ("90 s", 90.0), ("5 min", 300.0), ("1.5 h", 5400.0), ("2 d", 172800.0), ("0.5min", 30.0),
    ("1 week", 604800.0), ("3 minutes", 180.0), ("1e2 s", 100.0),
])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


def test_speeds_and_distances():
    assert parse_speed("36 km/h") == pytest.approx(10.0)
    assert parse_speed("7 m/s") == 7.0
    assert parse_distance("1.2 km") == pytest.approx(1200.0)
    assert parse_distance("300 m") == 300.0


@pytest.mark.parametrize(("value", "fragment"), [
    ("5 minits", "did you mean 'min'"),
    (30, "has no unit"),
    ("30", "has no unit"),
    ("fast", "cannot read"),
    (True, "with a unit"),
    (None, "with a unit"),
])
def test_bad_durations(value, fragment):
    with pytest.raises(QuantityError, match=fragment):
        parse_duration(value)


def test_speed_unit_is_not_a_duration():
    with pytest.raises(QuantityError, match="unknown duration unit 'km/h'"):
        parse_duration("25 km/h")
    assert math.isfinite(parse_speed("25 km/h"))
