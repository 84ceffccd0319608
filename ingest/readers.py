"""Streaming readers of ingest input files: Parquet, CSV, TSV and MySQL text dumps.

:func:`read_batches` yields ``pyarrow.RecordBatch`` objects holding exactly the given columns (a
list of :class:`~qserv.schema.columns.Column`), in that order, with their Arrow types. Memory stays
bounded for files larger than RAM: text is read ``block_bytes`` at a time, Parquet one batch at a
time. Every problem is an :class:`~qserv.errors.InputError` naming the file, the row (data
rows count from 1; the CSV header is not a row) and the column.

Formats (``format=None`` picks one from the extension, after an optional ``.gz``/``.bz2``/
``.zst``/``.lz4`` which text formats decompress on the fly):

- ``parquet`` (``.parquet``, ``.pq``) and ``csv`` (``.csv``) / ``tsv`` (``.tsv``, ``.txt``) with a
  header row: columns are matched by exact name, in any order. A file column that the table lacks
  is an error (most often a misspelling); a missing non-nullable column is an error; a missing
  nullable column is filled with NULLs. Parquet values are cast safely (no overflow, no truncation).
- CSV/TSV follow pyarrow's dialect: double quotes, quoted values may span lines (row numbers then
  run behind line numbers: errors then also give the line where the row starts). NULL is as in
  PostgreSQL's COPY: an unquoted empty field (or, with ``null='\\N'`` or any text, exactly that
  unquoted text) is NULL in every column; a quoted value never is, so ``""`` is an empty string.
- ``mysql`` (``.mysql``, ``.dump``): ``SELECT ... INTO OUTFILE`` / ``mysqldump --tab`` text with the
  default FIELDS/LINES options. No header: one tab-separated field per column, in table order, one
  row per ``\\n``-terminated line. A backslash escapes the next byte: ``\\0 \\b \\n \\r \\t \\Z``
  stand for NUL, backspace, newline, carriage return, tab and Ctrl-Z; before anything else (a
  backslash, a literal tab or newline) it keeps that byte. A field that is exactly ``\\N`` (``null``
  changes this marker) is NULL; an empty field is an empty string. Errors also give the physical
  line when an escaped newline made it differ from the row.
"""

import os
import re

import pyarrow as pa
import pyarrow.compute as pc

from qserv.errors import InputError
from qserv.ingest.mysql_text import mysql_batches

FORMATS = ("parquet", "csv", "tsv", "mysql")
EXTENSIONS = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv", ".txt": "tsv",
    ".mysql": "mysql", ".dump": "mysql",
}
COMPRESSIONS = (".gz", ".bz2", ".zst", ".lz4")
BATCH_ROWS = 1 << 16
BLOCK_BYTES = 16 << 20


def read_batches(path, columns, format=None, null=None, batch_rows=BATCH_ROWS,
                 block_bytes=BLOCK_BYTES):
    """Iterate over RecordBatches of at most ``batch_rows`` rows of ``columns`` read from ``path``.

    ``null`` is the NULL marker of text formats (default: see the module docstring). The format
    and the file's readability are checked at once, the contents as they are read.
    """
    from qserv.schema.types import arrow_schema

    path, columns = os.fspath(path), list(columns)
    format = detect_format(path, format)
    if batch_rows < 1 or block_bytes < 1:
        raise ValueError("batch_rows and block_bytes must be positive")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(path, f"cannot open the file: {exc.strerror}") from None
    source = _Source(path, columns, arrow_schema(columns))
    if format == "parquet":
        batches = _parquet(source, batch_rows)
    elif format == "mysql":
        batches = mysql_batches(source, r"\N" if null is None else null, block_bytes)
    else:
        batches = _csv(source, "," if format == "csv" else "\t", null, block_bytes)
    return (batch.slice(start, batch_rows)
            for batch in batches for start in range(0, batch.num_rows, batch_rows))


def conform_table(table, columns, label):
    """An in-memory pyarrow.Table as the table's columns, by the same rules and errors as a
    Parquet file (``label`` names it in messages)."""
    from qserv.schema.types import arrow_schema

    source = _Source(label, list(columns), arrow_schema(columns))
    names = [name for name in table.schema.names if not name.startswith("__index_level_")]
    source.match(names, "batch")
    batch = source.batch({name: table.column(name).combine_chunks() for name in names}, table.num_rows,
                         _rows_from(1))
    return pa.Table.from_batches([batch])


