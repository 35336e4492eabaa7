"""The brief as one self-contained HTML file: figures as small palette PNG data URIs at about the size
they are shown, Chinese text in an embedded subset of the CJK font, and a content security policy that
forbids every external request.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

from sim.brief.content import Block, block_text
from sim.viz.fonts import cjk_font

__all__ = ["CSP", "font_face", "html_text", "keep_font_face", "render_html"]

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
       "base-uri 'none'; form-action 'none'")

_CSS = """
body{margin:0;background:#f4f4f2;color:#1a1a1a;font:16px/1.55 "ReportCJK",-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif}
main{max-width:1040px;margin:0 auto;padding:28px 36px 48px;background:#fff}
h1{font-size:1.8em;margin:0 0 .2em}h2{font-size:1.3em;margin:1.6em 0 .5em;border-bottom:2px solid #0072B2;
padding-bottom:.15em}.sub{color:#555;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:.86em}th,td{padding:.3em .5em;text-align:left;
border-bottom:1px solid #ddd;vertical-align:top}th{background:#eef3f8}
tbody tr.first td{border-top:2px solid #999}
td.num{text-align:right;white-space:nowrap}.note{color:#555;font-size:.85em}
figure{margin:1.4em 0;page-break-inside:avoid}figure img{width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.9em;color:#333;margin-top:.3em}
pre{background:#f6f6f6;padding:.6em .8em;overflow-x:auto;font-size:.8em;white-space:pre-wrap;
word-break:break-all}
ul.findings li{margin-bottom:.4em}footer{margin-top:2em;color:#666;font-size:.8em}
"""


_FACES: dict[str, str] = {}
"""@font-face rules made in this process, by the characters they hold."""


def font_face(text: str) -> str:
    """An @font-face rule with the CJK font cut down to the characters in ``text`` (WOFF, base64);
    made once per set of characters (:func:`keep_font_face` adds one made elsewhere)."""
    chars = "".join(sorted({ch for ch in text if ord(ch) > 0x2E7F}))
    if not chars:
        return ""
    if chars not in _FACES:
        keep_font_face(text, _face(chars))
    return _FACES[chars]


def keep_font_face(text: str, rule: str) -> None:
    """Keep ``rule``, the :func:`font_face` of ``text`` made in another process."""
    if len(_FACES) >= 16:
        _FACES.clear()
    _FACES["".join(sorted({ch for ch in text if ord(ch) > 0x2E7F}))] = rule


def _face(chars: str) -> str:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = cjk_font()
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # keep the licence and copyright notices
    options.notdef_outline = True
    buf = io.BytesIO()
    # the bounding boxes are the font's own (a subset's glyphs keep theirs); recomputing them
    # runs every kept CFF outline and takes a third of the time
    with TTFont(font.path, fontNumber=font.index, lazy=False, recalcBBoxes=False) as tt:
        sub = subset.Subsetter(options)
        sub.populate(text=chars)
        sub.subset(tt)
        tt.flavor = "woff"
        tt.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return ('@font-face{font-family:"ReportCJK";font-display:block;'
            f'src:url(data:font/woff;base64,{data}) format("woff")}}')


def html_text(blocks: Sequence[Block], title: str) -> str:
    """All the text :func:`render_html` shows (its font subset holds these characters)."""
    return block_text(blocks) + title


def _table(payload: tuple[list[str], list[list[str]], str], grouped: bool = True) -> str:
    """A table; ``grouped``: the compliance table (a rule above each layout's first row, numbers
    from the fourth column), else a plain grid (numbers from the second column)."""
    e = html.escape
    headers, rows, note = payload
    first_num = 3 if grouped else 1
    parts = ["<table><thead><tr>", *(f"<th>{e(h)}</th>" for h in headers), "</tr></thead><tbody>"]
    for row in rows:
        cls = " class=first" if grouped and row[0] else ""
        cells = "".join(f"<td{' class=num' if i >= first_num else ''}>{e(c)}</td>"
                        for i, c in enumerate(row))
        parts.append(f"<tr{cls}>{cells}</tr>")
    parts.append("</tbody></table>" + (f"<p class=note>{e(note)}</p>" if note else ""))
    return "".join(parts)


def render_html(blocks: Sequence[Block], *, lang: str, title: str) -> str:
    """The HTML page of ``blocks`` (see :mod:`sim.brief.content`)."""
    e = html.escape
    parts: list[str] = []
    for kind, payload in blocks:
        if kind == "title":
            parts.append(f"<h1>{e(payload)}</h1>")
        elif kind == "subtitle":
            parts.append(f"<p class=sub>{e(payload)}</p>")
        elif kind == "heading":
            parts.append(f"<h2>{e(payload)}</h2>")
        elif kind == "para":
            parts.append(f"<p>{e(payload)}</p>")
        elif kind == "note":
            parts.append(f"<p class=note>{e(payload)}</p>")
        elif kind == "bullets":
            parts.append("<ul class=findings>" + "".join(f"<li>{e(x)}</li>" for x in payload) + "</ul>")
        elif kind == "code":
            parts.append(f"<pre>{e(chr(10).join(payload))}</pre>")
        elif kind in ("table", "grid"):
            parts.append(_table(payload, grouped=kind == "table"))
        elif kind == "figure":
            fig, caption = payload
            data = base64.b64encode(fig.preview).decode("ascii")
            files = ", ".join(p.name for p in fig.files)
            parts.append(f'<figure id="{e(fig.name)}"><img src="data:image/png;base64,{data}" '
                         f'alt="{e(caption)}"><figcaption>{e(caption)} <span class=note>({e(files)})'
                         "</span></figcaption></figure>")
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    body = "\n".join(parts)
    face = font_face(html_text(blocks, title))
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n"
            f"<style>{face}{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")
