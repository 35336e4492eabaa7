"""``run_sim.py network``: extent, bounding box and the nearest road and node, against values
computed here from the OSM file itself; and the README walk-through "your own city in 10
minutes", command by command, on the shipped example town."""

from __future__ import annotations

import math
import re
import shlex
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
TOWN = ROOT / "examples" / "mytown"


def _osm_nodes(path: Path) -> dict[int, tuple[float, float]]:
    root = ET.parse(path).getroot()
    return {int(n.get("id")): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}


@pytest.fixture
def town(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/mytown in a scratch folder that is also the working directory."""
    shutil.copytree(TOWN, tmp_path / "examples" / "mytown")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLICE_SIM_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_network_prints_extent_size_and_a_bbox_polygon(town, capsys):
    assert main(["network", "examples/mytown/mytown.yaml"]) == 0
    out = capsys.readouterr().out
    nodes = _osm_nodes(town / "examples/mytown/mytown.osm").values()
    lons, lats = [p[0] for p in nodes], [p[1] for p in nodes]
    # osmnx simplifies away the four grid corners (two streets meet there, no junction)
    assert f"{len(lons) - 4:,} nodes" in out
    assert f"lon {min(lons):.5f} to {max(lons):.5f}, lat {min(lats):.5f} to {max(lats):.5f}" in out
    ring = re.search(r"\[\[(.*)\]\]", out).group(1)
    corners = [tuple(float(v) for v in c.split(", ")) for c in ring.split("], [")]
    assert corners[0] == corners[-1] and len(corners) == 5
    assert {round(c[0], 5) for c in corners} == {round(min(lons), 5), round(max(lons), 5)}
    assert (town / "network_mytown.png").stat().st_size > 10_000


def test_near_gives_the_nearest_node_and_road_by_hand(town, capsys):
    nodes = _osm_nodes(town / "examples/mytown/mytown.osm")
    # a point 30 m north of the middle of the street between nodes 12 and 13 (a 220 m block)
    (lon1, lat1), (lon2, _) = nodes[12], nodes[13]
    lon, lat = (lon1 + lon2) / 2, lat1 + 30.0 / 110_574.0
    assert main(["network", "examples/mytown/mytown.yaml", "--near", str(lon), str(lat), "--no-map"]) == 0
    out = capsys.readouterr().out
    road_m = float(re.search(r"nearest road: .*?, (\d+) m away", out).group(1))
    assert abs(road_m - 30.0) <= 1.0
    node_m = float(re.search(r"nearest node: .*?, (\d+) m away", out).group(1))
    assert abs(node_m - math.hypot(110.0, 30.0)) <= 2.0
    osmid = int(re.search(r"OSM id (\d+)", out).group(1))
    assert osmid in (12, 13)


def _walkthrough() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Your own city in 10 minutes", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.strip().startswith(".venv/bin/python ")]


@pytest.mark.slow
def test_readme_walkthrough_runs_as_written(town, capsys, monkeypatch):
    import sim.brief.report

    before_figures: list[str] = []
    real = sim.brief.report.report_after_run

    def spy(*args, **kwargs):  # what the user has seen when the figure phase starts
        before_figures.append(capsys.readouterr().out)
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.brief.report, "report_after_run", spy)
    commands = _walkthrough()
    assert len(commands) == 5
    run_folder = ""
    for command in commands:
        argv = shlex.split(command)
        assert argv[:2] == [".venv/bin/python", "run_sim.py"]
        argv = [a.replace("results/mytown/RUN", run_folder) for a in argv[2:]]
        assert main(argv) == 0, command
        out = "".join(before_figures) + capsys.readouterr().out
        found = re.search(r"^Results: (\S+)$", out, re.M)
        if found:
            run_folder = found.group(1)
            brief = re.search(r"^Brief: (.*)$", out, re.M).group(1).split()
            assert {Path(p).name for p in brief} >= {"report_en.html", "report_en.pdf", "map.html"}
            assert all(Path(p).is_file() for p in brief)
            # the summary and coverage tables were printed before the figures were drawn
            assert "within target" in before_figures[0] and "police presence" in before_figures[0]
            before_figures.clear()
    assert run_folder and (Path(run_folder) / "report_zh.html").is_file()


def test_resume_hint_uses_the_running_interpreter(tmp_path, monkeypatch):
    from sim.cli import study

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(study.sys, "executable", str(tmp_path / ".venv" / "bin" / "python"))
    assert study.interpreter() == ".venv/bin/python"
    monkeypatch.setattr(study.sys, "executable", "/opt/py 3/bin/python")
    assert study.interpreter() == "'/opt/py 3/bin/python'"
