"""The toy 2-D gallery's figures and index: how each method's bits cut the rectangle.

Draws a :class:`~hashlearn.records.Toy2DGallery` (what
:func:`hashlearn.experiments.toy2d.run_toy2d` computes): one figure per method, a panel
per code length, and one overview with a row per method. In every panel

* each cell of equal code has one pale colour, the same for the same code in every panel
  and figure (code ``c``, read as an integer with bit 1 least significant, takes colour
  ``c mod 20`` of a fixed palette, so two cells whose codes differ in one bit never share a
  colour); with at most 4 bits the code is written in the cell, bit 1 first;
* bit ``j``'s boundary, the zero set of its projection on the grid, is a line of bit
  ``j``'s colour (the same in every panel);
* the training points are small black dots, and for supervised methods the label rule's
  quadrant lines are dotted grey.

:func:`write_toy2d_gallery` writes the PNGs (Agg, through
:func:`~hashlearn.report.figures.save_figure`) and ``index.md``, which lists every
method: drawn (with its figure, fit times, what the toy changed, warnings) or skipped
(with the reason).
"""

from __future__ import annotations

import math
import os
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._io import atomic_write_text
from hashlearn.records import Toy2DGallery, Toy2DMethod, Toy2DPanel
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
    code_span,
)
from hashlearn.report.figures import pyplot, save_figure
from hashlearn.report.markdown import render_markdown

__all__ = [
    "BIT_COLOURS",
    "CELL_COLOURS",
    "INDEX_NAME",
    "OVERVIEW_NAME",
    "Toy2DFiles",
    "code_image",
    "draw_toy2d_panel",
    "figure_name",
    "format_toy2d_index",
    "plot_toy2d_method",
    "plot_toy2d_overview",
    "write_toy2d_gallery",
]

INDEX_NAME = "index.md"
OVERVIEW_NAME = "overview.png"

#: Cell colours, indexed by ``code mod 20``: matplotlib's tab20 with its dark shades first
#: and its light ones after, so codes 1 apart (bit 1 flipped) take different hues, then
#: lightened towards white so that boundaries and points stay readable on them.
_TAB20 = (
    "#1f77b4",
    "#aec7e8",
    "#ff7f0e",
    "#ffbb78",
    "#2ca02c",
    "#98df8a",
    "#d62728",
    "#ff9896",
    "#9467bd",
    "#c5b0d5",
    "#8c564b",
    "#c49c94",
    "#e377c2",
    "#f7b6d2",
    "#7f7f7f",
    "#c7c7c7",
    "#bcbd22",
    "#dbdb8d",
    "#17becf",
    "#9edae5",
)
CELL_COLOURS = (*_TAB20[0::2], *_TAB20[1::2])
_CELL_WHITE = 0.55  # share of white mixed into a cell colour
#: Boundary colours, bit 1 first: dark and saturated, to stand out on the pale cells. Bits
#: 9 to 16 take them again, dashed.
BIT_COLOURS = (
    "#111111",
    "#c62828",
    "#1565c0",
    "#2e7d32",
    "#6a1b9a",
    "#e65100",
    "#00838f",
    "#795548",
)
_DPI_METHOD = 110
_DPI_OVERVIEW = 80
_LABELLED_BITS = 4  # codes written in the cells up to this length
_OVERVIEW_POINTS = 300  # the dots are most of a PNG's bytes: the overview shows fewer
_PNG_COLOURS = 256  # palette PNGs: a few times smaller, no visible change on flat cells


@dataclass(frozen=True)
class Toy2DFiles:
    """What :func:`write_toy2d_gallery` wrote."""

    index: Path
    overview: Path | None
    figures: dict[str, Path]


