"""The toy 2-D gallery: how each method's bits cut a uniform rectangle.

Learning-to-hash lectures compare LSH, RBM codes and spectral hashing on points drawn
uniformly from a 2-D rectangle, drawing where each bit flips: random hyperplanes fall
anywhere, spectral hashing cuts the long side first and then at higher frequencies, and
learned codes follow the data. :func:`run_toy2d` fits every registered method (or those
asked) on such points at a few code lengths and evaluates its projections on a fine grid
over the rectangle, so the zero set of each bit's projection (its boundary) and the cells
of equal code can be drawn for any hasher, linear or not (:mod:`hashlearn.report.toy2d`
draws them; ``hashlearn toy2d`` does both).

The toy (see :data:`TOY_LOW`, :data:`TOY_HIGH`): 1,000 points uniform on
``[0, 1] x [0, 0.5]``, a 2:1 rectangle, so that a method's choice between the long side
and the short one shows (spectral hashing's eigenfunctions are those of a uniform box:
Y. Weiss, A. Torralba and R. Fergus, Spectral hashing, NIPS 2008). Supervised
methods are given the label of the point's quadrant of the rectangle
(:func:`quadrant_labels`), so a good supervised 2-bit code cuts at ``x = 0.5`` and
``y = 0.25``. Every method and the points are seeded by one ``seed``.

Methods whose hasher trains a network (its parameters include ``epochs`` and ``device``)
are trained with small toy settings (:data:`NETWORK_SETTINGS`: a 64-unit MLP, 30 epochs,
no validation split, on the CPU, one torch thread), since their defaults are sized for
images and take minutes; a spec that sets one of these parameters keeps its own value. A method that
cannot be fitted at a code length (the PCA family takes at most as many bits as the input
has dimensions) keeps the error as the panel's reason, and a method with no fitted panel
is reported as skipped with its reasons.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from hashlearn._progress import Progress, progress_printer
from hashlearn._torch import require_torch
from hashlearn.experiments.config import parse_bits
from hashlearn.experiments.methods import METHODS, ResolvedMethod, resolve_method
from hashlearn.experiments.specs import split_specs
from hashlearn.records import Toy2DGallery, Toy2DMethod, Toy2DPanel

__all__ = [
    "DEFAULT_BITS",
    "LABEL_RULE",
    "MAX_BITS",
    "NETWORK_SETTINGS",
    "TOY_HIGH",
    "TOY_LOW",
    "quadrant_labels",
    "resolve_toy_methods",
    "run_toy2d",
    "toy_bits",
    "toy_points",
]

#: Lower-left and upper-right corners of the rectangle the points are uniform on.
TOY_LOW = (0.0, 0.0)
TOY_HIGH = (1.0, 0.5)
#: Code lengths of the gallery: 2 bits (the PCA family's most on 2-D input), then 4 and 8,
#: where the methods that can take more bits than dimensions show how they place them.
DEFAULT_BITS = (2, 4, 8)
#: The longest code drawn: every bit gets its own boundary colour and the cells their own
#: colours, which beyond 16 bits no longer reads.
MAX_BITS = 16
LABEL_RULE = "the quadrant of the rectangle: 2 * (x >= 0.5) + (y >= 0.25), four classes"
#: Parameters a network-trained method gets on the toy unless its spec sets them: a
#: 2-layer MLP of 64 units trained for 30 epochs of 4 batches on the CPU (deterministic
#: for a seed), with no validation split (1,000 points; there is nothing to select).
NETWORK_SETTINGS: dict[str, Any] = {
    "backbone": "mlp",
    "width": 64,
    "epochs": 30,
    "batch_size": 250,
    "validation_fraction": 0.0,
    "device": "cpu",
    "progress": False,
}


def quadrant_labels(points: np.ndarray) -> np.ndarray:
    """The toy labels: which quadrant of the rectangle a point lies in (:data:`LABEL_RULE`).

    Examples
    --------
    >>> quadrant_labels(np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.4], [0.9, 0.4]]))
    array([0, 2, 1, 3])
    """
    middle_x = (TOY_LOW[0] + TOY_HIGH[0]) / 2
    middle_y = (TOY_LOW[1] + TOY_HIGH[1]) / 2
    return 2 * (points[:, 0] >= middle_x).astype(np.int64) + (points[:, 1] >= middle_y)


def toy_points(n_points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_points`` points uniform on the toy rectangle and their quadrant labels."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(TOY_LOW, TOY_HIGH, size=(n_points, 2))
    return points, quadrant_labels(points)


def toy_bits(bits: Any) -> tuple[int, ...]:
    """Code lengths of the gallery from ``"2,4,8"``, an int or a sequence: in increasing
    order, each in ``[1, MAX_BITS]``, none twice."""
    allowed = f"bits must be ints in [1, {MAX_BITS}] (each bit's boundary is drawn), got {bits!r}"
    try:
        values = parse_bits(bits)
    except ValueError:
        raise ValueError(allowed) from None
    if values is None:
        return DEFAULT_BITS
    if any(b > MAX_BITS for b in values):
        raise ValueError(allowed)
    if len(set(values)) != len(values):
        raise ValueError(f"bits must be distinct, got {bits!r}")
    return tuple(sorted(values))


def resolve_toy_methods(methods: Any = None) -> list[ResolvedMethod]:
    """The methods of the gallery: every registered one (None) or the specs given
    (``"lsh,sh"``, or a list of names and ``NAME:key=value,...`` specs)."""
    if methods is None:
        return [resolve_method(name) for name in METHODS]
    resolved = [resolve_method(spec) for spec in split_specs(methods)]
    if not resolved:
        raise ValueError(f"methods must name at least one method, got {methods!r}")
    specs = [method.spec for method in resolved]
    repeated = sorted({spec for spec in specs if specs.count(spec) > 1})
    if repeated:
        raise ValueError(f"methods: {', '.join(repeated)} given more than once")
    return resolved


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not low <= value <= high
    ):
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


def _with_toy_settings(
    method: ResolvedMethod, seed: int
) -> tuple[ResolvedMethod, str | None, bool]:
    """``method`` with :data:`NETWORK_SETTINGS` when its hasher trains a network, a note
    of what was changed (None when nothing was), and whether it trains a network."""
    params = method.build(DEFAULT_BITS[0], seed).get_params(deep=False)
    if not {"epochs", "device"} <= set(params):
        return method, None, False
    changed = {
        key: value
        for key, value in NETWORK_SETTINGS.items()
        if key in params and key not in method.params
    }
    shown = [f"{key}={value}" for key, value in changed.items() if key != "progress"]
    note = (
        f"trained with the toy's network settings ({', '.join(shown)}); its defaults are "
        "sized for images and take minutes"
    )
    toy = ResolvedMethod(method.info, {**changed, **method.params})
    return toy, note if shown else None, True


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Torch's intra-op threads limited to one while a network fits, then restored.

    The toy's 64-unit MLP on batches of 250 gains nothing from threads, and on shared
    cores torch's threads wait on each other: the same DSH fit took 2-3 s with one thread
    and 30 s with two on a loaded 2-core machine.
    """
    try:
        torch = require_torch("network-trained methods")
    except ImportError:  # the fit itself reports the missing extra, as the panel's reason
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _fit_panel(
    method: ResolvedMethod,
    n_bits: int,
    data: tuple[np.ndarray, np.ndarray],
    grid: np.ndarray,
    seed: int,
    network: bool = False,
) -> Toy2DPanel:
    """``method`` at ``n_bits`` fitted on ``data`` (points, labels), projected on ``grid``
    (shape ``(n_y, n_x, 2)``); a ``network`` on one torch thread."""
    points, labels = data
    flat = grid.reshape(-1, 2)
    threads = _one_torch_thread() if network else contextlib.nullcontext()
    start = time.perf_counter()
    with threads, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hasher = method.build(n_bits, seed)
            hasher.fit(points, labels if method.info.supervised else None)
            seconds = time.perf_counter() - start
            project = getattr(hasher, "project", None)
            # A hasher outside BaseHasher may offer only bits: +-0.5 has the same zero set.
            values = project(flat) if callable(project) else hasher.transform(flat) - 0.5
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # one method's failure must not end the gallery
            return Toy2DPanel(n_bits, reason=f"{type(exc).__name__}: {exc}")
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(flat), n_bits):
        return Toy2DPanel(
            n_bits, reason=f"projections of shape {values.shape}, expected {(len(flat), n_bits)}"
        )
    return Toy2DPanel(
        n_bits,
        projections=values.reshape(*grid.shape[:2], n_bits),
        fit_seconds=seconds,
        warnings=tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)),
    )


