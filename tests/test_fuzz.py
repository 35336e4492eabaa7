"""A fuzzer: mutated scenarios give either a valid run or one clean error, never a crash or a hang."""

from __future__ import annotations

import contextlib
import copy
import io
import re
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli.main import main
from sim.scenario import load_scenario

from .conftest import tiny_scenario, write_grid_osm

BASE = tiny_scenario("grid.osm", days="2 d", reps=1)
BASE["incident_types"][0]["units_required"] = 2
BASE["shifts"] = {"starts": ["00:00", "12:00"], "handover": "5 min"}

ODD_VALUES = [None, True, 0, -1, 1, 2.5, -0.5, 1e308, 10**30, "", "x", "abc", "5 minits", "0 s",
              "-3 min", "1e9 d", "100 years", "nan s", "inf km/h", "30", "30 km/h", "300 m", "4 GB",
              "12:00", "25:61", [], [1, 2], ["a"], {}, {"a": 1}, {"distribution": "fixed"},
              "exponential", "urgent", "two_posts", [[111.47, 27.24]], [111.47, 27.24],
              1e-300, "1e-300 m", "1e300 m", "1e-9 s", "99999 km/h", "0.0001 km/h", "16:00", 12.5]
UNKNOWN_KEYS = ["netwrok", "speed", "unit", "layout", "platform", "colour", "replication", "extends"]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


@st.composite
def mutated(draw) -> dict:
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent = _get(data, path[:-1])
        op = draw(st.sampled_from(["replace", "delete", "unknown", "duplicate", "scale"]))
        if op == "replace":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        elif op == "delete":
            del parent[path[-1]]
        elif op == "unknown" and isinstance(_get(data, path), dict):
            _get(data, path)[draw(st.sampled_from(UNKNOWN_KEYS))] = draw(st.sampled_from(ODD_VALUES))
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        elif op == "scale" and isinstance(parent[path[-1]], int | float) and not isinstance(
                parent[path[-1]], bool):
            parent[path[-1]] = parent[path[-1]] * draw(st.sampled_from([-1, 0, 1000, 1e9]))
    return data


YAML_CHARS = ":-[]{}\"'\t\n&*!#%@`|>?,. 0123456789"


@st.composite
def garbled(draw) -> str:
    text = yaml.safe_dump(BASE, sort_keys=False)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "swap_lines", "truncate"]))
        if op == "insert":
            text = text[:i] + draw(st.text(alphabet=YAML_CHARS, min_size=1, max_size=3)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)):]
        elif op == "swap_lines" and text:
            lines = text.splitlines(keepends=True)
            a, b = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[a], lines[b] = lines[b], lines[a]
            text = "".join(lines)
        elif op == "truncate":
            text = text[:i]
    return text


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzz")
    write_grid_osm(d / "grid.osm")
    return d


class _Hang(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int):
    def alarm(_sig, _frame):
        raise _Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with _time_limit(60), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def _assert_clean(code: int, err: str, path: Path) -> None:
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    if code == 2:
        errors = [x for x in err.splitlines() if x.startswith("error:")]
        assert errors, err  # every independent problem, one line each, each naming file and line
        for line in errors:
            assert re.match(rf"^error: {re.escape(str(path))}:\d+: (\(top level\)|[^ (].*?): \S",
                            line), line
        assert len(set(errors)) == len(errors), err  # no problem reported twice
        if len(errors) > 1:
            assert f"{len(errors)} problems" in err


def _check_scenario(folder: Path, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICE_SIM_CACHE", str(folder / "cache"))
    code, err = _cli(["validate", "--schema-only", str(path)])
    _assert_clean(code, err, path)
    if code != 0:
        return
    code, err = _cli(["validate", str(path)])  # with the network
    _assert_clean(code, err, path)
    if code != 0:
        return
    s = load_scenario(path).scenario
    if s.demand.incidents_per_day * len(s.layout_names()) > 5000:
        return  # a valid but large run: validating it is enough here
    code, err = _cli(["run", str(path), "--days", "1", "--reps", "1", "--no-plots",
                      "--out", str(folder / "results")])
    _assert_clean(code, err, path)


SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(data=mutated())
def test_mutated_scenarios_run_or_fail_cleanly(folder, monkeypatch, data):
    path = folder / "mutated.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    _check_scenario(folder, path, monkeypatch)


@SETTINGS
@given(text=garbled())
def test_garbled_scenario_text_runs_or_fails_cleanly(folder, monkeypatch, text):
    path = folder / "garbled.yaml"
    path.write_text(text, encoding="utf-8")
    _check_scenario(folder, path, monkeypatch)
