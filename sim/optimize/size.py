"""How much is enough: the smallest fleet whose simulated compliance meets every goal.

``size`` grows one layout step by step: units of one type at every platform (``--vary units``),
or platforms added where the covering model puts them (``--vary platforms``). Each step is
simulated with the scenario's seed and replications, so every step sees the same incidents
(common random numbers) and the differences between steps are paired. A goal ``central>=0.90``
is met when the lower bound of the 95% CI of compliance in that zone is at least 0.90. The first
step meeting every goal is the answer; each step's compliance with its CI and the marginal gain
per added unit are reported. With platform ``staffing`` the answer is also given in staff and
officer-hours, and steps the staff cannot crew are refused.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sim.fileio import write_csv
from sim.optimize.candidates import reference_unit_type
from sim.optimize.layouts import optimized_scenario
from sim.optimize.run import default_base
from sim.scenario import (
    ZONE_CLASSES,
    LoadedScenario,
    ScenarioError,
    crew_shortfall,
    load_scenario_text,
    officer_hours_per_day,
    staff_needed,
)
from sim.study.experiment import RunOptions, apply_overrides, load_world, run_batch

__all__ = ["parse_goal", "size_fleet"]

_GOAL = re.compile(r"^\s*(key|central|other|all)\s*>=\s*([0-9.]+)\s*(%?)\s*$")


def parse_goal(text: str) -> tuple[str, float]:
    """``"central>=0.90"`` (or ``"central>=90%"``) -> ``("central", 0.9)``."""
    m = _GOAL.match(text)
    if not m:
        raise ScenarioError(f"--goal {text!r}: write ZONE>=SHARE, e.g. \"central>=0.90\", with a zone of "
                            f"{', '.join((*ZONE_CLASSES, 'all'))}")
    v = float(m.group(2)) / (100.0 if m.group(3) else 1.0)
    if not 0 < v <= 1:
        raise ScenarioError(f"--goal {text!r}: the share must be in (0, 1]")
    return m.group(1), v


def _steps_units(loaded: LoadedScenario, base: str, ut: str, start: int, stop: int
                 ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Layouts with ``m`` units of ``ut`` at every platform of ``base``, for every crewable ``m``."""
    platforms = loaded.scenario.layouts[base].platforms
    layouts: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for m in range(start, stop + 1):
        short = [p.name for p in platforms if p.staffing is not None
                 and any(crew_shortfall(p.staffing, {**p.units, ut: m}))]
        if short:
            notes.append(f"{m} {ut} per platform: refused, the staff of {short[0]} cannot crew it"
                         + (f" (and {len(short) - 1} more platforms)" if len(short) > 1 else ""))
            break
        layouts[f"size_{ut}_{m}"] = {"extends": base, "description": f"{base} with {m} {ut} per platform",
                                     "units": {ut: m}}
    return layouts, notes


