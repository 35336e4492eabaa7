"""Writing figures: PNG (and SVG or PDF on request) without dates in the metadata, so the same
data give the same files; PNG bytes for embedding; closing figures."""

from __future__ import annotations

import io
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.layout_engine import ConstrainedLayoutEngine
from PIL import Image

from sim.viz.fonts import cjk_font

__all__ = ["FIGURE_FORMATS", "close", "figure_png", "many_figures", "save_figure", "save_with_preview"]

FIGURE_FORMATS = ("png", "svg", "pdf")
"""The formats a figure can be written in; PNG is the default, the others are on request."""
PNG_COMPRESS_LEVEL = 2
"""A light zlib level for the figure files: level 6 takes three times as long for files 15% smaller."""


def save_figure(fig: Any, path: Path | str, formats: Sequence[str] = ("png",), dpi: int = 200,
                *, close_after: bool = True) -> list[Path]:
    """Save ``fig`` as ``path`` + ``.<format>`` for each format (png, svg, pdf), then close it.

    ``path`` is taken without a suffix (a dot in it is kept). File metadata carry no date, so the
    same data give the same files.
    """
    return save_with_preview(fig, path, formats, dpi, close_after=close_after)[0]


def save_with_preview(fig: Any, path: Path | str, formats: Sequence[str] = ("png",), dpi: int = 200,
                      preview_px: int | None = None, *, close_after: bool = True,
                      layout_key: Hashable | None = None) -> tuple[list[Path], bytes]:
    """:func:`save_figure`, and with ``preview_px`` also the figure as a small PNG for embedding:
    at most ``preview_px`` wide, in an adaptive palette of 256 colours (figures are flat colours,
    lines and text on white, so it looks the same at a fraction of the size).

    The figure is drawn once: the PNG file and the preview come from the same pixels.

    ``layout_key`` names a kind of figure whose members differ only in what they draw inside their
    axes (the coverage maps of several layouts, say): the constrained layout of the first one is
    kept and given to the next ones of the same shape, which saves half of their drawing time.
    """
    cjk_font()
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(h_pad=0.1, w_pad=0.06)  # inches: titles and the source line clear of the edge
    else:
        layout_key = None
    if layout_key is not None:
        layout_key = (layout_key, _shape(fig))
        if layout_key in _LAYOUTS:
            _apply_layout(fig, _LAYOUTS[layout_key])
    path = Path(path)
    out: list[Path] = []
    preview = b""
    for fmt in formats:
        if fmt not in FIGURE_FORMATS:
            raise ValueError(f"unknown figure format {fmt!r}; choose from {', '.join(FIGURE_FORMATS)}")
    for fmt in formats:
        p = path.with_name(f"{path.name}.{fmt}")
        if fmt == "png":
            image = _pixels(fig, dpi)
            # in full colour: a palette would band the colour bars' gradients
            image.save(p, format="PNG", compress_level=PNG_COMPRESS_LEVEL, dpi=(dpi, dpi))
            if preview_px:
                preview = _preview(image, preview_px)
        else:
            meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
            fig.savefig(p, dpi=dpi, metadata=meta)
        out.append(p)
    if layout_key is not None and layout_key not in _LAYOUTS:
        if len(_LAYOUTS) >= 64:  # a report needs a few; keep no more than that
            _LAYOUTS.clear()
        _LAYOUTS[layout_key] = _layout_of(fig)  # as the first drawing laid it out
    if close_after:
        plt.close(fig)
    return out, preview


_LAYOUTS: dict[Hashable, tuple[list[Any], dict[str, tuple[float, float]]]] = {}
"""Kept layouts: figure kind and shape -> (every axes' position, the figure labels' positions)."""
_FIGURE_LABELS = ("_suptitle", "_supxlabel", "_supylabel")


def _shape(fig: Any) -> tuple[Any, ...]:
    """What a figure's layout depends on besides its kind: its size, and for every axes its data
    limits, its tick labels and the lines of its title; the lines of the figure labels."""
    axes = tuple((tuple(np.round(ax.get_xlim(), 6)), tuple(np.round(ax.get_ylim(), 6)),
                  tuple(t.get_text() for t in ax.get_xticklabels()),
                  tuple(t.get_text() for t in ax.get_yticklabels()),
                  ax.get_title().count("\n")) for ax in fig.axes)
    labels = tuple(getattr(fig, n).get_text().count("\n") if getattr(fig, n, None) is not None else -1
                   for n in _FIGURE_LABELS)
    return (tuple(np.round(fig.get_size_inches(), 4)), axes, labels)


def _layout_of(fig: Any) -> tuple[list[Any], dict[str, tuple[float, float]]]:
    return ([ax.get_position(original=True).frozen() for ax in fig.axes],
            {n: getattr(fig, n).get_position() for n in _FIGURE_LABELS if getattr(fig, n, None) is not None})


def _apply_layout(fig: Any, layout: tuple[list[Any], dict[str, tuple[float, float]]]) -> None:
    positions, labels = layout
    fig.set_layout_engine("none")
    for ax, pos in zip(fig.axes, positions, strict=True):
        ax.set_position(pos, which="original")
    for name, xy in labels.items():
        getattr(fig, name).set_position(xy)


def _pixels(fig: Any, dpi: int) -> Image.Image:
    fig.set_dpi(dpi)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return Image.fromarray(rgba[:, :, :3].copy(), mode="RGB")


def _preview(image: Image.Image, width_px: int) -> bytes:
    if image.width > width_px:
        image = image.resize((width_px, round(image.height * width_px / image.width)),
                             Image.Resampling.LANCZOS, reducing_gap=2.0)
    small = _palette(image)
    buf = io.BytesIO()
    small.save(buf, format="PNG", compress_level=6)  # level 9: seven times as long for 4% less
    return buf.getvalue()


def _palette(image: Image.Image) -> Image.Image:
    """The image in an adaptive palette of 256 colours, without dithering."""
    return image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)


def figure_png(fig: Any, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    cjk_font()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def close(fig: Any) -> None:
    """Release a figure."""
    plt.close(fig)


def many_figures() -> Any:
    """A context in which many figures may be open at once without matplotlib's warning."""
    return plt.rc_context({"figure.max_open_warning": 0})