def detect_format(path, format=None):
    """The format name given, or the one the file name's extension implies."""
    if format is not None:
        if format not in FORMATS:
            raise InputError(path, f"unknown format {format!r} (expected one of {', '.join(FORMATS)})")
        return format
    name = os.path.basename(os.fspath(path)).lower()
    name = next((name[:-len(c)] for c in COMPRESSIONS if name.endswith(c)), name)
    extension = os.path.splitext(name)[1]
    if extension not in EXTENSIONS:
        raise InputError(path, f"cannot tell the format from the extension {extension!r}; "
                               f"name one of {', '.join(FORMATS)}")
    return EXTENSIONS[extension]


def _rows_from(first):
    return lambda i: {"row": first + i}


class _Source:
    """One file read as a table: name matching, conversion, and errors that say where."""

    def __init__(self, path, columns, schema):
        self.path, self.columns, self.schema = path, columns, schema
        self.line_of = None  # row -> the physical line where it starts, for text with quoted newlines

    def error(self, reason, **where):
        if self.line_of is not None and where.get("row") is not None:
            where["line"] = self.line_of(where["row"])  # None when it is the row's plain line
        return InputError(self.path, reason, **where)

    def match(self, names, what):
        """Check the column names the file declares against the table's."""
        twice = sorted({name for name in names if names.count(name) > 1})
        extra = [name for name in names if name not in {c.name for c in self.columns}]
        missing = [c.name for c in self.columns if not c.nullable and c.name not in names]
        for problem, found in (("names column(s) more than once", twice),
                               ("has column(s) the table does not", extra),
                               ("lacks non-nullable column(s)", missing)):
            if found:
                raise self.error(f"the {what} {problem}: {', '.join(found)}")

    def fields_error(self, found, names, **where):
        expected = f"expected {len(names)} fields, found {found}"
        if found < len(names):
            return self.error(f"{expected}: no value for this column", column=names[found], **where)
        return self.error(f"{expected}: values after the last column", column=names[-1], **where)

    def batch(self, arrays, num_rows, locate):
        """The table's RecordBatch from the file's arrays by name; ``locate(i)``: row of i."""
        out = []
        for column, field in zip(self.columns, self.schema):
            if column.name not in arrays:
                out.append(pa.nulls(num_rows, field.type))
                continue
            array = self.convert(arrays[column.name], column, field.type, locate)
            if array.null_count and not column.nullable:
                first = pc.index(array.is_null(), True).as_py()
                raise self.error("NULL in a non-nullable column", column=column.name, **locate(first))
            out.append(array)
        return pa.RecordBatch.from_arrays(out, schema=self.schema)

    def convert(self, array, column, target, locate):
        """Cast ``array`` to ``target`` (bytes via text); a value that does not is an error."""
        steps = [pa.string(), target] if array.type == pa.binary() != target else [target]
        for step in steps:
            if array.type == step:
                continue
            try:
                array = array.cast(step)
            except pa.ArrowNotImplementedError:
                raise self.error(f"values of type {array.type} cannot be read as "
                                 f"{column.datatype}", column=column.name) from None
            except pa.ArrowInvalid as exc:
                bad = _first_failure(array, step)
                if bad is None:
                    raise self.error(f"cannot read as {column.datatype}: {exc}",
                                     column=column.name) from None
                shown = repr(array[bad].as_py())
                shown = shown if len(shown) <= 60 else shown[:56] + "..."
                raise self.error(f"cannot read {shown} as {column.datatype}",
                                 column=column.name, **locate(bad)) from None
        return array


def _casts(array, target):
    try:
        array.cast(target)
    except pa.ArrowInvalid:
        return False
    return True


def _first_failure(array, target):
    """Index of the first value of ``array`` that does not cast to ``target`` (bisection)."""
    low, high = 0, len(array)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _casts(array.slice(low, middle - low), target) else (low, middle)
    return None if _casts(array.slice(low, 1), target) else low