def _steps_platforms(loaded: LoadedScenario, base: str, start: int, stop: int, cache_dir: Path | None,
                     progress: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Layouts adding ``k`` platforms to ``base`` where the covering model puts them."""
    from sim.optimize.run import OptimizeOptions, optimize_scenario

    layouts: dict[str, dict[str, Any]] = {}
    for k in range(start, stop + 1):
        with tempfile.TemporaryDirectory() as tmp:
            optimize_scenario(loaded, OptimizeOptions(platforms=k, keep=base, cache_dir=cache_dir),
                              Path(tmp), progress=progress)
            data = yaml.safe_load((Path(tmp) / "optimized.yaml").read_text(encoding="utf-8"))
        name = next(n for n in data["layouts"] if n.startswith(f"{base}_plus_"))
        layouts[f"size_platforms_{k}"] = data["layouts"][name]
    return layouts


def size_fleet(loaded: LoadedScenario, goals: list[tuple[str, float]], *, vary: str = "units",
               layout: str | None = None, unit_type: str | None = None, start: int = 1, stop: int = 6,
               days: float | None = None, reps: int | None = None, cache_dir: Path | None = None,
               out: Path = Path("results/size"),
               progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Simulate the steps in order until every goal is met; the report and its printed lines."""
    say = progress or (lambda _m: None)
    s = loaded.scenario
    ut = reference_unit_type(loaded, unit_type)
    base = layout or default_base(loaded, ut)
    if base not in s.layouts:
        raise loaded.error(("layouts",), f"--layout {base}: no such layout; layouts: {', '.join(s.layouts)}")
    if vary == "units":
        steps, notes = _steps_units(loaded, base, ut, start, stop)
    else:
        steps, notes = _steps_platforms(loaded, base, start, stop, cache_dir, say), []
    if not steps:
        raise ScenarioError("no step to simulate: " + "; ".join(notes), file=loaded.path)
    data = optimized_scenario(loaded, base, steps)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    grown = load_scenario_text(text, file=f"{loaded.path} (size steps)", path=loaded.path)
    grown = apply_overrides(grown, RunOptions(replications=reps, duration_s=days * 86400.0 if days else None))
    _, world = load_world(grown, cache_dir, progress=say)
    rows_out: list[dict[str, Any]] = []
    lines = [f"size: {vary} of {base} ({ut}), goals: "
             + ", ".join(f"{z} >= {v:.0%}" for z, v in goals) + " by the lower 95% CI bound; "
             f"{grown.scenario.run.replications} replications x "
             f"{grown.scenario.run.duration / 86400:g} days, CRN"]
    prev: dict[str, float] | None = None
    prev_units = 0
    met_at = None
    best: dict[str, float] = {}
    for name in steps:
        step = dataclasses.replace(grown, scenario=grown.scenario.model_copy(update={
            "run": grown.scenario.run.model_copy(update={"layouts": [name], "baseline": None})}))
        batch = run_batch(step, world)
        by_zone = {r["zone"]: r for r in batch.summary if r["layout"] == name}
        platforms = grown.scenario.layouts[name].platforms
        units = sum(n for p in platforms for t, n in p.units.items() if s.unit_types[t].role == "response")
        row: dict[str, Any] = {"step": name, "platforms": len(platforms), "response_units": units}
        for z in (*ZONE_CLASSES, "all"):
            r = by_zone.get(z, {})
            row[f"{z}_compliance"] = r.get("compliance")
            row[f"{z}_ci_low"] = r.get("compliance_ci_low")
            row[f"{z}_ci_high"] = r.get("compliance_ci_high")
            best[z] = max(best.get(z, 0.0), r.get("compliance_ci_low") or 0.0)
        staffed = [(p.staffing, p.units) for p in platforms if p.staffing is not None]
        if staffed:
            need = [staff_needed(st, u) for st, u in staffed]
            row["police_needed"] = sum(n[0] for n in need)
            row["auxiliaries_needed"] = sum(n[1] for n in need)
            row["officer_hours_per_day"] = sum(officer_hours_per_day(st, u) for st, u in staffed)
        ok = all((row[f"{z}_ci_low"] or 0.0) >= v for z, v in goals)
        row["meets_goals"] = ok
        gains = ""
        row["gain_pp_per_unit"] = None
        if prev is not None and units > prev_units:
            row["gain_pp_per_unit"] = {z: (row[f"{z}_compliance"] - prev[z]) * 100 / (units - prev_units)
                                       for z, _ in goals}
            gains = "  gain per added unit: " + ", ".join(f"{z} {g:+.2f} pp" for z, g in
                                                          row["gain_pp_per_unit"].items())
        prev = {z: row[f"{z}_compliance"] for z, _ in goals}
        prev_units = units
        rows_out.append(row)
        staff = (f"  staff {row['police_needed']} police + {row['auxiliaries_needed']} auxiliaries, "
                 f"{row['officer_hours_per_day']:.0f} officer-hours/day" if staffed else "")
        lines.append(f"{name:<28} {units:>4} units  " + ", ".join(
            f"{z} {row[f'{z}_compliance']:.1%} [{row[f'{z}_ci_low']:.1%}, {row[f'{z}_ci_high']:.1%}]"
            for z, _ in goals) + ("  MEETS" if ok else "") + gains + staff)
        say(lines[-1])
        if ok:
            met_at = name
            break
    lines += notes
    if met_at:
        lines.append(f"answer: {met_at} is the smallest step meeting every goal")
    else:
        lines.append("no step meets every goal; best lower CI bounds reached: "
                     + ", ".join(f"{z} {best[z]:.1%} (goal {v:.0%})" for z, v in goals))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    flat = [{k: (str(v) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows_out]
    write_csv(out / "size.csv", flat)
    return {"met": met_at is not None, "answer": met_at, "steps": rows_out, "lines": lines}
