"""Terminal output for the CLI: rich when the [convert] extra is installed, plain text
otherwise, so `pocketnn run` and `inspect` work with the runtime-only install."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any, Protocol

# rich style tags as the CLI writes them ([bold red] ... [/]); an escaped one (backslash-[) is text.
_MARKUP = re.compile(r"(\\)?\[(/?[a-z ]*)\]")
_TAG_START = re.compile(r"\[(?=[a-z#/@])")


def escape(text: str) -> str:
    """``text`` printed as is by either console, e.g. an error naming an extra "[convert]"."""
    return _TAG_START.sub(r"\\[", text)


def _plain(text: str) -> str:
    return _MARKUP.sub(lambda m: f"[{m.group(2)}]" if m.group(1) else "", text)


class Console(Protocol):
    def print(self, *objects: Any, highlight: bool = ...) -> None: ...


class PlainConsole:
    """rich.Console's print for plain strings: style tags dropped."""

    def print(self, *objects: Any, highlight: bool = False) -> None:
        del highlight
        print(*(_plain(o) if isinstance(o, str) else o for o in objects), file=sys.stdout)


def make_console() -> Console:
    try:
        from rich.console import Console as RichConsole
    except ModuleNotFoundError:
        return PlainConsole()
    # Piped output gets a wide fixed width so tables are not cut to 80 columns.
    return RichConsole() if RichConsole().is_terminal else RichConsole(width=160)


def print_table(console: Console, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                right: Sequence[str] = ()) -> None:
    """A titled table; the columns named in ``right`` are right-aligned."""
    if not isinstance(console, PlainConsole):
        from rich.table import Table

        table = Table(title=title)
        for column in columns:
            table.add_column(column, justify="right" if column in right else "left")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(w) if column in right else cell.ljust(w)
                         for cell, w, column in zip(cells, widths, columns)).rstrip()

    console.print(title)
    console.print(line(columns))
    console.print(line(["-" * w for w in widths]))
    for row in rows:
        console.print(line(row))