def _parquet(source, batch_rows):
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source.path)
    except (pa.ArrowException, OSError) as exc:
        raise source.error(f"not a readable Parquet file (truncated or another format?): {exc}") from None
    names = [name for name in parquet.schema_arrow.names if not name.startswith("__index_level_")]
    source.match(names, "file")
    wanted = [column.name for column in source.columns if column.name in names]
    batches, row = parquet.iter_batches(batch_size=batch_rows, columns=wanted), 1
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as exc:
            raise source.error(f"unreadable data from this row on (truncated or corrupt file?): "
                               f"{exc}", row=row) from None
        if batch is None:
            return
        yield source.batch(dict(zip(batch.schema.names, batch.columns)), batch.num_rows,
                           _rows_from(row))
        row += batch.num_rows


def _csv(source, delimiter, null, block_bytes):
    import pyarrow.csv as pacsv

    invalid = []  # rows with a wrong number of fields, as pyarrow reports them
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                               invalid_row_handler=lambda bad: invalid.append(bad) or "error")
    names = _csv_header(source, delimiter)
    source.match(names, "header")
    source.line_of = lambda row: _shifted_line(source.path, row)

    def batches(types):
        read = pacsv.ReadOptions(use_threads=False, block_size=block_bytes)
        convert = pacsv.ConvertOptions(
            column_types=types, include_columns=list(types), null_values=[null or ""],
            strings_can_be_null=True, quoted_strings_can_be_null=False)
        row = 1
        with pacsv.open_csv(source.path, read, parse, convert) as reader:
            for batch in reader:
                yield dict(zip(batch.schema.names, batch.columns)), batch.num_rows, row
                row += batch.num_rows

    typed = {c.name: f.type for c, f in zip(source.columns, source.schema) if c.name in names}
    done = 0
    try:
        for arrays, num_rows, row in batches(typed):
            yield source.batch(arrays, num_rows, _rows_from(row))
            done += num_rows
    except (pa.ArrowException, OSError) as exc:
        if invalid:
            number = invalid[0].number  # pyarrow counts the header as row 1
            raise source.fields_error(invalid[0].actual_columns, names,
                                      row=None if number is None else number - 1) from None
        # Read the values again as bytes: converting them ourselves finds the row and column.
        try:
            for arrays, _, row in batches(dict.fromkeys(typed, pa.binary())):
                for column, field in zip(source.columns, source.schema):
                    if column.name in arrays:
                        source.convert(arrays[column.name], column, field.type, _rows_from(row))
        except (pa.ArrowException, OSError):
            pass
        raise source.error(f"unreadable from this row on: {exc}", row=done + 1) from None


def _physical_line(path, row):
    """The 1-based line of the file where data row ``row`` starts (the header is row 0): rows and
    lines differ after quoted values spanning lines. Scans the file again (on errors only)."""
    line, record, quoted = 1, 0, False
    if row == record:
        return line
    try:
        with pa.input_stream(path) as stream:
            while piece := stream.read(1 << 20):
                for mark in _MARKS.finditer(piece):
                    if mark.group() == b'"':
                        quoted = not quoted  # a doubled quote toggles twice
                        continue
                    line += 1
                    if not quoted:
                        record += 1
                        if record == row:
                            return line
    except (pa.ArrowException, OSError):
        pass
    return None


_MARKS = re.compile(rb'["\n]')


def _shifted_line(path, row):
    """The line of data row ``row`` when quoted newlines moved it from line row + 1, else None."""
    line = _physical_line(path, row)
    return None if line == row + 1 else line


def _csv_header(source, delimiter):
    """The column names of the header row (the first line)."""
    import pyarrow.csv as pacsv

    try:
        with pa.input_stream(source.path) as stream:
            head = b""
            while b"\n" not in head and (piece := stream.read(1 << 16)):
                head += piece
        line = head.split(b"\n", 1)[0]
        if line.strip():
            options = pacsv.ParseOptions(delimiter=delimiter)
            return pacsv.read_csv(pa.BufferReader(line + b"\n"), parse_options=options).column_names
    except (pa.ArrowException, OSError) as exc:
        raise source.error(f"unreadable header row: {exc}") from None
    raise source.error("no header row naming the columns (the first line is empty)")
