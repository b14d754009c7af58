"""HTML rendering of the document model (:mod:`hashlearn.report.document`).

The page is self-contained: the CSS is inline, figures are embedded as base64 data URIs,
and there are no scripts and no external links, so it can be mailed or archived as one
file. Every text from records is escaped.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence

from hashlearn.report.document import (
    Block,
    Bullets,
    Cell,
    Code,
    Heading,
    Paragraph,
    Table,
)

__all__ = ["render_html"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       max-width: 1200px; margin: 2em auto; padding: 0 1.2em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; padding-bottom: .15em; margin-top: 2em; }
h3 { margin-top: 1.6em; }
code { background: #f2f2f2; padding: 0 .25em; border-radius: 3px; font-size: 92%; }
nav { background: #f7f7f9; border: 1px solid #ddd; padding: .6em 1.2em; border-radius: 4px; }
nav ul { margin: .2em 0; padding-left: 1.2em; }
.table-wrap { overflow-x: auto; margin: .4em 0 1.2em; }
table { border-collapse: collapse; font-size: 13.5px; }
caption { caption-side: top; text-align: left; color: #555; font-style: italic; padding: .2em 0; }
th, td { border: 1px solid #d4d4d4; padding: .3em .6em; text-align: right; white-space: nowrap; }
th { background: #e9ecef; }
th:first-child, td:first-child, th.text, td.text { text-align: left; }
td.message { text-align: left; white-space: normal; min-width: 20em; }
tbody tr:nth-child(even) { background: #f6f8fa; }
tr.anchor td, tr.difference td { font-size: 12.5px; color: #555; background: #fffdf3; }
tr.anchor td:first-child, tr.difference td:first-child { padding-left: 1.6em; }
td.within { color: #1a7f37; font-weight: 600; }
td.above { color: #0550ae; font-weight: 600; }
td.below { color: #cf222e; font-weight: 600; }
td.failed { color: #cf222e; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
figcaption { color: #555; font-size: 13px; }
pre { background: #f6f8fa; padding: .7em; overflow-x: auto; font-size: 12.5px; }
details { margin: .4em 0; }
.legend span { margin-right: 1.2em; }
"""


def _inline(text: str) -> str:
    """Escape, then render `code` and **bold** spans (the only markup the document uses)."""
    # Split off the code spans first: emphasis applies only to the text between them, so
    # a `*` inside a spec or a path can never open a tag that closes elsewhere.
    parts = re.split(r"(`[^`]*`)", text)
    rendered = []
    for index, part in enumerate(parts):
        if index % 2:
            rendered.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        escaped = html.escape(part)
        escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
        rendered.append(re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", escaped))
    return "".join(rendered)


def _table(table: Table) -> str:
    parts = ['<div class="table-wrap"><table>']
    if table.caption:
        parts.append(f"<caption>{html.escape(table.caption)}</caption>")
    parts.append(
        "<thead><tr>"
        + "".join(
            (
                f'<th class="text">{html.escape(h)}</th>'
                if i < table.left
                else f"<th>{html.escape(h)}</th>"
            )
            for i, h in enumerate(table.header)
        )
        + "</tr></thead>"
    )
    parts.append("<tbody>")
    for kind, cells in table.rows:
        row_class = f' class="{kind}"' if kind else ""
        tds = "".join(_td(cell, left=column < table.left) for column, cell in enumerate(cells))
        parts.append(f"<tr{row_class}>{tds}</tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def _td(cell: Cell, *, left: bool) -> str:
    classes = " ".join(filter(None, (cell.css, "text" if left else "")))
    opening = f'<td class="{classes}">' if classes else "<td>"
    return opening + html.escape(cell.text) + "</td>"


def _toc(headings: Sequence[Heading]) -> str:
    parts = ["<nav><strong>Contents</strong><ul>"]
    open_sub = False
    for heading in headings:
        link = f'<a href="#{html.escape(heading.slug)}">{html.escape(heading.text)}</a>'
        if heading.level == 2:
            if open_sub:
                parts.append("</ul></li>")
                open_sub = False
            elif len(parts) > 1:
                parts.append("</li>")
            parts.append(f"<li>{link}")
        else:
            if not open_sub:
                parts.append("<ul>")
                open_sub = True
            parts.append(f"<li>{link}</li>")
    parts.append("</ul></li>" if open_sub else "</li>")
    parts.append("</ul></nav>")
    return "".join(parts)


def _block(block: Block, headings: Sequence[Heading]) -> str:
    if isinstance(block, Heading):
        text = (
            f'<h{block.level} id="{html.escape(block.slug)}">{html.escape(block.text)}'
            f"</h{block.level}>"
        )
        return text + ("\n" + _toc(headings) if block.level == 1 and headings else "")
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Code):
        if not block.summary:
            return f"<pre>{html.escape(block.text)}</pre>"
        return (
            f"<details><summary>{html.escape(block.summary)}</summary>"
            f"<pre>{html.escape(block.text)}</pre></details>"
        )
    data = base64.b64encode(block.path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.alt)}">'
        f"<figcaption>{html.escape(block.alt)}</figcaption></figure>"
    )


def render_html(blocks: Sequence[Block], title: str) -> str:
    """The blocks as one self-contained HTML page.

    Parameters
    ----------
    blocks : sequence of Block
        The document, with slugs assigned (:func:`~hashlearn.report.document.assign_slugs`).
        A level-1 heading is followed by a table of contents of the level-2 and -3 ones.
    title : str
        The page's ``<title>``.

    Returns
    -------
    str
        The page: inline CSS, figures as base64 data URIs, no scripts, no external links.
    """
    headings = [b for b in blocks if isinstance(b, Heading) and b.level in (2, 3)]
    body = [_block(block, headings) for block in blocks]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
