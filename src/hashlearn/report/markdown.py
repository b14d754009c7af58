"""Markdown rendering of the document model (:mod:`hashlearn.report.document`).

The Markdown holds no raw HTML: ``<``, ``>`` and ``&`` are escaped outside `code` spans,
so text from records (method labels, error messages) can never inject markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hashlearn.report.document import Block, Bullets, Code, Figure, Heading, Paragraph, Table

__all__ = ["render_markdown"]


def _text(text: str) -> str:
    """Markdown text with no raw HTML: ``<``, ``>`` and ``&`` escaped outside `code` spans."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _cell(text: str) -> str:
    return _text(text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " "))


def _table(table: Table) -> list[str]:
    lines = []
    if table.caption:
        lines += [f"_{table.caption}_", ""]
    lines.append(_row(_cell(h) for h in table.header))
    lines.append(
        "|" + "|".join("---" if i < table.left else "---:" for i in range(len(table.header))) + "|"
    )
    for _, cells in table.rows:
        lines.append(_row(f"**{_cell(c.text)}**" if c.strong else _cell(c.text) for c in cells))
    return lines


def _row(texts: Iterable[str]) -> str:
    # An empty cell is one space wide, as in "| | r=0 |".
    return "|" + "|".join(f" {text} " if text else " " for text in texts) + "|"


def render_markdown(blocks: Sequence[Block], *, contents: bool = True) -> str:
    """The blocks as Markdown.

    Parameters
    ----------
    blocks : sequence of Block
        The document, with slugs assigned (:func:`~hashlearn.report.document.assign_slugs`).
    contents : bool, default True
        Follow a level-1 heading with a table of contents of the level-2 and -3 headings.

    Returns
    -------
    str
        Markdown text ending in one newline; figures are linked by their relative path.
    """
    out: list[str] = []
    headings = [b for b in blocks if isinstance(b, Heading) and b.level in (2, 3)]
    for block in blocks:
        if isinstance(block, Heading):
            out += [f"{'#' * block.level} {_text(block.text)}", ""]
            if block.level == 1 and headings and contents:
                out.append("Contents:")
                out.append("")
                for heading in headings:
                    indent = "  " * (heading.level - 2)
                    out.append(f"{indent}- [{_text(heading.text)}](#{heading.slug})")
                out.append("")
        elif isinstance(block, Paragraph):
            out += [_text(block.text), ""]
        elif isinstance(block, Bullets):
            out += [f"- {_text(item)}" for item in block.items] + [""]
        elif isinstance(block, Table):
            out += [*_table(block), ""]
        elif isinstance(block, Code):
            fence = "````" if "```" in block.text else "```"
            if block.summary:
                out += [f"{_text(block.summary)}:", ""]
            out += [f"{fence}{block.language}", block.text]
            out += [fence, ""]
        elif isinstance(block, Figure):
            alt = _text(block.alt).replace("[", "(").replace("]", ")")
            out += [f"![{alt}]({block.relative})", ""]
    return "\n".join(out).rstrip("\n") + "\n"