def _fit_method(
    method: ResolvedMethod,
    toy: tuple[ResolvedMethod, str | None, bool],
    lengths: tuple[int, ...],
    data: tuple[np.ndarray, np.ndarray],
    grid: np.ndarray,
    seed: int,
    show: Any,
) -> Toy2DMethod:
    """Every panel of one method: ``toy`` (the method with the toy's settings, the note of
    what they changed, whether it trains a network) fitted at each length
    (:func:`_fit_panel`)."""
    toy_method, note, network = toy
    panels = []
    for n_bits in lengths:
        panel = _fit_panel(toy_method, n_bits, data, grid, seed, network)
        outcome = f"{panel.fit_seconds:.2f} s" if panel.drawn else f"not drawn: {panel.reason}"
        show(f"{method.spec} {n_bits} bits: {outcome}")
        panels.append(panel)
    return Toy2DMethod(
        method.name,
        method.spec,
        method.label,
        method.info.supervised,
        tuple(panels),
        note,
    )


def run_toy2d(
    methods: Any = None,
    bits: Any = DEFAULT_BITS,
    *,
    n_points: int = 1000,
    resolution: int = 400,
    seed: int = 0,
    progress: Progress = False,
) -> Toy2DGallery:
    """Fit methods on the toy rectangle and evaluate their projections on a grid.

    Parameters
    ----------
    methods : str, sequence of str or None, default None
        Method specs (``"lsh,sh"``, ``["grh:kernel=rbf"]``); None: every registered method,
        in the registry's order.
    bits : int, str or sequence of int, default (2, 4, 8)
        Code lengths, each in ``[1, 16]``.
    n_points : int, default 1000
        Training points, uniform on ``[0, 1] x [0, 0.5]``; in ``[10, 100000]``.
    resolution : int, default 400
        Grid points along the long side (half as many along the short one); in
        ``[20, 2000]``. Boundaries are exact to one grid step.
    seed : int, default 0
        Seed of the points and of every method.
    progress : bool or callable, default False
        One message per fit (on standard error when True).

    Returns
    -------
    Toy2DGallery
        The points, the grid, and every method's panels (projections or the reason).

    Examples
    --------
    >>> gallery = run_toy2d("lsh", bits=2, n_points=100, resolution=40)
    >>> gallery.methods[0].panels[0].projections.shape
    (20, 40, 2)
    """
    n_points = _check_int("n_points", n_points, 10, 100_000)
    resolution = _check_int("resolution", resolution, 20, 2000)
    seed = _check_int("seed", seed, 0, 2**32 - 1)
    lengths = toy_bits(bits)
    resolved = resolve_toy_methods(methods)
    show = progress_printer(progress)
    points, labels = toy_points(n_points, seed)
    width, height = TOY_HIGH[0] - TOY_LOW[0], TOY_HIGH[1] - TOY_LOW[1]
    n_x, n_y = resolution, max(2, math.ceil(resolution * height / width))
    x_grid = TOY_LOW[0] + (np.arange(n_x) + 0.5) * width / n_x
    y_grid = TOY_LOW[1] + (np.arange(n_y) + 0.5) * height / n_y
    grid = np.stack(np.meshgrid(x_grid, y_grid), axis=-1)
    # Built once each before anything is fitted: a spec's bad parameter is an error now,
    # not after minutes of fitting the methods before it.
    toys = [_with_toy_settings(method, seed) for method in resolved]
    entries = tuple(
        _fit_method(method, toy, lengths, (points, labels), grid, seed, show)
        for method, toy in zip(resolved, toys, strict=True)
    )
    return Toy2DGallery(
        low=TOY_LOW,
        high=TOY_HIGH,
        x_grid=x_grid,
        y_grid=y_grid,
        points=points,
        labels=labels,
        label_rule=LABEL_RULE,
        bits=lengths,
        seed=seed,
        methods=entries,
    )