def figure_name(spec: str) -> str:
    """The file name of a method's figure: its spec with anything but letters, digits,
    ``_`` and ``.`` made ``-`` (``"grh:kernel=rbf"`` -> ``"grh-kernel-rbf.png"``)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", spec).strip("-") + ".png"


def code_image(projections: np.ndarray) -> np.ndarray:
    """The code of every grid point as an integer (bit ``j`` has weight ``2**j``):
    ``int64 (n_y, n_x)`` from projections ``(n_y, n_x, n_bits)``."""
    bits = (projections >= 0).astype(np.int64)
    return bits @ (np.int64(1) << np.arange(projections.shape[-1], dtype=np.int64))


def _cell_rgb(codes: np.ndarray) -> np.ndarray:
    from matplotlib.colors import to_rgb

    table = np.array([to_rgb(colour) for colour in CELL_COLOURS])
    table = (1 - _CELL_WHITE) * table + _CELL_WHITE
    return table[codes % len(CELL_COLOURS)]


def _bit_style(bit: int) -> dict[str, Any]:
    return {
        "colors": [BIT_COLOURS[bit % len(BIT_COLOURS)]],
        "linestyles": "solid" if bit < len(BIT_COLOURS) else "dashed",
    }


def _code_text(code: int, n_bits: int) -> str:
    return "".join(str((code >> j) & 1) for j in range(n_bits))


def _label_cells(ax: Any, gallery: Toy2DGallery, codes: np.ndarray, n_bits: int) -> None:
    """Write each cell's code where the text's box fits inside the cell, as far from its
    border as possible; cells too small for the text stay unlabelled."""
    from scipy import ndimage

    fig_width = ax.figure.get_figwidth() * ax.get_position().width * 72  # points
    points_per_step = fig_width / codes.shape[1]
    fontsize = 7.0 if n_bits > 2 else 8.0
    # A monospace character is about 0.6 em wide; a margin of one character each side.
    half_width = int(np.ceil(0.6 * fontsize * (n_bits + 2) / 2 / points_per_step))
    half_height = int(np.ceil(1.6 * fontsize / 2 / points_per_step))
    box = (2 * half_height + 1, 2 * half_width + 1)
    for code in np.unique(codes):
        mask = codes == code
        fits = ndimage.uniform_filter(mask.astype(np.float64), size=box, mode="constant") > 0.999
        if not fits.any():
            continue
        depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        regions, count = ndimage.label(mask)
        for region in range(1, count + 1):
            inside = fits & (regions == region)
            if not inside.any():
                continue
            row, column = np.unravel_index(np.argmax(np.where(inside, depth, -1.0)), depth.shape)
            ax.text(
                gallery.x_grid[column],
                gallery.y_grid[row],
                _code_text(int(code), n_bits),
                ha="center",
                va="center",
                fontsize=fontsize,
                family="monospace",
                color="0.1",
                zorder=5,
                clip_on=True,
            )


def draw_toy2d_panel(
    ax: Any,
    gallery: Toy2DGallery,
    method: Toy2DMethod,
    panel: Toy2DPanel,
    *,
    point_size: float = 1.2,
    max_points: int | None = None,
    labels: bool = True,
    short: bool = False,
) -> None:
    """Draw one panel (cells, boundaries, points) on ``ax``; a panel that was not fitted
    shows its reason instead (its first clause when ``short``).

    ``max_points`` draws only the first training points (they are in random order), to
    keep a figure of many panels small; ``labels`` writes the codes in the cells (at most
    4 bits).
    """
    (x0, y0), (x1, y1) = gallery.low, gallery.high
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7, length=2, pad=1)
    if not panel.drawn:
        ax.set_facecolor("0.95")
        reason = _short_reason(panel.reason) if short else panel.reason or "not fitted"
        reason = textwrap.fill(
            textwrap.shorten(reason, 200, placeholder=" ..."), 30 if short else 40
        )
        ax.text(
            (x0 + x1) / 2,
            (y0 + y1) / 2,
            f"not drawn:\n{reason}",
            ha="center",
            va="center",
            fontsize=7 if short else 6.5,
            color="0.25",
        )
        ax.set_title(f"{panel.n_bits} bits", fontsize=8)
        return
    projections = panel.projections
    codes = code_image(projections)
    ax.imshow(
        _cell_rgb(codes),
        origin="lower",
        extent=(x0, x1, y0, y1),
        interpolation="nearest",
        aspect="equal",
    )
    for bit in range(panel.n_bits):
        values = projections[..., bit]
        if values.min() < 0 <= values.max():
            ax.contour(
                gallery.x_grid,
                gallery.y_grid,
                values,
                levels=[0.0],
                linewidths=1.3,
                **_bit_style(bit),
            )
    if method.supervised:
        middle = ((x0 + x1) / 2, (y0 + y1) / 2)
        ax.axvline(middle[0], color="0.45", lw=0.9, ls=":", zorder=3)
        ax.axhline(middle[1], color="0.45", lw=0.9, ls=":", zorder=3)
    shown = gallery.points[:max_points]
    ax.scatter(
        shown[:, 0],
        shown[:, 1],
        s=point_size,
        c="black",
        alpha=0.45,
        linewidths=0,
        zorder=4,
    )
    if labels and panel.n_bits <= _LABELLED_BITS:
        _label_cells(ax, gallery, codes, panel.n_bits)
    ax.set_title(_panel_title(panel, codes), fontsize=8)


def _short_reason(reason: str | None) -> str:
    """An error's first clause, without its type: ``"ValueError: PCAHashing needs n_bits
    <= n_features: it takes ..."`` -> ``"PCAHashing needs n_bits <= n_features"``."""
    text = reason or "not fitted"
    kind, colon, message = text.partition(": ")
    if colon and re.fullmatch(r"[A-Za-z_][\w.]*", kind):
        text = message
    first = re.split(r"[:;] |\. ", text, maxsplit=1)[0]
    return first if len(first) >= 12 else text


