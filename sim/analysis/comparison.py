"""Layout comparisons and sweeps as tables: what ``compare`` and ``sweep`` write and print.

- ``comparison.csv`` / ``comparison.json``: per variant, layout and zone class, compliance with
  its 95% CI, the paired difference from the baseline layout (percentage points) with its CI and a
  significance flag, and each layout's mean rank and share of replications ranked first;
- ``sweep.csv``: every metric in long format (variant, factors, layout, zone, metric, mean, CI);
- ``robustness.csv``: per variant, the ranking of layouts and whether it matches the first
  variant's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sim.analysis.metrics import METRICS, ZONE_ROWS, paired_differences, rankings
from sim.fileio import atomic_write_text, write_csv
from sim.types import BatchResult

__all__ = ["comparison_rows", "comparison_table", "robustness_rows", "sweep_rows", "write_study_tables"]


def comparison_rows(batch: BatchResult, baseline: str) -> list[dict[str, Any]]:
    """One row per (variant, layout, zone): compliance, paired difference and ranks."""
    per_rep = [{"variant": "", **r} if "variant" not in r else r for r in batch.per_replication]
    diffs = {(d["variant"], d["layout"], d["zone"]): d for d in paired_differences(per_rep, baseline)}
    ranks = {(r["variant"], r["layout"]): r for r in rankings(per_rep)}
    out = []
    for row in batch.summary:
        v = row.get("variant", "")
        d = diffs.get((v, row["layout"], row["zone"]))
        rk = ranks[(v, row["layout"])]
        out.append({
            "variant": v or "base", "layout": row["layout"], "zone": row["zone"],
            "compliance": row["compliance"], "compliance_ci_low": row["compliance_ci_low"],
            "compliance_ci_high": row["compliance_ci_high"],
            "baseline": baseline,
            "diff_pp": d["compliance_diff"] * 100 if d else 0.0,
            "diff_pp_ci_low": d["compliance_diff_ci_low"] * 100 if d else math.nan,
            "diff_pp_ci_high": d["compliance_diff_ci_high"] * 100 if d else math.nan,
            "significant": d["significant"] if d else False,
            "mean_rank": rk["mean_rank"], "share_ranked_first": rk["share_ranked_first"],
            "replications": row["replications"],
        })
    return out


def sweep_rows(batch: BatchResult) -> list[dict[str, Any]]:
    """Every metric in long format, one row per (variant, layout, zone, metric)."""
    factors = {v.name: v.factors for v in batch.variants}
    names = list(batch.variants[0].factors) if batch.variants else []
    out = []
    for row in batch.summary:
        v = row.get("variant", "base")
        for metric, _ in METRICS:
            out.append({"variant": v, **{f: factors.get(v, {}).get(f, "") for f in names},
                        "layout": row["layout"], "zone": row["zone"], "metric": metric,
                        "mean": row[metric], "ci_low": row[f"{metric}_ci_low"],
                        "ci_high": row[f"{metric}_ci_high"], "replications": row["replications"]})
    return out


def robustness_rows(batch: BatchResult) -> list[dict[str, Any]]:
    """Per variant: layouts ranked by mean overall compliance, and whether that matches the first."""
    per_rep = [{"variant": "", **r} if "variant" not in r else r for r in batch.per_replication]
    by_variant: dict[str, list[tuple[int, str]]] = {}
    for r in rankings(per_rep):
        by_variant.setdefault(r["variant"], []).append((r["rank_by_mean"], r["layout"]))
    out = []
    first: list[str] | None = None
    for v, items in by_variant.items():
        order = [lay for _, lay in sorted(items)]
        first = first or order
        out.append({"variant": v or "base", "ranking": " > ".join(order), "best": order[0],
                    "same_best_as_first": order[0] == first[0], "same_ranking_as_first": order == first})
    return out


def write_study_tables(run_dir: Path, batch: BatchResult, baseline: str) -> dict[str, list[dict[str, Any]]]:
    """Write comparison.csv/json, sweep.csv and robustness.csv into ``run_dir``."""
    comp = comparison_rows(batch, baseline)
    tables = {"comparison": comp, "sweep": sweep_rows(batch), "robustness": robustness_rows(batch)}
    for name, rows in tables.items():
        write_csv(Path(run_dir) / f"{name}.csv", rows)
    atomic_write_text(Path(run_dir) / "comparison.json", json.dumps(
        [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
         for r in comp], indent=1, ensure_ascii=False))
    return tables


def comparison_table(rows: list[dict[str, Any]], robustness: list[dict[str, Any]] | None = None) -> str:
    """The printed table: layouts as rows, compliance by zone with CIs, difference and ranks."""
    lines = []
    zones = [z for z in ZONE_ROWS]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    for v in variants:
        vrows = [r for r in rows if r["variant"] == v]
        layouts = list(dict.fromkeys(r["layout"] for r in vrows))
        baseline = vrows[0]["baseline"]
        if len(variants) > 1:
            lines.append(f"variant {v}")
        head = f"{'layout':<32}" + "".join(f"{z:>16}" for z in zones) + \
            f"{'all: diff vs baseline':>30}{'rank':>6}{'1st':>6}"
        lines += [head, "-" * len(head)]
        for layout in layouts:
            cells = {r["zone"]: r for r in vrows if r["layout"] == layout}
            text = f"{layout:<32}"
            for z in zones:
                r = cells[z]
                half = (r["compliance_ci_high"] - r["compliance_ci_low"]) / 2 * 100
                ci = "" if math.isnan(half) else f" ±{half:.1f}"
                text += f"{r['compliance'] * 100:>10.1f}%{ci:<5}"
            a = cells["all"]
            if layout == baseline:
                diff = "(baseline)"
            else:
                half = (a["diff_pp_ci_high"] - a["diff_pp_ci_low"]) / 2
                ci = "" if math.isnan(half) else f" ±{half:.1f}"
                diff = f"{a['diff_pp']:+.1f} pp{ci}{' *' if a['significant'] else ''}"
            text += f"{diff:>30}{a['mean_rank']:>6.1f}{a['share_ranked_first']:>6.0%}"
            lines.append(text)
        lines.append("")
    lines.append("Compliance: share within the zone's target, mean over replications ± 95% CI half-width."
                 " * = paired difference significant at 95%.")
    if robustness and len(robustness) > 1:
        lines.append("")
        lines.append("Robustness of the ranking (by overall compliance):")
        for r in robustness:
            mark = "same as first" if r["same_ranking_as_first"] else (
                "same best" if r["same_best_as_first"] else "CHANGES")
            lines.append(f"  {r['variant']:<44} {r['ranking']}   [{mark}]")
    return "\n".join(lines)
