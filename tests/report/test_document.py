"""The document model and its two renderers, on blocks written by hand."""

from __future__ import annotations

from pathlib import Path

from hashlearn.report.document import (
    Block,
    Bullets,
    Cell,
    Code,
    Figure,
    Heading,
    Paragraph,
    Table,
    assign_slugs,
)
from hashlearn.report.html import render_html
from hashlearn.report.markdown import render_markdown


def _blocks(tmp_path: Path) -> list[Block]:
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    table = Table(
        ["", "16 bits"],
        [
            ("", [Cell("a|b <c>", "method"), Cell("0.5")]),
            ("difference", [Cell("↳ ours - published"), Cell("+0.1 above", "above", strong=True)]),
        ],
        "caption",
    )
    blocks: list[Block] = [
        Heading(1, "Title"),
        Heading(2, "Run"),
        Paragraph("`<x>` & *y* **z**"),
        Bullets(["one", "two"]),
        Heading(2, "Run"),
        table,
        Code("echo hi", language="bash"),
        Code("log", "traceback"),
        Figure(png, "figures/a.png", "alt [x]"),
    ]
    assign_slugs(blocks)
    return blocks


def test_slugs_are_unique(tmp_path: Path) -> None:
    blocks = _blocks(tmp_path)
    assert [b.slug for b in blocks if isinstance(b, Heading)] == ["title", "run", "run-1"]


def test_markdown(tmp_path: Path) -> None:
    text = render_markdown(_blocks(tmp_path))
    assert "Contents:\n\n- [Run](#run)\n- [Run](#run-1)\n" in text
    assert "`<x>` &amp; *y* **z**" in text  # no raw HTML outside code spans
    assert "| | 16 bits |\n|---|---:|\n| a\\|b &lt;c&gt; | 0.5 |" in text
    assert "| ↳ ours - published | **+0.1 above** |" in text
    assert "\n```bash\necho hi\n```\n" in text  # no summary: the block alone
    assert "traceback:\n\n```\nlog\n```" in text
    assert "![alt (x)](figures/a.png)" in text
    assert "Contents" not in render_markdown(_blocks(tmp_path), contents=False)


def test_html(tmp_path: Path) -> None:
    page = render_html(_blocks(tmp_path), "T <1>")
    assert "<title>T &lt;1&gt;</title>" in page
    assert '<a href="#run-1">Run</a>' in page
    assert "<p><code>&lt;x&gt;</code> &amp; <em>y</em> <strong>z</strong></p>" in page
    assert '<td class="above">+0.1 above</td>' in page and "a|b &lt;c&gt;" in page
    assert "<pre>echo hi</pre>" in page
    assert "<details><summary>traceback</summary><pre>log</pre></details>" in page
    assert 'src="data:image/png;base64,' in page
