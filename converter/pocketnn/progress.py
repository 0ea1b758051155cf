"""Progress of a conversion's long steps (import, calibration, pruning, sensitivity,
ILP, kernel timing, packing), drawn with rich on stderr.

`reporting(quiet)` opens the display for one conversion; code anywhere below it marks a
step with `with step("calibration", total=n) as advance: ... advance()`. The display is
found through a context variable rather than passed down every signature: the steps sit
many calls deep (in the sparsity and quantization stages), and a context variable is
local to the thread and task that opened it, so two conversions never share one.
Outside `reporting`, with quiet=True or when stderr is not a terminal, steps cost
nothing and print nothing. Stdout is never written: the CLI's own output stays clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

Advance = Callable[[], None]

_current: ContextVar[Progress | None] = ContextVar("pocketnn_progress", default=None)
_inside: ContextVar[bool] = ContextVar("pocketnn_progress_opened", default=False)


def _no_advance() -> None:
    return None


def _display(console: Console) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


@contextmanager
def reporting(quiet: bool = False, console: Console | None = None) -> Iterator[None]:
    """Shows the steps run inside the block, unless quiet or stderr is not a terminal
    (`console` overrides where it draws; tests pass a recording console). A block
    inside another follows the outer one: shown in it, or silent with it."""
    if _inside.get():
        yield
        return
    console = console or Console(stderr=True)
    inside = _inside.set(True)
    try:
        if quiet or not console.is_terminal:
            yield
            return
        with _display(console) as progress:
            token = _current.set(progress)
            try:
                yield
            finally:
                _current.reset(token)
    finally:
        _inside.reset(inside)


@contextmanager
def step(description: str, total: int | None = None, shown: bool = True) -> Iterator[Advance]:
    """A step of `total` units (None: no count, a spinner); yields the function that
    advances it by one. Completed when the block ends; not drawn when not `shown`."""
    progress = _current.get()
    if progress is None or not shown:
        yield _no_advance
        return
    task = progress.add_task(description, total=total)

    def advance() -> None:
        progress.advance(task)

    try:
        yield advance
    finally:
        progress.update(task, total=total or 1, completed=total or 1)
