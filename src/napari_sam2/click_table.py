"""Clicks read from a CSV file, for the command line's `--points`. Three forms are understood:

- ``obj_id,x,y`` with that header (optional columns ``frame``, default 0, and ``positive``,
  default true), x and y in pixels (column, row);
- the same three columns without a header;
- the CSV napari writes for a Points layer (File > Save Selected Layers): ``index,axis-0,...``
  in napari's (frame, row, col) order (``axis-0`` is the frame when there are three axes), with
  the layer's features as further columns: ``obj_id`` (else each point is its own object, as
  in the napari console's ``track_layers``) and ``positive``.

A row that cannot be read is refused with its line number and what is wrong with it.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

HEADERLESS = ("obj_id", "x", "y")
TRUE_WORDS, FALSE_WORDS = {"true", "yes"}, {"false", "no"}
FORMS = ("give obj_id,x,y per line (header optional; optional columns frame and positive), or a CSV "
         "napari wrote for a Points layer (index,axis-0,axis-1,axis-2[,obj_id])")


@dataclass(frozen=True)
class Click:
    frame: int
    obj_id: int
    x: float  # column, px
    y: float  # row, px
    positive: bool


class ClickTableError(ValueError):
    """A --points file that cannot be read, with the line and what to do."""


def read_clicks(path: Path) -> list[Click]:
    """Every click of a CSV file, in file order."""
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's byte-order mark is not a header
        rows = [(number, row) for number, row in enumerate(csv.reader(f), start=1) if any(v.strip() for v in row)]
    if not rows:
        raise ClickTableError(f"{path} has no clicks: {FORMS}")
    if all(_is_number(value) for value in rows[0][1]):
        header, body = HEADERLESS, rows
    else:
        header, body = tuple(v.strip() for v in rows[0][1]), rows[1:]
    read_row = _row_reader(path, header)
    clicks = [read_row(number, ordinal, dict(zip(header, row)), row) for ordinal, (number, row) in enumerate(body)]
    if not clicks:
        raise ClickTableError(f"{path} has a header ({','.join(header)}) but no clicks below it")
    return clicks


def _row_reader(path: Path, header: tuple[str, ...]):
    """A function reading one row of this header's form into a Click."""
    axes = sorted((c for c in header if c.startswith("axis-") and c[5:].isdigit()), key=lambda c: int(c[5:]))
    if {"obj_id", "x", "y"} <= set(header):
        def position(cells: dict) -> tuple[float, float, float]:
            return _number(cells, "frame", "0"), _number(cells, "x"), _number(cells, "y")
    elif len(axes) in (2, 3):
        def position(cells: dict) -> tuple[float, float, float]:
            frame = _number(cells, axes[0]) if len(axes) == 3 else 0.0
            return frame, _number(cells, axes[-1]), _number(cells, axes[-2])
    else:
        raise ClickTableError(f"{path}: the header {','.join(header)!r} has neither obj_id,x,y nor 2 or 3 napari "
                              f"axis columns (axis-0,axis-1[,axis-2]); {FORMS}")

    def read(number: int, ordinal: int, cells: dict, row: list[str]) -> Click:
        """number: the line in the file; ordinal: the row's place among the clicks (from 0)."""
        try:
            if len(row) != len(header):
                raise ValueError(f"it has {len(row)} values where {len(header)} ({','.join(header)}) are expected")
            frame, x, y = position(cells)
            default_id = None if "obj_id" in header else str(ordinal + 1)  # napari: one object per point
            obj_id = _number(cells, "obj_id", default_id)
            positive = _flag(cells.get("positive", "true"))
            return Click(_whole(frame, "the frame", 0), _whole(obj_id, "obj_id", 1), x, y, positive)
        except ValueError as error:
            raise ClickTableError(f"{path}, line {number} ({','.join(row)!r}): {error}; {FORMS}") from None

    return read


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(cells: dict, column: str, default: str | None = None) -> float:
    text = cells.get(column, default)
    if text is None or not str(text).strip():
        raise ValueError(f"{column} is empty")
    if not _is_number(text) or not math.isfinite(float(text)):
        raise ValueError(f"{column} is {text!r}, not a number")
    return float(text)


def _whole(value: float, name: str, lowest: int) -> int:
    if value != int(value) or value < lowest:
        raise ValueError(f"{name} must be a whole number from {lowest}, got {value:g}")
    return int(value)


def _flag(text: str) -> bool:
    """napari writes a boolean feature as True/False, or as 1.0/0.0 when the table is numeric."""
    word = text.strip().lower()
    if _is_number(word) and float(word) in (0.0, 1.0):
        return float(word) == 1.0
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(f"positive is {text!r}: use true or false (1 or 0)")
    return word in TRUE_WORDS
