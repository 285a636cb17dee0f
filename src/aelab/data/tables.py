"""CSV/TSV text as a table: its delimiter, whether it has a header row, its column names."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from aelab.errors import DataError

SAMPLE_CHARS = 65_536  # text the delimiter and the header are guessed from


def file_error(path: Path, message: str) -> DataError:
    """A :class:`DataError` about the file ``path``: its name, then ``message``."""
    return DataError(f"{path.name}: {message}")


def read_text(path: Path) -> str:
    """The file as text (gzip-compressed when its name ends in ``.gz``), UTF-8 with or
    without a byte-order mark."""
    try:
        raw = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, zlib.error) as exc:
        raise file_error(path, f"cannot be read ({exc})") from None
    except UnicodeDecodeError:
        raise file_error(path, "is not UTF-8 text; save it as UTF-8 CSV") from None


def read_table(path: Path):
    """The table as a DataFrame of text column names, and whether it had a header row.

    Column names that repeat are refused (pandas would rename them ``f1.1``, a name the file
    does not hold)."""
    import pandas as pd  # heavy: imported when a table is read

    text = read_text(path)
    if not text.strip():
        raise file_error(path, "is empty; it needs a header row and one row per sample")
    try:
        dialect = csv.Sniffer().sniff(text[:SAMPLE_CHARS], delimiters=",;\t| ")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    sample = text[:SAMPLE_CHARS]
    has_header = _has_header(sample, delimiter)
    if has_header:
        _check_names(path, _first_row(text, delimiter))
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, header=0 if has_header else None,
            skipinitialspace=True,
        )  # fmt: skip
    except (pd.errors.ParserError, ValueError) as exc:
        raise file_error(path, f"is not a readable table ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise file_error(path, "has a header but no rows")
    return frame, has_header


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text``, one at a time, without copying the rest of it."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _first_row(text: str, delimiter: str) -> list[str]:
    """The first row's fields, as pandas reads them (leading spaces skipped)."""
    try:
        return next(csv.reader(_lines(text), delimiter=delimiter, skipinitialspace=True), [])
    except csv.Error:
        return []  # what pandas makes of it decides


def _has_header(sample: str, delimiter: str) -> bool:
    """Whether the first row names the columns. The sniffer's guess, overruled when the first
    row's last field occurs nowhere else in its column: a class name repeats, a header does
    not (this catches numeric column names such as wavelengths, which fool the sniffer)."""
    try:
        if csv.Sniffer().has_header(sample):
            return True
    except csv.Error:
        return True
    rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
    if len(rows) < 3:
        return False
    first = rows[0][-1].strip()
    try:
        float(first)
        return False  # a number in the label's place: data
    except ValueError:
        pass
    return all(r[-1].strip() != first for r in rows[1:-1])  # the last row may be cut off


def _check_names(path: Path, header: list[str]) -> None:
    """Refuse a header whose column names repeat, naming every one that does."""
    repeated = [(name, n) for name, n in Counter(header).items() if n > 1]
    if repeated:
        listed = ", ".join(f"{name!r} ({n} times)" for name, n in repeated[:20])
        more = f" and {len(repeated) - 20} more" if len(repeated) > 20 else ""
        raise file_error(
            path,
            f"column names repeat: {listed}{more}; give every column its own name in the "
            "header row",
        )