def _panel_title(panel: Toy2DPanel, codes: np.ndarray) -> str:
    cells = len(np.unique(codes))
    title = f"{panel.n_bits} bits: {cells} cell{'s' * (cells != 1)}"
    signs = panel.projections >= 0
    constant = int(np.sum(signs.all(axis=(0, 1)) | (~signs).all(axis=(0, 1))))
    if constant:
        title += f", {constant} bit{'s' * (constant != 1)} constant"
    return title


def _bit_legend(fig: Any, n_bits: int, *, fontsize: float, anchor: tuple[float, float]) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D(
            [],
            [],
            color=BIT_COLOURS[bit % len(BIT_COLOURS)],
            ls="-" if bit < len(BIT_COLOURS) else "--",
            lw=1.6,
        )
        for bit in range(n_bits)
    ]
    fig.legend(
        handles,
        [f"bit {bit + 1}" for bit in range(n_bits)],
        loc="upper center",
        bbox_to_anchor=anchor,
        ncol=min(n_bits, 8),
        fontsize=fontsize,
        frameon=False,
        handlelength=1.6,
        columnspacing=1.0,
        title="boundary of",
        title_fontsize=fontsize,
    )


def _method_name(method: Toy2DMethod) -> str:
    """The label, with the spec when it says more (``ITQ+CCA (cca-itq)``, not ``SH (sh)``)."""
    if method.label.lower() == method.spec.lower():
        return method.label
    return f"{method.label} ({method.spec})"


def _method_title(method: Toy2DMethod) -> str:
    title = _method_name(method)
    if method.supervised:
        title += ", supervised: quadrant labels (dotted)"
    return title


def plot_toy2d_method(
    gallery: Toy2DGallery, method: Toy2DMethod, path: str | os.PathLike[str]
) -> Path:
    """One method's figure: a panel per code length, the bit legend below."""
    plt = pyplot()
    columns = len(method.panels)
    fig, axes = plt.subplots(1, columns, figsize=(3.3 * columns, 2.35), squeeze=False)
    for ax, panel in zip(axes[0], method.panels, strict=True):
        draw_toy2d_panel(ax, gallery, method, panel)
    fig.suptitle(_method_title(method), fontsize=10)
    longest = max((p.n_bits for p in method.panels if p.drawn), default=0)
    fig.subplots_adjust(
        left=0.04, right=0.99, top=0.8, bottom=0.3 if longest else 0.08, wspace=0.12
    )
    if longest:
        _bit_legend(fig, longest, fontsize=7, anchor=(0.5, 0.17))
    return save_figure(fig, path, dpi=_DPI_METHOD, colours=_PNG_COLOURS)


