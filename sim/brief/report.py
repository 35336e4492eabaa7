"""Policy brief from a results folder: figures, a self-contained HTML brief, a PDF brief and the
interactive map.

:func:`write_report` reads what a run wrote (:mod:`sim.brief.results`) and writes into the same
folder, for each language:

- the figures of :mod:`sim.brief.figures` as PNG (``<name>.png``; ``<name>_zh.png`` in Chinese),
  and SVG or PDF on request;
- ``report_<lang>.html`` (:mod:`sim.brief.html`) and ``report_<lang>.pdf`` (:mod:`sim.brief.pdf`),
  both rendered from the one list of blocks of :mod:`sim.brief.content`;
- ``map.html`` once, with both languages (:mod:`sim.brief.explorer`).

Nothing is simulated. The maps need the road network and the world, passed in at the end of a
run or loaded through :func:`sim.study.experiment.load_world` (the on-disk cache).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from sim.brief.content import Block, brief_blocks, title_of
from sim.brief.figures import Figure, MapData, draw_figures, figure_jobs, map_data
from sim.brief.fit_section import fit_figures
from sim.brief.forked import in_background, workers_here
from sim.brief.html import font_face, html_text, keep_font_face, render_html
from sim.brief.pdf import font_for, keep_font, pdf_text, render_pdf
from sim.brief.results import ReportError, Results, load_results
from sim.fileio import atomic_write_text
from sim.i18n import LANGS, tr
from sim.network.graph import RoadNetwork
from sim.network.load import NetworkSourceError
from sim.scenario import ScenarioError
from sim.types import RecordTable
from sim.viz.save import FIGURE_FORMATS
from sim.viz.style import source_line
from sim.world.prepare import World

__all__ = ["FIGURE_FORMATS", "FORMATS", "ReportError", "report_after_run", "write_report"]

FORMATS = ("html", "pdf", "map")
"""What a report can hold: the HTML brief, the PDF brief and the interactive map."""


def _maps(results: Results, net: RoadNetwork | None, world: World | None, cache_dir: Path | None,
          progress: Callable[[str], None] | None) -> tuple[MapData | None, str]:
    if net is None or world is None:
        from sim.study.experiment import load_world

        try:
            net, world = load_world(results.loaded, cache_dir, progress=progress)
        except (ScenarioError, NetworkSourceError) as exc:
            return None, str(exc)
    return map_data(net, world, results.layouts), ""


def write_report(folder: Path | str, *, langs: Sequence[str] = ("en",), formats: Sequence[str] = FORMATS,
                 figure_formats: Sequence[str] = ("png",), cache_dir: Path | None = None,
                 net: RoadNetwork | None = None, world: World | None = None, goal: float | None = 0.9,
                 workers: int | None = None, records: RecordTable | None = None,
                 progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write the figures and the brief (``formats``: html, pdf, map) of a results folder in each of
    ``langs``; return the files written, the briefs last. ``net`` and ``world`` may be passed when
    already loaded (as at the end of a run); otherwise they are loaded from the network cache, and
    if that fails the maps are left out and the brief says why.

    ``workers`` processes (default :func:`sim.brief.forked.workers_here`) draw the figures, and
    ``map.html`` is written by one more meanwhile. ``records``: the run's records when still in
    memory (else records.csv is read)."""
    bad_lang = [x for x in langs if x not in LANGS]
    if bad_lang or not langs:
        raise ReportError(f"unknown language {(bad_lang or [''])[0]!r}; choose from {', '.join(LANGS)}")
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ReportError(f"unknown report format {bad[0]!r}; choose from {', '.join(FORMATS)}")
    bad = [f for f in figure_formats if f not in FIGURE_FORMATS]
    if bad:
        raise ReportError(f"unknown figure format {bad[0]!r}; choose from {', '.join(FIGURE_FORMATS)}")
    t0 = time.perf_counter()
    results = load_results(folder, records)
    data, reason = _maps(results, net, world, cache_dir, progress)
    written: list[Path] = []
    briefs: list[Path] = []
    workers = workers_here() if workers is None else workers
    background = workers > 1 and "map" in formats and data is not None
    with in_background(lambda: _write_map(results, data, formats), enabled=background) as the_map:
        for lang in langs:
            no_maps = tr("no_maps", lang, reason=reason) if reason else ""
            if no_maps and progress:
                progress(no_maps)
            jobs = figure_jobs(results, lang, maps_from=data, goal=goal, formats=figure_formats)
            fitted = fit_figures(results, lang)  # the call-log section's, if the run used a log
            written += [p for f in fitted for p in f.files]
            title = title_of(results, lang)
            text = partial(brief_blocks, results, lang, goal=goal, formats=[f for f in formats if f != "map"],
                           no_maps=no_maps, fit_figures=fitted)
            footer = source_line(results.scenario.name, results.run_id, results.replications_n, lang)
            page = {"title": title, "page_label": tr("page", lang, n="{n}"), "footer": footer}
            # the fonts' subsets need only the text, known before any figure is drawn: they are
            # cut meanwhile (the figures' titles are the text they bring)
            draft = text(figures=[Figure(j.name, j.title, []) for j in jobs])
            with in_background(partial(_fonts, draft, page), enabled=workers > 1) as fonts:
                figures = draw_figures(jobs, lang, workers=workers, progress=progress)
                _keep_fonts(draft, page, fonts.result())
            written += [p for f in figures for p in f.files]
            blocks = text(figures=figures)
            pdf_path = results.folder / f"report_{lang}.pdf"
            pdf = partial(render_pdf, blocks, pdf_path, **page)
            # the PDF in a forked process while this one writes the HTML
            with in_background(pdf, enabled=workers > 1 and "pdf" in formats) as the_pdf:
                if "html" in formats:
                    path = results.folder / f"report_{lang}.html"
                    atomic_write_text(path, render_html(blocks, lang=lang, title=title))
                    briefs.append(path)
                if "pdf" in formats:
                    the_pdf.result()
                    briefs.append(pdf_path)
        map_path = the_map.result()
    if map_path is not None:
        briefs.append(map_path)
    if progress:
        progress(f"report: {len(written)} figure files, {len(briefs)} briefs in "
                 f"{time.perf_counter() - t0:.1f} s")
    return [*written, *briefs]


