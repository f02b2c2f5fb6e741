"""Reading import files: every problem names its line and column, and nothing is written until the
whole file is good.

A file is read row by row, as many times as the import needs (once to check, once to write), so the memory
an import takes does not grow with the file. Every problem of a file is counted; the first
:data:`MAX_LISTED_PROBLEMS` by line are listed.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import itertools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

LONG_TERM_WORDS = {"", "长期", "长期有效", "long", "long-term"}
MAX_LISTED_PROBLEMS = 100
PROGRESS_INTERVAL_SECONDS = 0.2


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class ImportFailed(Exception):
    def __init__(self, problems: list[RowProblem], unlisted: int = 0):
        """unlisted: how many more problems the file has beyond those listed."""
        lines = [str(p) for p in problems]
        if unlisted:
            lines.append(f"… and {unlisted} more problem(s), {len(problems) + unlisted} in all")
        super().__init__("\n".join(lines))
        self.problems = problems
        self.unlisted = unlisted


def file_changed() -> ImportFailed:
    """The second reading (the one that writes) did not see the bytes the first one checked."""
    return ImportFailed([RowProblem(0, "-", "the file changed while it was being imported; run it again")])


class Problems:
    """Every problem of a file counted; the :data:`MAX_LISTED_PROBLEMS` with the lowest line numbers kept."""

    def __init__(self) -> None:
        self.count = 0
        self._kept: list[tuple[int, int, RowProblem]] = []  # a max-heap on (line, arrival): negated
        self._arrival = itertools.count()

    def add(self, line: int, column: str, message: str) -> None:
        self.count += 1
        entry = (-line, -next(self._arrival), RowProblem(line, column, message))
        if len(self._kept) < MAX_LISTED_PROBLEMS:
            heapq.heappush(self._kept, entry)
        elif entry > self._kept[0]:  # an earlier line than the latest one kept
            heapq.heapreplace(self._kept, entry)

    def raise_if_any(self) -> None:
        if self.count:
            listed = [problem for _, _, problem in sorted(self._kept, reverse=True)]
            raise ImportFailed(listed, self.count - len(listed))


class DuplicateFinder:
    """Rows that repeat a value of an earlier row, found after reading the file. The values are kept as
    64-bit keys with their line in a private temporary SQLite database on disk, sorted there at the end: the
    memory stays flat whatever the number of rows."""

    FLUSH_ROWS = 10_000

    def __init__(self, column: str, message: str):
        """message: with ``{}`` for the earlier line."""
        self.column, self.message = column, message
        self._seen = sqlite3.connect("")  # "": a temporary file, deleted when closed
        self._seen.execute("CREATE TABLE seen (key INTEGER NOT NULL, line INTEGER NOT NULL)")
        self._pending: list[tuple[int, int]] = []

    def add(self, key: int, line: int) -> None:
        self._pending.append((key, line))
        if len(self._pending) >= self.FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        self._seen.executemany("INSERT INTO seen VALUES (?, ?)", self._pending)
        self._pending.clear()

    def report(self, problems: Problems) -> None:
        self._flush()
        repeats = self._seen.execute(
            "SELECT line, first FROM (SELECT line, MIN(line) OVER (PARTITION BY key) AS first FROM seen) "
            "WHERE line > first ORDER BY line"
        )
        for line, first in repeats:
            problems.add(line, self.column, self.message.format(first))
        self._seen.close()


def parse_date(raw: str) -> date:
    value = raw.strip()
    if len(value) == 10 and value[4] == value[7] == "-" and value.replace("-", "").isascii():
        try:  # the common case, ten times as fast as strptime
            return date.fromisoformat(value)
        except ValueError:
            pass
    for pattern in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date (YYYY-MM-DD or YYYYMMDD)")


def parse_end_date(raw: str) -> date | None:
    return None if raw.strip().lower() in LONG_TERM_WORDS else parse_date(raw)


class CsvSource:
    """A CSV file read row by row. Each reading also counts the bytes read (for the progress) and digests
    them, so that an import can tell whether the file it writes is the file it checked."""

    def __init__(self, path: Path, columns: list[str]):
        """Reads the header: a missing column fails at once."""
        self.path = path
        self.bytes_read = 0
        self.digest = b""
        with self._open() as file:
            self.size = os.fstat(file.fileno()).st_size
            first = file.readline().decode("utf-8-sig", errors="replace")
        self.header = [name.strip() for name in next(csv.reader([first]), [])]
        missing = [c for c in columns if c not in self.header]
        if missing:
            raise ImportFailed([RowProblem(1, ",".join(missing), "missing column(s) in the header")])

    def _open(self) -> BinaryIO:
        try:
            return self.path.open("rb")
        except OSError as error:
            raise ImportFailed([RowProblem(0, "-", f"cannot read {self.path}: {error}")]) from error

    def _lines(self, raw: Iterator[bytes], problems: Problems) -> Iterator[str]:
        digest = hashlib.sha256()
        for number, data in enumerate(raw, start=1):
            self.bytes_read += len(data)
            digest.update(data)
            try:
                yield data.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                problems.add(number, "-", "not UTF-8 text")
                yield data.decode("utf-8", errors="replace")
        self.digest = digest.digest()

    def rows(self, problems: Problems) -> Iterator[tuple[int, dict[str, str]]]:
        """(line number, values) of each row after the header with as many fields as it; any problem is
        added to ``problems``."""
        self.bytes_read = 0
        with self._open() as file:
            reader = csv.reader(self._lines(iter(file), problems))
            width = len(self.header)
            try:
                next(reader)  # the header, read at the start
                for fields in reader:
                    if len(fields) != width:
                        if fields:  # a blank line is no row
                            problems.add(reader.line_num, "-", "wrong number of fields")
                        continue
                    yield reader.line_num, {k: v.strip() for k, v in zip(self.header, fields, strict=True)}
            except csv.Error as error:  # the rest of the file cannot be read as CSV
                problems.add(reader.line_num, "-", f"not valid CSV: {error}")


def convert_row(
    line: int, values: dict[str, str], converters: dict[str, Callable[[str], Any]], problems: Problems
) -> dict[str, Any] | None:
    """One converter per column; None (and each problem added) when any column is wrong."""
    out: dict[str, Any] = {}
    before = problems.count
    for column, convert in converters.items():
        try:
            out[column] = convert(values[column])
        except ValueError as error:
            problems.add(line, column, getattr(error, "message", None) or str(error))
    return out if problems.count == before else None


class Progress:
    """An import's phases on a terminal: a bar that shows rows, rows/s and the time left (from the bytes
    read), redrawn a few times a second. Elsewhere (a log, a pipe) one line when all is done."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.live = stream.isatty()
        self.finished: list[str] = []

    def phase(self, label: str, source: CsvSource) -> ProgressPhase:
        return ProgressPhase(self, label, source)

    def done(self) -> None:
        """Off a terminal: one line, how long each phase took (on one, each bar stays at its end)."""
        if not self.live:
            self.stream.write("; ".join(self.finished) + "\n")
            self.stream.flush()


