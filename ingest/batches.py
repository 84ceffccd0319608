"""Contribution sources as a stream of (Arrow table, RowOrigin) with the table's columns."""

from pathlib import Path

import pyarrow as pa

from qserv.ingest.readers import conform_table, read_batches
from qserv.ingest.source import RowOrigin


def source_batches(source, columns, batch_rows, format=None, null=None, name=None):
    """Yield (pyarrow.Table, RowOrigin) batches of ``source``: a file path or a pyarrow.Table."""
    if isinstance(source, (pa.Table, pa.RecordBatch)):
        label = name or "batch"
        table = conform_table(pa.table(source) if isinstance(source, pa.RecordBatch) else source, columns, label)
        for offset in range(0, max(len(table), 1), batch_rows):
            yield table.slice(offset, batch_rows), RowOrigin(label, offset + 1)
        return
    first_row = 1
    label = str(Path(source))
    for batch in read_batches(source, columns, format=format, null=null, batch_rows=batch_rows):
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        yield table, RowOrigin(label, first_row)
        first_row += len(table)
