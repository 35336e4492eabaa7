"""Golden figures: every chart and map of the brief, drawn from the tiny scenario's fixed records
(:mod:`tests.test_plots`: no simulation), against reviewed PNGs in ``tests/data/golden/``.

The other figure tests check what a figure says (titles, labels, the numbers on the bars); these
catch what it looks like: a legend that moved over the data, a colour scale that changed, a map
drawn off its frame. The comparison is matplotlib's own (:func:`compare_images`: the RMS of
the pixel differences, 0-255), with a small tolerance for the anti-aliasing of another
matplotlib release; a failure leaves the new image and the difference in the test's
temporary folder, named in the message.

When a figure changes on purpose, look at the new images, then write them as the new goldens
with ``make golden``, which sets ``POLICE_SIM_UPDATE_GOLDEN=1`` for this module: each test then
writes its golden and is skipped, so that an update never passes as a check.

The goldens are drawn by one matplotlib release (and its FreeType), written down in
``tests/data/golden/drawn_with.json``. Another release may shift anti-aliasing or text a little
more than the tolerance: the comparison is then skipped with a message that names both, rather
than failing a check that the code did not break.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib import ft2font
from matplotlib.testing.compare import compare_images

from sim.viz import plots

from .conftest import tiny_scenario, world_for
from .test_plots import _figures

GOLDEN = Path(__file__).parent / "data" / "golden"
DRAWN_WITH = GOLDEN / "drawn_with.json"
RENDERER = {"matplotlib": matplotlib.__version__, "freetype": ft2font.__freetype_version__}
NAMES = ("layout_map", "coverage", "compliance_map", "difference", "cdf", "bars", "hours")
DPI = 50
TOL = 2.0
"""Largest RMS pixel difference (0-255) that passes. A bar 5 points lower, a moved legend or one
recoloured map cell measures 8.6, 8.7 and 18 on these images (test below); renderings of one figure by one
matplotlib are identical (0)."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    return world_for(tmp_path_factory.mktemp("tiny_golden"), tiny_scenario("grid.osm"))


ZH = ("bars", "compliance_map")  # in Chinese too: a chart and a map, for the CJK text


@pytest.fixture(scope="module")
def figures(tiny):
    zh = _figures(tiny, "zh")
    for name in set(zh) - set(ZH):
        plots.close(zh[name][0])
    return {**_figures(tiny, "en"), **{f"{k}_zh": zh[k] for k in ZH}}


def _drawn(fig, folder: Path, name: str) -> Path:
    """``fig`` as the brief saves it (which closes it), at :data:`DPI`."""
    plots.save_figure(fig, folder / name, ("png",), dpi=DPI)
    return folder / f"{name}.png"


@pytest.mark.parametrize("name", [*NAMES, *(f"{k}_zh" for k in ZH)])
def test_figure_looks_as_reviewed(figures, tmp_path: Path, name: str) -> None:
    fig, _ = figures[name]
    new = _drawn(fig, tmp_path, name)
    golden = GOLDEN / f"{name}.png"
    if os.environ.get("POLICE_SIM_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(new, golden)
        DRAWN_WITH.write_text(json.dumps(RENDERER, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"wrote {golden}")
    assert golden.exists(), f"no golden for {name}: write it (see this module's docstring)"
    drawn_with = json.loads(DRAWN_WITH.read_text())
    if drawn_with != RENDERER:
        pytest.skip(f"the goldens were drawn with {drawn_with}, this is {RENDERER}: look at the "
                    f"figures and write new goldens (make golden)")
    err = compare_images(str(golden), str(new), tol=TOL)
    assert err is None, err


def test_the_tolerance_catches_a_changed_figure(tiny, tmp_path: Path) -> None:
    """A figure that differs in one detail a reader would see fails the comparison (fresh
    figures, changed before they are drawn): one bar 5 points lower, the legend in another
    corner, one map cell recoloured."""
    figs = _figures(tiny, "en")
    _, ax = figs["bars"]
    bar = max((p for p in ax.patches if p.get_height() > 0), key=lambda p: p.get_height())
    bar.set_height(bar.get_height() - 5.0)
    _, axes = figs["cdf"]
    np.atleast_1d(axes)[0].get_legend().set_loc("center")
    _, ax = figs["compliance_map"]
    cells = next(c for c in ax.collections if len(c.get_paths()) > 3)  # the hexagons
    shares = np.array(cells.get_array(), dtype=float)
    shares[int(np.argmin(shares))] = 100.0  # the worst cell drawn as the best
    cells.set_array(shares)
    for name in ("bars", "cdf", "compliance_map"):
        err = compare_images(str(GOLDEN / f"{name}.png"),
                             str(_drawn(figs[name][0], tmp_path, name)), tol=0, in_decorator=True)
        assert err is not None and float(err["rms"]) > TOL, (name, err)
    for name in ("layout_map", "coverage", "difference", "hours"):
        plots.close(figs[name][0])
