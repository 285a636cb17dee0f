"""CSV/TSV text as a table: its delimiter, whether it has a header row, its column names.

:func:`read_table` guesses the delimiter and the header from the first rows (each cut to its
first fields), then hands the text to pandas' C parser in one piece: a table of 100,000 columns
reads about as fast as ``pd.read_csv`` reads it (BENCHMARKS.md, "Wide tables").
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections import Counter
from pathlib import Path

from aelab.errors import DataError

SAMPLE_CHARS = 65_536  # text the delimiter is guessed from, and the header at least (bytes)
SAMPLE_ROWS = 21  # rows the header is guessed from at least (the sniffer reads 20 below it)
SAMPLE_FIELDS = 64  # fields of each row the sniffer sees (and the last one, the label's place)


def file_error(path: Path, message: str) -> DataError:
    """A :class:`DataError` about the file ``path``: its name, then ``message``."""
    return DataError(f"{path.name}: {message}")


def read_bytes(path: Path) -> bytes:
    """The file's bytes (decompressed when its name ends in ``.gz``)."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.name.lower().endswith(".gz") else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise file_error(path, f"cannot be read ({exc})") from None


def _not_utf8(path: Path) -> DataError:
    return file_error(path, "is not UTF-8 text; save it as UTF-8 CSV")


def read_table(path: Path, text_columns: tuple[str, ...] = ()):
    """The table as a DataFrame of text column names, and whether it had a header row.

    ``text_columns`` are read as the text written (``01`` stays ``01``), not as numbers.
    Column names that repeat are refused (pandas would rename them ``f1.1``, a name the file
    does not hold)."""
    import pandas as pd  # heavy: imported when a table is read

    raw = read_bytes(path)
    head = _head(path, raw)
    if not head.strip():  # (more than 64 KB of blank lines first is taken for empty too)
        raise file_error(path, "is empty; it needs a header row and one row per sample")
    try:
        dialect = csv.Sniffer().sniff(head[:SAMPLE_CHARS], delimiters=",;\t| ")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    rows = _first_rows(head, delimiter)
    has_header = _has_header(rows, delimiter)
    first = rows[0] if rows else []
    if has_header:
        _check_names(path, first)
        as_text = {name: str for name in text_columns if name in first}
    else:  # pandas numbers the columns
        numbers = {str(i): i for i in range(len(first))}
        as_text = {numbers[name]: str for name in text_columns if name in numbers}
    # The bytes as they are (no copy of the text), parsed at once (low_memory=False: pandas
    # infers each column's type from all of it; in chunks, a wide table's chunks hold less
    # than a row and took 3x as long).
    try:
        frame = pd.read_csv(
            io.BytesIO(raw), sep=delimiter, header=0 if has_header else None,
            skipinitialspace=True, low_memory=False, dtype=as_text or None,
            encoding="utf-8-sig",
        )  # fmt: skip
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise file_error(path, f"is not a readable table ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise file_error(path, "has a header but no rows")
    return frame, has_header


def _head(path: Path, raw: bytes) -> str:
    """The first lines of the file as text: at least ``SAMPLE_ROWS`` + 1 of them and
    ``SAMPLE_CHARS`` bytes, whole (or the whole file). What guessing the delimiter and the
    header reads, whatever the size of the rest."""
    cut = 0
    for _ in range(SAMPLE_ROWS + 1):
        cut = raw.find(b"\n", cut) + 1
        if cut == 0:
            cut = len(raw)
            break
    if cut < SAMPLE_CHARS:
        cut = raw.find(b"\n", SAMPLE_CHARS) + 1 or len(raw)
    try:
        return raw[:cut].decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def _first_rows(text: str, delimiter: str) -> list[list[str]]:
    """The first rows, whole: at least ``SAMPLE_ROWS`` of them and ``SAMPLE_CHARS`` of text."""
    rows: list[list[str]] = []
    chars = 0
    lines = io.StringIO(text, newline="")  # \n, \r\n or \r
    try:
        for row in csv.reader(lines, delimiter=delimiter, skipinitialspace=True):
            if chars >= SAMPLE_CHARS and len(rows) >= SAMPLE_ROWS:
                break
            if row:
                rows.append(row)
                chars += sum(map(len, row)) + len(row)
    except csv.Error:
        pass  # what pandas makes of it decides
    return rows


def _has_header(rows: list[list[str]], delimiter: str) -> bool:
    """Whether the first row names the columns. The sniffer's guess, overruled when the first
    row's last field occurs nowhere else in its column: a class name repeats, a header does
    not (this catches numeric column names such as wavelengths, which fool the sniffer).

    The sniffer sees each row's first ``SAMPLE_FIELDS`` fields and its last: a row of a wide
    table may be longer than any sample of its characters."""
    cut = [r if len(r) <= SAMPLE_FIELDS + 1 else r[:SAMPLE_FIELDS] + r[-1:] for r in rows]
    sample = io.StringIO()
    csv.writer(sample, delimiter=delimiter, lineterminator="\n").writerows(cut)
    try:
        if csv.Sniffer().has_header(sample.getvalue()):
            return True
    except csv.Error:
        return True
    if len(rows) < 3:
        return False
    first = rows[0][-1].strip()
    try:
        float(first)
        return False  # a number in the label's place: data
    except ValueError:
        pass
    return all(r[-1].strip() != first for r in rows[1:])


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
