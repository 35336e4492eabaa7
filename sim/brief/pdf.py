"""The brief as a PDF, typeset by reportlab's Platypus from the same blocks as the HTML page.

Text pages are A4 portrait; each figure gets an A4 landscape page. Paragraphs and table cells
wrap with ``wordWrap="CJK"`` (Chinese breaks between characters, never before closing
punctuation), and long cells wrap inside their column instead of shrinking the type. All text is
set in the CJK font (Noto Sans SC or the system's), embedded as a subset of the characters used.
reportlab embeds TrueType outlines only, so a CFF-flavoured OpenType font (as the packaged Noto
Sans SC is) is first cut to the brief's characters and its outlines converted to quadratic
curves with fontTools.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont as ReportlabTTFont
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    Image,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Preformatted,
    Spacer,
    Table,
    TableStyle,
)

from sim.brief.content import Block, block_text
from sim.viz.fonts import cjk_font

__all__ = ["font_for", "keep_font", "pdf_text", "render_pdf", "truetype_subset"]

_MARGIN = 16 * mm


def truetype_subset(text: str, ps_name: str = "") -> bytes:
    """The CJK font cut down to the characters of ``text`` (plus ASCII), with TrueType outlines.

    ``ps_name`` replaces the font's PostScript name: reportlab keeps one face per PostScript
    name in a process, so each subset needs its own."""
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    font = cjk_font()
    chars = {chr(c) for c in range(0x20, 0x7F)} | {ch for ch in text if not ch.isspace()}
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the licence and copyright notices
    options.notdef_outline = True
    options.layout_features = []
    # reportlab shapes no OpenType layout: dropping those tables spares decompiling them (half the time)
    options.drop_tables += ["VORG", "vhea", "vmtx", "DSIG", "GSUB", "GPOS", "GDEF", "BASE", "JSTF"]
    with TTFont(font.path, fontNumber=font.index, lazy=False) as tt:
        sub = subset.Subsetter(options)
        sub.populate(text="".join(sorted(chars)))
        sub.subset(tt)
        if "CFF " in tt:
            order = tt.getGlyphOrder()
            glyphs = tt.getGlyphSet()
            glyf = newTable("glyf")
            glyf.glyphOrder = order
            glyf.glyphs = {}
            for name in order:
                pen = TTGlyphPen(None)
                glyphs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
                glyf.glyphs[name] = pen.glyph()
            del tt["CFF "]
            tt["glyf"] = glyf
            tt["loca"] = newTable("loca")
            maxp = tt["maxp"]
            maxp.tableVersion = 0x00010000
            for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
                         "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                         "maxComponentElements"):
                setattr(maxp, attr, 1 if attr == "maxZones" else 0)
            tt["head"].glyphDataFormat = 0
            post = tt["post"]
            post.formatType = 3.0
            post.extraNames = []
            post.mapping = {}
            tt.sfntVersion = "\x00\x01\x00\x00"
        if ps_name:
            for record in tt["name"].names:
                if record.nameID == 6:
                    record.string = ps_name
        buf = io.BytesIO()
        tt.save(buf)
    return buf.getvalue()


_SUBSETS: dict[str, bytes] = {}
"""Font subsets made in this process or kept from another (:func:`keep_font`), by font name."""


def font_for(text: str) -> tuple[str, bytes]:
    """The name and the TrueType subset of the CJK font the PDF of ``text`` is set in (one name
    per set of characters)."""
    chars = "".join(sorted(set(text)))
    name = "BriefCJK-" + hashlib.sha1(chars.encode("utf-8")).hexdigest()[:10]
    if name not in _SUBSETS:
        keep_font(name, truetype_subset(chars, ps_name=name))
    return name, _SUBSETS[name]


def keep_font(name: str, data: bytes) -> None:
    """Keep a subset from :func:`font_for` made in another process."""
    if len(_SUBSETS) >= 16:
        _SUBSETS.clear()
    _SUBSETS[name] = data


def pdf_text(blocks: Sequence[Block], *, title: str, footer: str, page_label: str) -> str:
    """All the text :func:`render_pdf` sets (its font subset holds these characters)."""
    return block_text(blocks) + title + footer + page_label


def _register(text: str) -> str:
    """Register the subset of the CJK font for ``text`` with reportlab; return its font name."""
    name, data = font_for(text)
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(ReportlabTTFont(name, io.BytesIO(data)))
    return name


def _mostly_cjk(text: str) -> bool:
    """Whether a brief is in Chinese: then lines may break between any two characters; an English
    brief (which names places in Chinese too) breaks between words, never inside one."""
    cjk = sum("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)
    return cjk > 0.1 * max(1, sum(not ch.isspace() for ch in text))


def _styles(font: str, cjk: bool = True) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14,
                          wordWrap="CJK" if cjk else None,
                          alignment=TA_LEFT, spaceAfter=4)
    grey, navy = colors.HexColor("#555555"), colors.HexColor("#0b3d66")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=19, leading=24, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10.5, textColor=grey,
                                   spaceAfter=10),
        "heading": ParagraphStyle("heading", parent=base, fontSize=13, leading=17, spaceBefore=10,
                                  keepWithNext=1, spaceAfter=5, textColor=navy),
        "para": base,
        "note": ParagraphStyle("note", parent=base, fontSize=8, leading=11, textColor=grey),
        "bullet": ParagraphStyle("bullet", parent=base, leftIndent=12, bulletIndent=2, spaceAfter=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5, spaceAfter=0),
        "head": ParagraphStyle("head", parent=base, fontSize=7.5, leading=9.5, spaceAfter=0,
                               textColor=navy),
        "code": ParagraphStyle("code", parent=base, fontName="Courier", fontSize=7, leading=9,
                               backColor=colors.HexColor("#f4f4f4"), borderPadding=3, spaceAfter=6),
        "caption": ParagraphStyle("caption", parent=base, fontSize=9, leading=12, spaceBefore=4),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _table(payload: tuple[list[str], list[list[str]], str], st: dict[str, ParagraphStyle],
           width: float, grouped: bool = True) -> list[Any]:
    headers, rows, note = payload
    # the layout column gets the room its names need, up to a quarter of the width; the rest share
    share = [0.22, 0.11, 0.08, 0.09, 0.09, 0.13, 0.09, 0.10, 0.09]
    if not grouped or len(headers) != len(share):  # a plain grid: the first column a little wider
        share = [1.6] + [1.0] * (len(headers) - 1)
    widths = [width * s / sum(share) for s in share]
    data = [[_p(h, st["head"]) for h in headers]]
    data += [[_p(c, st["cell"]) for c in row] for row in rows]
    style = [("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef3f8")),
             ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#555555")),
             ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
             ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)]
    for i, row in enumerate(rows, 1):
        if grouped and row[0] and i > 1:
            style.append(("LINEABOVE", (0, i), (-1, i), 0.6, colors.HexColor("#999999")))
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle(style))
    return [table, Spacer(1, 3), *([_p(note, st["note"])] if note else [])]


def _figure(fig: Any, caption: str, st: dict[str, ParagraphStyle], frame_w: float, frame_h: float
            ) -> list[Any]:
    img = Image(io.BytesIO(fig.preview))
    scale = min(frame_w / img.imageWidth, (frame_h - 30) / img.imageHeight)
    img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
    return [KeepTogether([img, _p(caption, st["caption"])])]


def render_pdf(blocks: Sequence[Block], path: Path, *, title: str, footer: str, page_label: str) -> int:
    """Write ``blocks`` as a PDF at ``path``; return the number of pages. ``page_label`` is a
    format string with ``{n}`` for the page number (e.g. ``"page {n}"``)."""
    text = block_text(blocks)
    font = _register(pdf_text(blocks, title=title, footer=footer, page_label=page_label))
    st = _styles(font, cjk=_mostly_cjk(text))
    portrait, wide = A4, landscape(A4)

    def on_page(canvas: Any, doc: Any) -> None:
        w, _ = canvas._pagesize
        canvas.saveState()
        canvas.setFont(font, 6.5)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(_MARGIN, 9 * mm, footer)
        canvas.drawRightString(w - _MARGIN, 9 * mm, page_label.format(n=doc.page))
        canvas.restoreState()

    def frame(size: tuple[float, float], ident: str) -> Frame:
        return Frame(_MARGIN, _MARGIN, size[0] - 2 * _MARGIN, size[1] - 2 * _MARGIN, id=ident,
                     leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)

    doc = BaseDocTemplate(str(path), pagesize=portrait, title=title, author="police-rapid-response-sim",
                          creator="police-rapid-response-sim", invariant=1,
                          leftMargin=_MARGIN, rightMargin=_MARGIN, topMargin=_MARGIN, bottomMargin=_MARGIN)
    doc.addPageTemplates([
        PageTemplate("portrait", frames=[frame(portrait, "p")], pagesize=portrait, onPage=on_page),
        PageTemplate("landscape", frames=[frame(wide, "l")], pagesize=wide, onPage=on_page),
    ])
    text_w = portrait[0] - 2 * _MARGIN
    fig_w, fig_h = wide[0] - 2 * _MARGIN, wide[1] - 2 * _MARGIN
    story: list[Any] = []
    in_figures = False
    pending_heading: Paragraph | None = None
    for kind, payload in blocks:
        if kind == "figure":
            if not in_figures:
                story += [NextPageTemplate("landscape"), PageBreak()]
                if pending_heading is not None:
                    story.append(pending_heading)
                    pending_heading = None
                in_figures = True
            else:
                story.append(PageBreak())
            story += _figure(payload[0], payload[1], st, fig_w, fig_h - 20)
            continue
        if in_figures:
            story += [NextPageTemplate("portrait"), PageBreak()]
            in_figures = False
        if pending_heading is not None:
            story.append(pending_heading)
            pending_heading = None
        if kind in ("title", "subtitle", "para", "note"):
            story.append(_p(payload, st[kind]))
        elif kind == "heading":
            pending_heading = _p(payload, st["heading"])  # kept with what follows
        elif kind == "bullets":
            story += [Paragraph(escape(x), st["bullet"], bulletText="•") for x in payload]
        elif kind == "code":
            for line in payload:
                if all(ord(ch) < 0x100 for ch in line):
                    story.append(Preformatted(line, st["code"], maxLineLength=118, newLineChars=""))
                else:
                    story.append(_p(line, st["cell"]))
        elif kind in ("table", "grid"):
            story += _table(payload, st, text_w, grouped=kind == "table")
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    if pending_heading is not None:
        story.append(pending_heading)
    # binary streams: the ASCII85 text encoding (reportlab's default) is done in pure Python here
    # and takes most of the PDF's time for figures a quarter larger
    a85 = rl_config.useA85
    rl_config.useA85 = 0
    try:
        doc.build(story)
    finally:
        rl_config.useA85 = a85
    return int(doc.page)

