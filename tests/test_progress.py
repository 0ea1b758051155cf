"""The progress display (pocketnn.progress): drawn on stderr for a terminal, silent with
--quiet / quiet=True, never on stdout."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import pocketnn
from pocketnn.cli import main
from pocketnn.datasets import digits_model_path, load_digits_fixture
from pocketnn.progress import reporting, step

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def calib_path(tmp_path_factory) -> Path:
    images, _ = load_digits_fixture("calib", FIXTURES)
    path = tmp_path_factory.mktemp("progress") / "calib.npz"
    np.savez(path, input=images[:32])
    return path


def _terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100), buffer


def test_steps_are_drawn_on_a_terminal_and_not_when_quiet(calib_path) -> None:
    console, buffer = _terminal()
    with reporting(console=console):
        pocketnn.convert(digits_model_path(FIXTURES), quantize="int8", calib=str(calib_path))
    drawn = buffer.getvalue()
    for name in ("import + graph passes", "calibration", "packing"):
        assert name in drawn, drawn
    assert "32/32" in drawn  # calibration counts its batches
    console, buffer = _terminal()
    with reporting(quiet=True, console=console):
        pocketnn.convert(digits_model_path(FIXTURES), quantize="int8", calib=str(calib_path))
    assert buffer.getvalue() == ""


def test_steps_outside_a_display_do_nothing() -> None:
    with step("anything", total=3) as advance:
        advance()
    console = Console(file=io.StringIO(), force_terminal=False)
    with reporting(console=console), step("not a terminal") as advance:
        advance()
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]


def test_cli_quiet_prints_nothing_extra(calib_path, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats the captured stderr as a terminal
    model = str(digits_model_path(FIXTURES))
    assert main(["convert", model, "-o", str(tmp_path / "a.pnn"), "--quantize", "int8",
                 "--calib", str(calib_path)]) == 0
    shown = capsys.readouterr()
    assert "calibration" in shown.err and "calibration" not in shown.out
    assert main(["convert", model, "-o", str(tmp_path / "b.pnn"), "--quantize", "int8",
                 "--calib", str(calib_path), "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == ""
    assert quiet.out.replace("b.pnn", "a.pnn") == shown.out
    assert (tmp_path / "a.pnn").read_bytes() == (tmp_path / "b.pnn").read_bytes()
