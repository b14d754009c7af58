"""Progress of long work: one convention for every command and runner.

A ``progress`` argument is ``True`` (show progress on standard error), ``False`` (stay
silent) or a callable that receives each message (a GUI, a logger, a test). Where it may
also be ``"auto"`` (:data:`AutoProgress`), :func:`resolve_progress` makes that ``True``
when standard error is a terminal: an interactive session sees progress, while tests, pipes
and logs stay quiet.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["AutoProgress", "Progress", "progress_bar", "progress_printer", "resolve_progress"]

Progress = bool | Callable[[str], None]
AutoProgress = Progress | Literal["auto"]


def resolve_progress(progress: AutoProgress, name: str = "progress") -> Progress:
    """``"auto"`` as whether standard error is a terminal; anything else as it is.

    Raises
    ------
    ValueError
        ``progress`` is a string other than ``"auto"`` (``"yes"`` would otherwise read as
        True and ``"no"`` too).
    """
    if isinstance(progress, str):
        if progress != "auto":
            raise ValueError(f"{name} must be True, False, 'auto' or a callable, got {progress!r}")
        return _stderr_is_terminal()
    return progress


def _stderr_is_terminal() -> bool:
    stream = sys.stderr
    try:
        return stream is not None and bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_printer(progress: Progress) -> Callable[[str], None]:
    """A function that shows one message per call, as ``progress`` asks."""
    if callable(progress):
        return progress
    if not progress:
        return _silent

    def show(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    return show


def progress_bar(
    progress: Progress, total: int | None, *, desc: str, unit: str = "step"
) -> tuple[Callable[[str], None], Callable[[], None]]:
    """``(tick, close)`` for ``total`` steps (None: not known): a tqdm bar on standard
    error when ``progress`` is True, the callable itself when it is one, nothing when False.

    ``tick(message)`` advances the bar by one step and shows ``message`` beside it.
    """
    if callable(progress):
        return progress, _nothing
    if not progress:
        return _silent, _nothing
    from tqdm.auto import tqdm

    bar: Any = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)

    def tick(message: str) -> None:
        bar.set_postfix_str(message)
        bar.update(1)

    return tick, bar.close


def _silent(message: str) -> None:
    return None


def _nothing() -> None:
    return None