def _fonts(blocks: list[Block], page: dict[str, str]) -> tuple[str, tuple[str, bytes]]:
    """The HTML's @font-face rule and the PDF's font subset for ``blocks``."""
    return font_face(html_text(blocks, page["title"])), font_for(pdf_text(blocks, **page))


def _keep_fonts(blocks: list[Block], page: dict[str, str], fonts: tuple[str, tuple[str, bytes]]) -> None:
    keep_font_face(html_text(blocks, page["title"]), fonts[0])
    keep_font(*fonts[1])


def _write_map(results: Results, data: MapData | None, formats: Sequence[str]) -> Path | None:
    if "map" not in formats or data is None:
        return None
    from sim.brief.explorer import write_map

    return write_map(results, data, results.folder / "map.html")


def report_after_run(folder: Path | str, *, net: RoadNetwork, world: World, langs: Sequence[str] = ("en",),
                     records: RecordTable | None = None,
                     progress: Callable[[str], None] | None = None) -> list[Path]:
    """The end of ``run_sim.py run``: write the report into the (unfinished) results folder, then
    add the time it took to the manifest (``runtime_s.plots_s``) and refresh its file checksums.
    ``records``: the records the run has just written (spares reading them back)."""
    t0 = time.perf_counter()
    written = write_report(folder, langs=langs, net=net, world=world, records=records, progress=progress)
    manifest_path = Path(folder) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    runtime = manifest.setdefault("runtime_s", {})
    runtime["plots_s"] = round(time.perf_counter() - t0, 3)
    if "total_s" in runtime:
        runtime["total_s"] = round(runtime["total_s"] + runtime["plots_s"], 3)
    if "files" in manifest:
        from sim.study.folder import file_checksums

        manifest["files"] = file_checksums(Path(folder))
    atomic_write_text(manifest_path, json.dumps(manifest, indent=1, ensure_ascii=False))
    return written
