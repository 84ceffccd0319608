"""Contribution sources as a stream of (Arrow table, RowOrigin) with the table's columns."""

from pathlib import Path

import pyarrow as pa

from qserv.errors import InputError
from qserv.ingest.source import RowOrigin

def source_batches(source, columns, batch_rows, format=None, null=None, name=None):
    """Yield (pyarrow.Table, RowOrigin) batches of ``source``: a file path or a pyarrow.Table."""
    if isinstance(source, (pa.Table, pa.RecordBatch)):
        label = name or "batch"
        table = conform(pa.table(source) if isinstance(source, pa.RecordBatch) else source, columns, label)
        for offset in range(0, max(len(table), 1), batch_rows):
            yield table.slice(offset, batch_rows), RowOrigin(label, offset + 1)
        return
    from qserv.ingest.readers import read_batches

    first_row = 1
    label = str(Path(source))
    for batch in read_batches(source, columns, format=format, null=null, batch_rows=batch_rows):
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        yield table, RowOrigin(label, first_row)
        first_row += len(table)


def conform(table, columns, label):
    """Select and cast an in-memory table's columns to the table definition."""
    from qserv.schema.types import arrow_type

    missing = [c.name for c in columns if c.name not in table.schema.names and not c.nullable]
    extra = [name for name in table.schema.names if name not in {c.name for c in columns}]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing columns {', '.join(missing)}")
        if extra:
            problems.append(f"unknown columns {', '.join(extra)}")
        raise InputError(label, "; ".join(problems))
    arrays = []
    for column in columns:
        target = arrow_type(column)
        if column.name not in table.schema.names:
            arrays.append(pa.nulls(len(table), target))
            continue
        data = table.column(column.name)
        try:
            data = data.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(label, f"cannot convert {data.type} to {column.datatype}: {exc}",
                             column=column.name) from None
        if not column.nullable and data.null_count:
            row = data.is_null().to_pylist().index(True)
            raise InputError(label, "NULL in a NOT NULL column", row=row + 1, column=column.name)
        arrays.append(data)
    return pa.Table.from_arrays(arrays, names=[c.name for c in columns])