def plot_toy2d_overview(gallery: Toy2DGallery, path: str | os.PathLike[str]) -> Path | None:
    """Every drawn method in a row of panels (one per code length), in two blocks side by
    side when there are more than six; the skipped ones listed below. None (nothing
    written) when no method is drawn."""
    drawn = [method for method in gallery.methods if method.skipped is None]
    if not drawn:
        return None
    plt = pyplot()
    columns = len(gallery.bits)
    blocks = 2 if len(drawn) > 6 else 1
    rows = math.ceil(len(drawn) / blocks)
    footer = _skipped_footer([m for m in gallery.methods if m.skipped is not None])
    footer_inches = 0.13 * (footer.count("\n") + 1) + 0.1 if footer else 0.0
    panel_width, row_height, label_width, top_inches = 1.9, 1.22, 1.3, 0.75
    block_width = label_width + columns * panel_width
    width, height = blocks * block_width, top_inches + rows * row_height + footer_inches
    fig = plt.figure(figsize=(width, height))
    for block in range(blocks):
        grid = fig.add_gridspec(
            rows,
            columns,
            left=(block * block_width + label_width) / width,
            right=((block + 1) * block_width - 0.1) / width,
            top=1 - top_inches / height,
            bottom=(footer_inches + 0.05) / height,
            hspace=0.38,
            wspace=0.08,
        )
        for row, method in enumerate(drawn[block * rows : (block + 1) * rows]):
            _overview_row(fig, grid, row, gallery, method)
    _bit_legend(fig, max(gallery.bits), fontsize=8, anchor=(0.5, 1.0))
    if footer:
        fig.text(0.005, 0.004, footer, fontsize=7, va="bottom", ha="left", color="0.25")
    return save_figure(fig, path, dpi=_DPI_OVERVIEW, colours=_PNG_COLOURS)


