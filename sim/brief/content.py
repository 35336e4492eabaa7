"""The content of the brief, once, as a list of blocks; :mod:`sim.brief.html` and
:mod:`sim.brief.pdf` render the same list, so the two formats cannot disagree.

Blocks are ``(kind, payload)`` pairs:

- ``("title", str)``, ``("subtitle", str)``, ``("heading", str)``, ``("para", str)``,
  ``("note", str)``: text;
- ``("bullets", [str])``: a bulleted list; ``("code", [str])``: command lines;
- ``("table", (headers, rows, note))``: the compliance table (rows of strings; the first cell of
  a layout's first row holds its name, the others are empty);
- ``("grid", (headers, rows, note))``: a plain table of strings (the call-log section);
- ``("figure", (Figure, caption))``: a figure (its PNG file) with its numbered caption.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.brief.figures import Figure
from sim.brief.findings import assumptions, compliance_table, findings, reproduce, versions
from sim.brief.fit_section import fit_blocks
from sim.brief.optimize_section import optimize_figure, optimize_summary
from sim.brief.results import Results
from sim.brief.rural_pages import rural_blocks
from sim.i18n import layout_name, scenario_title, tr

__all__ = ["Block", "block_text", "brief_blocks", "title_of"]

Block = tuple[str, Any]


def title_of(results: Results, lang: str) -> str:
    """The brief's title line for a browser tab or a PDF's metadata."""
    return f"{tr('report_title', lang)}: {scenario_title(results.scenario, lang)}"


def brief_blocks(results: Results, lang: str, *, goal: float | None, formats: Sequence[str],
                 figures: Sequence[Figure], no_maps: str = "",
                 fit_figures: Sequence[Figure] = ()) -> list[Block]:
    """Every block of the brief in ``lang``, in reading order (``fit_figures``: those of
    :func:`sim.brief.fit_section.fit_figures`, shown in the call-log section)."""
    s = results.scenario
    sep = tr("list_sep", lang)

    def name(layout: str) -> str:
        return layout_name(s, layout, lang)

    if results.others:
        question = tr("question", lang, layouts=sep.join(name(n) for n in results.layouts),
                      baseline=name(results.baseline), n_b=sep.join(name(n) for n in results.others))
    else:
        question = tr("question_one", lang, layout=name(results.baseline))
    blocks: list[Block] = [
        ("title", tr("report_title", lang)),
        ("subtitle", tr("report_subtitle", lang, title=scenario_title(s, lang), run_id=results.run_id)),
        ("heading", tr("h.question", lang)), ("para", question),
        ("heading", tr("h.findings", lang)), ("bullets", findings(results, lang)),
        ("heading", tr("h.table", lang)), ("table", compliance_table(results, lang)),
        ("heading", tr("h.figures", lang)),
    ]
    if no_maps:
        blocks.append(("note", no_maps))
    for i, f in enumerate(figures, 1):
        blocks.append(("figure", (f, tr("figure_n", lang, n=i, title=f.title))))
    blocks += rural_blocks(results, lang)  # county and village pages (sim.brief.rural_pages)
    blocks += [("heading", tr("h.assumptions", lang)), ("bullets", assumptions(results, lang, goal))]
    fit = fit_blocks(results, lang, list(fit_figures), first_number=len(figures) + 1)
    blocks += fit
    n_figures = len(figures) + sum(1 for kind, _ in fit if kind == "figure")
    scenario_file = Path(results.manifest.get("inputs", {}).get("scenario_file", ""))
    optimized = optimize_summary(scenario_file, s, lang)
    if optimized:
        blocks += [("heading", tr("h.optimize", lang)), ("bullets", optimized)]
        fig = optimize_figure(scenario_file, s, lang)
        if fig is not None:
            blocks.append(("figure", (fig, tr("figure_n", lang, n=n_figures + 1, title=fig.title))))
    blocks.append(("heading", tr("h.reproduce", lang)))
    for label, lines in reproduce(results, lang, formats):
        blocks += [("para", label), ("code", lines)]
    blocks.append(("note", tr("r.versions", lang, versions=versions(results))))
    blocks.append(("note", tr("generated", lang, date=str(results.manifest.get("finished_utc", "")),
                              folder=results.display)))
    return blocks


def block_text(blocks: Sequence[Block]) -> str:
    """All the text of the blocks (for the subset of the CJK font to embed)."""
    out: list[str] = []
    for kind, payload in blocks:
        if kind in ("title", "subtitle", "heading", "para", "note"):
            out.append(payload)
        elif kind in ("bullets", "code"):
            out += payload
        elif kind in ("table", "grid"):
            headers, rows, note = payload
            out += [*headers, *(c for r in rows for c in r), note]
        elif kind == "figure":
            f, caption = payload
            out += [caption, *(p.name for p in f.files)]
    return "\n".join(out)