class ProgressPhase:
    BAR_WIDTH = 24

    def __init__(self, progress: Progress, label: str, source: CsvSource):
        self.progress, self.label, self.source = progress, label, source
        self.rows = 0
        self.started = self.shown = time.monotonic()

    def __enter__(self) -> ProgressPhase:
        return self

    def row(self) -> None:
        self.rows += 1
        if self.progress.live and self.rows % 512 == 0:
            now = time.monotonic()
            if now - self.shown >= PROGRESS_INTERVAL_SECONDS:
                self.shown = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        fraction = min(self.source.bytes_read / self.source.size, 1.0) if self.source.size else 1.0
        filled = round(fraction * self.BAR_WIDTH)
        left = elapsed * (1 - fraction) / fraction if fraction else 0.0
        self.progress.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (self.BAR_WIDTH - filled)}] {fraction:4.0%} "
            f"{self.rows:,} rows, {self.rows / elapsed:,.0f} rows/s, {_clock(left)} left\x1b[K"
        )
        self.progress.stream.flush()

    def __exit__(self, *exc_info: object) -> None:
        seconds = time.monotonic() - self.started
        self.progress.finished.append(f"{self.label} {self.rows:,} rows in {seconds:.1f} s")
        if self.progress.live:
            self._draw(time.monotonic())
            self.progress.stream.write("\n")
            self.progress.stream.flush()


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"
