"""The figure phase against the simulation, on the default run (``make run``).

Runs ``run_sim.py run`` on the default Shaoyang scenario in a scratch folder, exactly as ``make
run`` does (simulation, then the figures and the English brief), and prints from the manifest's
``runtime_s`` the simulation time, the figure-and-brief time and their ratio (the target is a
ratio of at most 1), with the size of the HTML brief (the target is under 3 MB).

With ``--workers-check`` it then writes the report of the same folder again with one process and
with the default number (two on a Linux machine with two cores), back to back, so that the gain
of drawing in parallel is measured on this machine as it is loaded now.

    .venv/bin/python benchmarks/bench_report.py [--days N] [--reps N] [--workers-check]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.cli.main import main


def workers_check(folder: Path) -> dict[int, float]:
    """Seconds to write the report of ``folder`` (network and world loaded once, beforehand) with
    one process and with the default number of workers."""
    from sim.brief.forked import workers_here
    from sim.brief.report import write_report
    from sim.brief.results import load_results
    from sim.study.experiment import load_world

    net, world = load_world(load_results(folder).loaded)
    out = {}
    for workers in dict.fromkeys((1, workers_here())):
        t0 = time.perf_counter()
        write_report(folder, net=net, world=world, workers=workers)
        out[workers] = time.perf_counter() - t0
    return out


def run(days: float | None, reps: int | None, check: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["run", "--out", tmp]
        if days:
            argv += ["--days", f"{days:g}"]
        if reps:
            argv += ["--reps", str(reps)]
        t0 = time.perf_counter()
        if main(argv) != 0:
            raise SystemExit("the run failed")
        wall = time.perf_counter() - t0
        (folder,) = list((Path(tmp) / "shaoyang").iterdir())
        runtime = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["runtime_s"]
        html = (folder / "report_en.html").stat().st_size / 1e6
        pdf = (folder / "report_en.pdf").stat().st_size / 1e6
        figures = len(list(folder.glob("*.png")))
        by_workers = workers_check(folder) if check else {}
    return {"simulate_s": runtime["simulate_s"], "plots_s": runtime["plots_s"], "wall_s": wall,
            "html_mb": html, "pdf_mb": pdf, "figures": figures, "by_workers": by_workers}


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=float, default=None, help="simulated days (default: the scenario's)")
    p.add_argument("--reps", type=int, default=None, help="replications (default: the scenario's)")
    p.add_argument("--workers-check", action="store_true",
                   help="write the report again with 1 process and with the default, back to back")
    a = p.parse_args()
    r = run(a.days, a.reps, a.workers_check)
    print(f"\nsimulate_s {r['simulate_s']:8.1f}   plots_s {r['plots_s']:8.1f}   "
          f"plots/simulate {r['plots_s'] / r['simulate_s']:.2f} (target <= 1)")
    print(f"figures {r['figures']}, report_en.html {r['html_mb']:.2f} MB (target < 3), "
          f"report_en.pdf {r['pdf_mb']:.2f} MB, whole run {r['wall_s']:.1f} s")
    if r["by_workers"]:
        one = r["by_workers"][1]
        print("report again: " + ", ".join(f"{w} worker(s) {t:.1f} s ({one / t:.2f}x)"
                                           for w, t in r["by_workers"].items()))


if __name__ == "__main__":
    cli()
