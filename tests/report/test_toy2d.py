"""The toy 2-D gallery's figures, index and command, and the gallery committed in the docs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from hashlearn.cli import main
from hashlearn.experiments.methods import METHODS, MethodInfo, build_method
from hashlearn.experiments.toy2d import run_toy2d
from hashlearn.records import Toy2DMethod, Toy2DPanel
from hashlearn.report.figures import pyplot
from hashlearn.report.toy2d import (
    CELL_COLOURS,
    INDEX_NAME,
    OVERVIEW_NAME,
    code_image,
    draw_toy2d_panel,
    figure_name,
    write_toy2d_gallery,
)

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "images" / "toy2d"
REGENERATE = "hashlearn toy2d --out docs/images/toy2d"
PNG = b"\x89PNG\r\n\x1a\n"


def _draw(gallery, method, panel):
    from matplotlib.contour import ContourSet

    plt = pyplot()
    fig, ax = plt.subplots()
    draw_toy2d_panel(ax, gallery, method, panel)
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    image = np.asarray(ax.images[0].get_array()) if ax.images else None
    plt.close(fig)
    return contours, image


def _vertices(contour):
    return np.concatenate([path.vertices for path in contour.get_paths()])


def test_a_linear_hashers_boundaries_are_drawn_on_its_hyperplanes():
    gallery = run_toy2d("lsh:centre=false", bits=4, seed=2, n_points=200, resolution=80)
    method = gallery.methods[0]
    panel = method.panels[0]
    hasher = build_method("lsh:centre=false", 4, 2).fit(gallery.points)
    normals, offsets = hasher.components_, hasher.intercept_
    xx, yy = np.meshgrid(gallery.x_grid, gallery.y_grid)
    values = normals[:, 0] * xx[..., None] + normals[:, 1] * yy[..., None] + offsets
    crossing = [b for b in range(4) if values[..., b].min() < 0 <= values[..., b].max()]
    assert crossing, "the seed must put a hyperplane across the rectangle"
    contours, image = _draw(gallery, method, panel)
    assert len(contours) == len(crossing)
    for bit, contour in zip(crossing, contours, strict=True):
        points = _vertices(contour)
        assert len(points) >= 2
        # Linear interpolation of a linear function finds its zero exactly.
        distance = (points @ normals[bit] + offsets[bit]) / np.linalg.norm(normals[bit])
        np.testing.assert_allclose(distance, 0.0, atol=1e-9)
    # Each pixel's colour is its code's, as the hyperplanes give it: same code, same colour;
    # codes differ, colours differ (4 bits: 16 codes, fewer than the 20 colours).
    expected = ((values >= 0) * (1 << np.arange(4))).sum(axis=-1)
    colours = image.reshape(-1, image.shape[-1])
    for code in np.unique(expected):
        mine = colours[expected.ravel() == code]
        assert (mine == mine[0]).all()
        others = colours[expected.ravel() != code]
        assert not (others == mine[0]).all(axis=1).any()


def test_non_linear_boundaries_follow_the_zero_set():
    gallery = run_toy2d("lsh", bits=1, n_points=50, resolution=200)
    xx, yy = np.meshgrid(gallery.x_grid, gallery.y_grid)
    radius = np.hypot(xx - 0.5, yy - 0.25)
    circle = Toy2DPanel(1, projections=(radius - 0.15)[..., None])
    method = Toy2DMethod("circle", "circle", "circle", False, (circle,))
    (contour,), image = _draw(gallery, method, circle)
    found = np.hypot(*(_vertices(contour) - [0.5, 0.25]).T)
    step = gallery.x_grid[1] - gallery.x_grid[0]
    np.testing.assert_allclose(found, 0.15, atol=step)
    inside = image[len(gallery.y_grid) // 2, len(gallery.x_grid) // 2]
    assert not np.array_equal(inside, image[0, 0])


def test_cells_whose_codes_differ_in_one_bit_never_share_a_colour():
    codes = np.arange(1 << 16)
    for bit in range(16):
        flipped = codes ^ (1 << bit)
        assert not np.any(codes % len(CELL_COLOURS) == flipped % len(CELL_COLOURS))
    assert len(set(CELL_COLOURS)) == len(CELL_COLOURS)


def test_code_image_reads_bit_one_as_the_least_significant():
    projections = np.array([[[1.0, -1.0, 0.0], [-1.0, 2.0, -3.0]]])
    np.testing.assert_array_equal(code_image(projections), [[0b101, 0b010]])


def test_a_panel_that_was_not_fitted_shows_its_reason():
    from matplotlib.text import Text

    gallery = run_toy2d("pcah", bits=4, n_points=50, resolution=40)
    method = gallery.methods[0]
    plt = pyplot()
    fig, ax = plt.subplots()
    draw_toy2d_panel(ax, gallery, method, method.panels[0])
    texts = " ".join(t.get_text() for t in ax.findobj(Text))
    plt.close(fig)
    assert "not drawn" in texts and "n_bits <=" in texts


def test_save_figure_writes_palette_pngs(tmp_path):
    from PIL import Image

    from hashlearn.report.figures import save_figure

    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    save_figure(fig, tmp_path / "p.png", colours=16)
    with Image.open(tmp_path / "p.png") as image:
        assert image.mode == "P" and len(image.getcolors()) <= 16
    with pytest.raises(ValueError, match=r"colours must be None or an int in \[2, 256\], got 1"):
        save_figure(plt.figure(), tmp_path / "q.png", colours=1)
    with pytest.raises(ValueError, match="colours applies to PNG files only"):
        save_figure(plt.figure(), tmp_path / "q.svg", colours=8)
    assert not (tmp_path / "q.png").exists() and not (tmp_path / "q.svg").exists()


def test_figure_names_are_safe_file_names():
    assert figure_name("lsh") == "lsh.png"
    assert figure_name("grh:kernel=rbf,C=3") == "grh-kernel-rbf-C-3.png"
    assert figure_name("x:path=/etc/passwd") == "x-path-etc-passwd.png"


class _NeedsImages(BaseEstimator):
    def __init__(self, n_bits=2, random_state=None):
        self.n_bits = n_bits
        self.random_state = random_state

    def fit(self, X, y=None):
        raise ValueError("needs images of shape (3, 32, 32), got 2 features")


@pytest.fixture
def needs_images(monkeypatch):
    def build(n_bits, random_state, **params):
        return _NeedsImages(n_bits=n_bits, random_state=random_state)

    info = MethodInfo("imagesonly", build, lambda params: "Images only", False, "test")
    monkeypatch.setitem(METHODS, "imagesonly", info)


def test_the_gallery_lists_drawn_and_skipped_methods(tmp_path, needs_images):
    gallery = run_toy2d("lsh,pcah,imagesonly", bits="2,4", n_points=100, resolution=40)
    files = write_toy2d_gallery(gallery, tmp_path / "g", command="hashlearn toy2d --out g")
    assert set(files.figures) == {"lsh", "pcah"}
    for path in [*files.figures.values(), files.overview]:
        assert path.read_bytes()[:8] == PNG
    assert not (tmp_path / "g" / "imagesonly.png").exists()
    index = files.index.read_text(encoding="utf-8")
    rows = _table_rows(index)
    assert set(rows) == {"lsh", "pcah", "imagesonly"}
    assert "[lsh.png](lsh.png)" in rows["lsh"]
    assert "skipped: ValueError: needs images of shape (3, 32, 32)" in rows["imagesonly"]
    assert "`pcah` at 4 bits: ValueError: PCAHashing needs n_bits &lt;= n_features" in index
    assert "hashlearn toy2d --out g" in index
    assert f"![every method at 2, 4 bits]({OVERVIEW_NAME})" in index
    assert not list((tmp_path / "g").glob("*.tmp"))


def test_nothing_drawn_writes_no_overview(tmp_path, needs_images):
    gallery = run_toy2d("imagesonly", bits=2, n_points=100, resolution=40)
    files = write_toy2d_gallery(gallery, tmp_path)
    assert files.overview is None and files.figures == {}
    assert not (tmp_path / OVERVIEW_NAME).exists()
    assert "imagesonly" in _table_rows(files.index.read_text(encoding="utf-8"))


def test_figures_of_a_previous_gallery_no_longer_drawn_are_removed(tmp_path):
    (tmp_path / "mine.png").write_bytes(PNG)  # not the gallery's: kept
    write_toy2d_gallery(run_toy2d("lsh,sh", bits=1, n_points=50, resolution=20), tmp_path)
    assert (tmp_path / "sh.png").exists()
    write_toy2d_gallery(run_toy2d("lsh", bits=1, n_points=50, resolution=20), tmp_path)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [INDEX_NAME, "lsh.png", "mine.png", OVERVIEW_NAME]


def test_command_writes_the_gallery(tmp_path, capsys):
    out = tmp_path / "toy"
    argv = ["toy2d", "--out", str(out), "--methods", "lsh,pcah", "--bits", "1,4"]
    argv += ["--n-points", "100", "--resolution", "40", "--no-progress"]
    assert main(argv) == 0
    names = sorted(path.name for path in out.iterdir())
    assert names == [INDEX_NAME, "lsh.png", OVERVIEW_NAME, "pcah.png"]
    index = (out / INDEX_NAME).read_text(encoding="utf-8")
    assert f"hashlearn toy2d --out {out} --methods lsh,pcah --bits 1,4 --n-points 100" in index
    printed = capsys.readouterr()
    assert "wrote 2 method figure(s)" in printed.out and printed.err == ""


def test_command_reports_skipped_methods_and_fails_when_nothing_is_drawn(tmp_path, capsys):
    assert main(["toy2d", "--out", str(tmp_path), "--methods", "pcah", "--bits", "4"]) == 1
    printed = capsys.readouterr()
    assert "skipped pcah: ValueError: PCAHashing needs n_bits <= n_features" in printed.out
    assert "nothing could be drawn" in printed.err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--bits", "0"], r"bits must be ints in \[1, 16\]"),
        (["--bits", "2,32"], r"bits must be ints in \[1, 16\]"),
        (["--methods", "nope"], "unknown method 'nope'.*known methods:"),
        (["--methods", "lsh:foo=1"], "no spec parameter 'foo'"),
        (["--n-points", "3"], "n_points must be an int in"),
        (["--resolution", "5"], "resolution must be an int in"),
    ],
)
def test_bad_arguments_are_clear_errors_and_leave_no_folder(tmp_path, capsys, options, message):
    out = tmp_path / "new"
    assert main(["toy2d", "--out", str(out), "--no-progress", *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hashlearn toy2d: error: ") and re.search(message, err)
    assert not out.exists()


def test_out_must_be_a_folder(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    argv = ["toy2d", "--out", str(target), "--methods", "lsh", "--bits", "1"]
    assert main([*argv, "--n-points", "20", "--resolution", "20", "--no-progress"]) == 2
    assert "out must be a folder" in capsys.readouterr().err


def _table_rows(index: str) -> dict[str, str]:
    """The method table of an index.md: spec -> its row."""
    return {
        found.group(1): line
        for line in index.splitlines()
        if (found := re.match(r"\| `([^`]+)` \|", line))
    }


def test_the_committed_gallery_lists_every_registered_method():
    index = (GALLERY / INDEX_NAME).read_text(encoding="utf-8")
    listed = set(_table_rows(index))
    missing = sorted(set(METHODS) - listed)
    stale = sorted(listed - set(METHODS))
    assert not missing and not stale, (
        f"docs/images/toy2d/index.md is out of date (missing: {missing}, no longer "
        f"registered: {stale}); regenerate it from the repository root with: {REGENERATE}"
    )
    assert f"```bash\n{REGENERATE}\n```" in index, f"generate it with the defaults: {REGENERATE}"


def test_the_committed_gallery_figures_exist_and_are_small():
    index = (GALLERY / INDEX_NAME).read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([\w.-]+\.png)\)", index))
    assert OVERVIEW_NAME in linked and len(linked) > 1
    for name in sorted(linked):
        path = GALLERY / name
        assert path.read_bytes()[:8] == PNG, f"{name}: not a PNG ({REGENERATE})"
        limit = 400_000 if name == OVERVIEW_NAME else 150_000
        assert path.stat().st_size < limit, f"{name}: {path.stat().st_size} bytes > {limit}"
    unlinked = sorted({p.name for p in GALLERY.glob("*.png")} - linked)
    assert not unlinked, f"figures no method of the index draws (delete them): {unlinked}"
