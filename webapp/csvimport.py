"""Reading import files: every problem names its line and column, and nothing is written until the
whole file is good."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

LONG_TERM_WORDS = {"", "长期", "长期有效", "long", "long-term"}


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class ImportFailed(Exception):
    def __init__(self, problems: list[RowProblem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def parse_date(raw: str) -> date:
    value = raw.strip()
    for pattern in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date (YYYY-MM-DD or YYYYMMDD)")


def parse_end_date(raw: str) -> date | None:
    return None if raw.strip().lower() in LONG_TERM_WORDS else parse_date(raw)


def read_rows(path: Path, columns: list[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows as (line number, values); a missing header names the missing columns."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ImportFailed([RowProblem(0, "-", f"cannot read {path}: {error}")]) from error
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFailed([RowProblem(1, ",".join(missing), "missing column(s) in the header")])
    rows = []
    for values in reader:
        line = reader.line_num
        if None in values or any(values.get(c) is None for c in columns):
            raise ImportFailed([RowProblem(line, "-", "wrong number of fields")])
        rows.append((line, {k: (v or "").strip() for k, v in values.items()}))
    return rows


def convert_rows(
    rows: list[tuple[int, dict[str, str]]], converters: dict[str, Callable[[str], Any]]
) -> list[tuple[int, dict[str, Any]]]:
    """Apply one converter per column; collect every problem before failing."""
    problems, converted = [], []
    for line, values in rows:
        out: dict[str, Any] = {}
        for column, convert in converters.items():
            try:
                out[column] = convert(values[column])
            except ValueError as error:
                problems.append(RowProblem(line, column, getattr(error, "message", None) or str(error)))
        converted.append((line, out))
    if problems:
        raise ImportFailed(problems)
    return converted
