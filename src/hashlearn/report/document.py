"""A small document model: a report is a list of blocks, rendered to Markdown or HTML.

Reports build blocks from records (headings, paragraphs, bullet lists, tables, code
blocks, figures) and never write markup themselves; :mod:`hashlearn.report.markdown` and
:mod:`hashlearn.report.html` turn the same blocks into the two formats. Text may carry
`code` spans and ``**bold**`` / ``*emphasis*``, the only inline markup both renderers know.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Block",
    "Bullets",
    "Cell",
    "Code",
    "Figure",
    "Heading",
    "Paragraph",
    "Table",
    "assign_slugs",
    "code_span",
]


@dataclass
class Cell:
    """A table cell: its text, a style class (``method``, ``within``, ``failed``, ...) and
    whether Markdown shows it in bold (HTML styles it by its class)."""

    text: str
    css: str = ""
    strong: bool = False


@dataclass
class Table:
    """A table: header, rows of ``(row class, cells)``, a caption.

    The row class ``"anchor"`` marks a published row and ``"difference"`` an
    ours - published row; ``left`` leading columns are text (left-aligned), the rest
    numbers.
    """

    header: list[str]
    rows: list[tuple[str, list[Cell]]]
    caption: str = ""
    left: int = 1


@dataclass
class Heading:
    """A heading of ``level`` 1-3; ``slug`` is its anchor, set by :func:`assign_slugs`."""

    level: int
    text: str
    slug: str = ""


@dataclass
class Paragraph:
    """A paragraph of text."""

    text: str


@dataclass
class Bullets:
    """A bullet list."""

    items: list[str]


@dataclass
class Code:
    """Preformatted text (a log, a configuration, commands) introduced by ``summary``.

    With a summary, HTML shows it collapsed in a ``<details>`` and Markdown as a fenced
    block after the summary line; without one, both show the block as it is.
    """

    text: str
    summary: str = ""
    language: str = ""


@dataclass
class Figure:
    """A PNG figure already written at ``path``, referenced as ``relative`` from the page."""

    path: Path
    relative: str
    alt: str


Block = Heading | Paragraph | Bullets | Code | Figure | Table


def code_span(text: object) -> str:
    """``text`` as a `code` span (a backtick inside becomes a quote)."""
    return "`" + str(text).replace("`", "'") + "`"


def assign_slugs(blocks: Sequence[Block]) -> None:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces -> '-', then -1, -2."""
    seen: dict[str, int] = {}
    for block in blocks:
        if not isinstance(block, Heading):
            continue
        base = re.sub(r"[^\w\- ]", "", block.text.lower()).replace(" ", "-") or "section"
        count = seen.get(base, 0)
        seen[base] = count + 1
        block.slug = base if count == 0 else f"{base}-{count}"
