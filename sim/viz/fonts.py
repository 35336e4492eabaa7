"""The CJK font for figures: a system font when matplotlib finds one, else the Noto Sans SC that
the ``pylopdf-fonts-zh-cn`` package ships (SIL Open Font License 1.1).

:func:`cjk_font` finds it once and registers it with matplotlib, so that every Chinese glyph of a
figure falls back to it; the brief's HTML and PDF embed subsets of the same file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed

import matplotlib.pyplot as plt
from matplotlib import font_manager

__all__ = ["CjkFont", "cjk_font"]

_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
                 "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Noto Sans CJK TC", "Noto Sans CJK JP",
                 "Droid Sans Fallback")
"""System CJK fonts, in order of preference (Simplified Chinese forms first)."""

_SYSTEM_FILE_HINTS = ("notosanscjk", "notosanssc", "sourcehansans", "wqy", "droidsansfallback")


@dataclass(frozen=True)
class CjkFont:
    """The font used for Chinese text: family name, file, face index and where it came from."""

    name: str
    path: str
    index: int
    origin: str  # "system" or "package"


_FONT: CjkFont | None = None


class _NoBoldNotice(logging.Filter):
    def __init__(self, family: str) -> None:
        super().__init__()
        self.family = family

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not (msg.startswith("findfont: Failed to find font weight") and self.family in msg)


def _covers(path: str, index: int, text: str) -> bool:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        cmap = font.getBestCmap() or {}
    return all(ord(ch) in cmap for ch in set(text) if not ch.isspace())


def cjk_font() -> CjkFont:
    """Find (once) the CJK font for figures and register it with matplotlib's font manager.

    A system font is preferred (Noto Sans CJK SC, Noto Sans SC, Source Han Sans, WenQuanYi, ...):
    first among the fonts matplotlib knows, then among the files in the system font folders. The
    fallback is Noto Sans SC from the ``pylopdf-fonts-zh-cn`` package (SIL OFL 1.1). The text
    family becomes ``["DejaVu Sans", <CJK font>]``, so Latin text keeps matplotlib's default and
    every Chinese glyph falls back to the CJK font.
    """
    global _FONT
    if _FONT is not None:
        _apply_font(_FONT)  # again: an rc_context may have restored the defaults since
        return _FONT
    probe = "城市快警重点部位中心城区"
    found: CjkFont | None = None
    by_name = {e.name: e for e in font_manager.fontManager.ttflist}
    for fam in _CJK_FAMILIES:
        e = by_name.get(fam)
        if e is not None and _covers(e.fname, getattr(e, "index", 0), probe):
            found = CjkFont(fam, e.fname, getattr(e, "index", 0), "system")
            break
    if found is None:
        files = [f for f in font_manager.findSystemFonts()
                 if any(h in Path(f).name.lower().replace("-", "").replace("_", "")
                        for h in _SYSTEM_FILE_HINTS)]
        for f in sorted(files):
            before = len(font_manager.fontManager.ttflist)
            try:
                font_manager.fontManager.addfont(f)
            except (OSError, RuntimeError, ValueError):
                continue
            new = font_manager.fontManager.ttflist[before:]
            for fam in _CJK_FAMILIES:
                e = next((x for x in new if x.name == fam), None)
                if e is not None and _covers(e.fname, getattr(e, "index", 0), probe):
                    found = CjkFont(fam, e.fname, getattr(e, "index", 0), "system")
                    break
            if found:
                break
    if found is None:
        import pylopdf_fonts_zh_cn  # Noto Sans SC, SIL OFL 1.1 (see pyproject.toml)

        path = str(pylopdf_fonts_zh_cn.sans_path())
        font_manager.fontManager.addfont(path)
        found = CjkFont(font_manager.FontProperties(fname=path).get_name(), path, 0, "package")
    # the packaged font has no bold face: bold text falls back to its regular face, which
    # matplotlib would log as a warning for every bold label
    logging.getLogger("matplotlib.font_manager").addFilter(_NoBoldNotice(found.name))
    _FONT = found
    _apply_font(found)
    return found


def _apply_font(font: CjkFont) -> None:
    family = ["DejaVu Sans", font.name]
    if list(plt.rcParams["font.family"]) != family:
        plt.rcParams["font.family"] = family
    plt.rcParams["svg.hashsalt"] = "police-sim"  # stable ids in SVG files

