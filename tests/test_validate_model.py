"""``validate-model``: the simulator against queueing theory (fast here; the full run is slow)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from sim.cli.checks import register
from sim.theory import validate_model as validation
from sim.theory.validate_model import (
    Check,
    CheckGroup,
    lattice_expected_distance,
    write_lattice_osm,
    write_line_osm,
)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run_sim.py")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_fast_validate_model_passes(tmp_path, capsys):
    args = _parse(["validate-model", "--workdir", str(tmp_path)])
    code = args.handler(args)
    out = capsys.readouterr().out
    assert code == 0, out
    for text in ("M/M/c", "P(wait) (Erlang C)", "Cobham", "Wq minor", "hypercube",
                 "workload unit 0", "dispatch share unit 3", "lattice", "E[travel distance]"):
        assert text in out
    assert "FAIL" not in out
    assert "19 of 19 checks passed" in out


@pytest.mark.slow
def test_full_validate_model_passes(tmp_path, capsys):
    args = _parse(["validate-model", "--full", "--workdir", str(tmp_path)])
    assert args.handler(args) == 0, capsys.readouterr().out


def test_a_failing_check_exits_1(monkeypatch, capsys):
    bad = CheckGroup("made up", [Check("made up", "x", simulated=1.0, analytic=2.0, se=0.1,
                                       tolerance=0.4)], replications=3)
    monkeypatch.setattr(validation, "validate_model", lambda *a, **k: [bad])
    args = _parse(["validate-model"])
    assert args.handler(args) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "FAILED: 1 check(s): made up / x" in captured.err


def _direct_sum(nx: int, ny: int, s: float, merge_corners: bool) -> float:
    """Mean Manhattan distance from the centre, weighting each node by half its street length."""
    mx, my = (nx - 1) // 2, (ny - 1) // 2
    w = {}
    for i in range(-mx, mx + 1):
        for j in range(-my, my + 1):
            w[(i, j)] = ((2 if abs(i) < mx else 1) + (2 if abs(j) < my else 1)) * s / 2
    if merge_corners:  # the loader joins a corner's two edges: its length moves to its neighbours
        for ci in (-mx, mx):
            for cj in (-my, my):
                w.pop((ci, cj))
                w[(ci - np.sign(ci), cj)] += s / 2
                w[(ci, cj - np.sign(cj))] += s / 2
    total = sum(w.values())
    return sum(wt * (abs(i) + abs(j)) * s for (i, j), wt in w.items()) / total


@pytest.mark.parametrize(("nx", "ny"), [(3, 3), (5, 5), (11, 11), (15, 7), (21, 21)])
@pytest.mark.parametrize("merge", [False, True])
def test_lattice_closed_form_equals_the_direct_sum(nx, ny, merge):
    assert lattice_expected_distance(nx, ny, 100.0, corners_merged=4 if merge else 0) == \
        pytest.approx(_direct_sum(nx, ny, 100.0, merge), rel=1e-12)


def test_lattice_closed_form_tends_to_half_the_side():
    side = 2000.0
    errors = [abs(lattice_expected_distance(2 * m + 1, 2 * m + 1, side / (2 * m)) / (side / 2) - 1)
              for m in (5, 50, 500)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


def test_generated_networks_keep_their_junctions(tmp_path):
    from sim.network.load import load_network

    spec = {"source": "file", "path": "x"}
    line = write_line_osm(tmp_path / "line.osm", 6, 25.0, 25.0)
    net = load_network({**spec, "path": str(line)}, cache_dir=tmp_path / "c")
    assert net.n_nodes == 6 * 3  # every atom and both spurs of it
    lattice = write_lattice_osm(tmp_path / "lat.osm", 7, 5, 200.0)
    net = load_network({**spec, "path": str(lattice)}, cache_dir=tmp_path / "c")
    assert net.n_nodes == 7 * 5 - 4  # osmnx merges the four corners
    inner = net.edge_length[net.edge_length < 300]
    assert np.allclose(inner, 200.0, rtol=2e-4)  # metres as osmnx measures them