def _overview_row(
    fig: Any, grid: Any, row: int, gallery: Toy2DGallery, method: Toy2DMethod
) -> None:
    for column, panel in enumerate(method.panels):
        ax = fig.add_subplot(grid[row, column])
        draw_toy2d_panel(
            ax,
            gallery,
            method,
            panel,
            point_size=0.8,
            max_points=_OVERVIEW_POINTS,
            labels=False,
            short=True,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.title.set_fontsize(7)
        if column == 0:
            label = "\n".join(textwrap.wrap(method.label, 16))
            if method.label.lower() != method.spec.lower():
                label += f"\n({method.spec})"
            if method.supervised:
                label += "\n(supervised)"
            ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center", labelpad=6)


def _skipped_footer(skipped: Sequence[Toy2DMethod]) -> str:
    if not skipped:
        return ""
    lines = ["not drawn (see index.md):"]
    for method in skipped:
        reason = textwrap.shorten(_short_reason(method.skipped), 110, placeholder=" ...")
        lines.append(f"  {method.spec}: {reason}")
    return "\n".join(lines)


def format_toy2d_index(
    gallery: Toy2DGallery, figures: dict[str, str], *, command: str | None = None
) -> str:
    """``index.md``: the setup, the overview, a table of every method (drawn or
    skipped), what the toy changed, warnings, and every method's figure.

    ``figures`` maps a method's spec to its figure's file name (relative to the index).
    """
    (x0, y0), (x1, y1) = gallery.low, gallery.high
    bits = ", ".join(map(str, gallery.bits))
    blocks: list[Block] = [
        Heading(1, "Toy 2-D gallery"),
        Paragraph(
            f"{len(gallery.points):,} points uniform on [{x0:g}, {x1:g}] x [{y0:g}, {y1:g}] "
            f"(seed {gallery.seed}), every method fitted with seed {gallery.seed} at {bits} "
            f"bits and its projections evaluated on a {len(gallery.x_grid)} x "
            f"{len(gallery.y_grid)} grid. Cells of one code share a pale colour (the same "
            "code, the same colour, in every panel); bit j's boundary, the zero set of its "
            "projection, is a line of bit j's colour; the dots are the training points. "
            f"Supervised methods were given {gallery.label_rule} (the dotted lines). How to "
            "read it: `docs/toy2d.md` of hashlearn's documentation."
        ),
    ]
    if command:
        blocks.append(Code(command, summary="Regenerate with", language="bash"))
    if any(method.skipped is None for method in gallery.methods):
        blocks.append(Figure(Path(OVERVIEW_NAME), OVERVIEW_NAME, f"every method at {bits} bits"))
    blocks.append(_method_table(gallery, figures))
    blocks += _notes(gallery)
    for method in gallery.methods:
        if method.spec in figures:
            name = figures[method.spec]
            blocks.append(Heading(2, _method_name(method)))
            blocks.append(Figure(Path(name), name, f"{method.label} at {bits} bits"))
    assign_slugs(blocks)
    return render_markdown(blocks, contents=False)


def _method_table(gallery: Toy2DGallery, figures: dict[str, str]) -> Table:
    rows = []
    for method in gallery.methods:
        drawn = [panel for panel in method.panels if panel.drawn]
        name = figures.get(method.spec)
        rows.append(
            (
                "",
                [
                    Cell(code_span(method.spec), "method"),
                    Cell(method.label),
                    Cell("quadrant" if method.supervised else "none"),
                    Cell(", ".join(str(panel.n_bits) for panel in drawn) or "-"),
                    Cell(", ".join(f"{panel.fit_seconds:.2f}" for panel in drawn) or "-"),
                    Cell(f"[{name}]({name})" if name else f"skipped: {method.skipped}"),
                ],
            )
        )
    header = ["method", "label", "labels", "drawn at (bits)", "fit seconds", "figure or reason"]
    caption = (
        "Every method asked for, drawn or skipped. Fit seconds are wall-clock on the machine "
        "that drew the gallery, including what the fit imports (the first network-trained "
        "method imports torch)."
    )
    return Table(header, rows, caption, left=len(header))


def _notes(gallery: Toy2DGallery) -> list[Block]:
    blocks: list[Block] = []
    partial = [
        f"{code_span(method.spec)} at {panel.n_bits} bits: {panel.reason}"
        for method in gallery.methods
        if method.skipped is None
        for panel in method.panels
        if not panel.drawn
    ]
    if partial:
        blocks += [Heading(2, "Code lengths not drawn"), Bullets(partial)]
    changed = [f"{code_span(m.spec)}: {m.note}" for m in gallery.methods if m.note]
    if changed:
        blocks += [Heading(2, "Toy settings"), Bullets(changed)]
    warned = [
        f"{code_span(method.spec)} at {panel.n_bits} bits: {text}"
        for method in gallery.methods
        for panel in method.panels
        for text in panel.warnings
    ]
    if warned:
        blocks += [Heading(2, "Warnings while fitting"), Bullets(warned)]
    return blocks


def write_toy2d_gallery(
    gallery: Toy2DGallery, out: str | os.PathLike[str], *, command: str | None = None
) -> Toy2DFiles:
    """Write every drawn method's figure, the overview and ``index.md`` into ``out``.

    Parameters
    ----------
    gallery : Toy2DGallery
        What :func:`hashlearn.experiments.toy2d.run_toy2d` returned.
    out : path
        The folder (created if missing). Files of the same names are replaced, and the
        figures a previous ``index.md`` there linked that this gallery does not draw are
        removed; nothing else in the folder is touched.
    command : str, optional
        The command that regenerates the gallery, shown in the index.

    Returns
    -------
    Toy2DFiles
        The paths written.
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"out must be a folder, but {folder} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    earlier = _linked_figures(folder / INDEX_NAME)
    figures: dict[str, Path] = {}
    for method in gallery.methods:
        if method.skipped is None:
            figures[method.spec] = plot_toy2d_method(
                gallery, method, folder / figure_name(method.spec)
            )
    overview = plot_toy2d_overview(gallery, folder / OVERVIEW_NAME)
    names = {spec: path.name for spec, path in figures.items()}
    index = atomic_write_text(
        folder / INDEX_NAME, format_toy2d_index(gallery, names, command=command)
    )
    # Figures the previous index of this folder linked and this one does not (a method
    # removed, or no longer drawn) would otherwise linger beside the new gallery.
    for name in sorted(earlier - _linked_figures(index)):
        (folder / name).unlink(missing_ok=True)
    return Toy2DFiles(index=index, overview=overview, figures=figures)


def _linked_figures(index: Path) -> set[str]:
    """The PNG file names an ``index.md`` links (none when there is no index)."""
    if not index.is_file():
        return set()
    return set(re.findall(r"\]\(([\w.-]+\.png)\)", index.read_text(encoding="utf-8")))
