"""``run_sim.py report RESULTS_DIR``: the figures, the HTML and PDF briefs and the interactive map
of a results folder, in English or Chinese (or both), without simulating anything."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim.brief.report import FIGURE_FORMATS, FORMATS, ReportError, write_report
from sim.i18n import LANGS

__all__ = ["register"]

EXIT_INPUT = 2


def _list_arg(allowed: tuple[str, ...], what: str) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        out = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
        bad = [f for f in out if f not in allowed]
        if not out or bad:
            raise argparse.ArgumentTypeError(f"{what} are {', '.join(allowed)}, comma-separated; "
                                             f"got {text!r}")
        return out

    return parse


def _share_arg(text: str) -> float:
    try:
        v = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share such as 0.9 or 90%, got {text!r}") from None
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"the goal must be a share in (0, 1], got {text!r}")
    return v


def register(sub: Any) -> None:
    """Add the ``report`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "report", help="write the figures, a policy brief (HTML, PDF) and map.html from a results folder",
        description="Write the figures (PNG; SVG and PDF with --formats) and a policy brief from a "
                    "results folder, in English or Chinese: a self-contained HTML file, a PDF and an "
                    "interactive map (map.html) that works offline. Nothing is simulated; maps load "
                    "the road network from the cache.")
    p.add_argument("results", type=Path, help="a results folder (results/<scenario>/<run-id>)")
    p.add_argument("--lang", type=_list_arg(LANGS, "languages"), default=("en",), metavar="en,zh",
                   help="language(s) of every label, comma-separated (default en)")
    p.add_argument("--format", type=_list_arg(FORMATS, "report formats"), default=FORMATS,
                   metavar="html,pdf,map", help="what to write, comma-separated (default: html,pdf,map)")
    p.add_argument("--formats", type=_list_arg(FIGURE_FORMATS, "figure formats"), default=("png",),
                   metavar="png,svg,pdf", help="figure file formats (default png; PNG is always written)")
    p.add_argument("--goal", type=_share_arg, default=0.9,
                   help="share of incidents within target drawn as the goal line (default 0.9)")
    p.add_argument("--cache-dir", type=Path, default=None, help="network cache folder")
    p.set_defaults(handler=_cmd_report)


def _cmd_report(args: Any) -> int:
    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        written = write_report(args.results, langs=args.lang, formats=args.format,
                               figure_formats=args.formats, cache_dir=args.cache_dir, goal=args.goal,
                               progress=say)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    for path in written:
        if path.name.startswith("report_") or path.name == "map.html":
            print(path)
    return 0
