"""Writing a query result (a pyarrow.Table) in the formats users ask for.

``csv`` (header line, empty field for NULL, strings quoted), ``tsv`` (header line, empty field
for NULL, no quoting: a tab, newline, carriage return or backslash in a name or value is written
``\\t``, ``\\n``, ``\\r`` or ``\\\\``, the escapes of PostgreSQL's text COPY), ``json`` (an
object with ``columns`` and ``rows``), ``parquet``, ``votable`` (VOTable 1.4, BINARY2, by
qserv's vectorised writer :mod:`qserv.formats.votable`) and through astropy ``fits`` (a binary
table). Unique column names are required by VOTable and FITS: repeated names get a ``_2``,
``_3``... suffix there. Binary values are written in hexadecimal in ``tsv`` and ``json``.
"""

import io
import json
import math

from qserv.formats.names import unique_names

FORMATS = ("csv", "tsv", "json", "votable", "parquet", "fits")
BINARY_FORMATS = ("parquet", "fits")


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


TSV_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))  # backslash first


def tsv_escape(text):
    for character, escaped in TSV_ESCAPES:
        text = text.replace(character, escaped)
    return text


def _tsv_field(column):
    """``column`` as escaped text, NULL as the empty string (vectorised with Arrow compute)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        text = pa.array([None if value is None else value.hex() for value in column.to_pylist()], pa.string())
    else:
        text = pc.cast(column, pa.string())
        for character, escaped in TSV_ESCAPES:
            text = pc.replace_substring(text, character, escaped)
    return pc.fill_null(text, "")


def _tsv(table):
    import pyarrow.compute as pc

    lines = ["\t".join(tsv_escape(name) for name in table.column_names)]
    if table.num_rows and table.num_columns:
        fields = [_tsv_field(column) for column in table.columns]
        lines.extend(pc.binary_join_element_wise(*fields, "\t").to_pylist())
    return ("\n".join(lines) + "\n").encode()


def _astropy_table(table):
    import pyarrow as pa
    from astropy.table import MaskedColumn, Table

    columns = []
    for name, column in zip(unique_names(table.column_names), table.columns):
        if pa.types.is_large_string(column.type):
            column = column.cast(pa.string())
        values = column.to_numpy(zero_copy_only=False)
        mask = column.is_null().to_numpy(zero_copy_only=False)
        if pa.types.is_string(column.type):
            values = values.astype(str) if len(values) else values.astype("U1")
            values[mask] = ""
        columns.append(MaskedColumn(values, name=name, mask=mask))
    return Table(columns)


def render(table, format_):
    """The bytes of ``table`` in ``format_`` (one of FORMATS)."""
    if format_ == "csv":
        import pyarrow.csv as csv

        buffer = io.BytesIO()
        csv.write_csv(table, buffer, csv.WriteOptions(quoting_style="needed"))
        return buffer.getvalue()
    if format_ == "tsv":
        return _tsv(table)
    if format_ == "json":
        rows = [list(map(_json_value, row)) for row in zip(*(c.to_pylist() for c in table.columns))]
        document = {"columns": [{"name": f.name, "datatype": str(f.type)} for f in table.schema], "rows": rows}
        return (json.dumps(document, ensure_ascii=False) + "\n").encode()
    if format_ == "parquet":
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.getvalue()
    if format_ == "votable":
        from qserv.formats.votable import votable_bytes  # here: numpy and the VOTable writer only when asked

        return votable_bytes(table)
    if format_ == "fits":
        buffer = io.BytesIO()
        _astropy_table(table).write(buffer, format="fits")
        return buffer.getvalue()
    raise ValueError(f"unknown format {format_!r}")
