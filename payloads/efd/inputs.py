"""Telemetry and exposure files read into Arrow tables with TAI MJD times, checked with errors
naming the file, row and column (Parquet or CSV; pure apart from reading the files)."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qserv.errors import InputError, UserError
from qserv.schema.columns import Column
from qserv.schema.infer import columns_from_arrow_schema

from qserv.payloads.efd.tables import EXPOSURE_COLUMNS, SAL_INDEX, TIME_COLUMN
from qserv.payloads.efd.times import to_mjd_tai

EXPOSURE_TIMES = {"obs_start": "obs_start_mjd_tai", "obs_end": "obs_end_mjd_tai"}


def read_file(path):
    """A pyarrow.Table from a Parquet or CSV file (or the table itself)."""
    if isinstance(path, pa.Table):
        return path
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    except pa.ArrowException as error:
        raise InputError(path.name, f"cannot read as {'Parquet' if path.suffix == '.parquet' else 'CSV'}: "
                                    f"{error}") from None


def _where(path, i):
    return Path(path).name if not isinstance(path, pa.Table) else f"batch {i + 1}"


def telemetry(sources):
    """[(where, table)] of telemetry: ``time`` (an MJD or TAI timestamp) replaced by
    ``time_mjd_tai``, other columns as they are."""
    tables = []
    for i, source in enumerate(sources):
        where, rows = _where(source, i), read_file(source)
        if "time" not in rows.column_names:
            raise InputError(where, f"no 'time' column (columns: {', '.join(rows.column_names)})")
        mjd = to_mjd_tai(rows["time"], where, "time")
        rows = rows.drop_columns(["time"])
        if TIME_COLUMN in rows.column_names:
            raise InputError(where, f"column {TIME_COLUMN!r} is reserved (give the time as 'time')")
        tables.append((where, rows.append_column(TIME_COLUMN, pa.array(mjd))))
    return tables


def inferred_fields(rows, where):
    """The fields of a new topic from its first file (time and salIndex apart)."""
    try:
        columns = columns_from_arrow_schema(rows.schema)
    except UserError as error:
        raise InputError(where, str(error)) from None
    return [Column(c.name, c.datatype) for c in columns if c.name not in (TIME_COLUMN, SAL_INDEX)]


def conform(rows, columns, where):
    """``rows`` with exactly ``columns`` (missing nullable ones as NULL), cast to their types."""
    from qserv.schema.types import arrow_type

    names = {c.name for c in columns}
    unknown = [name for name in rows.column_names if name not in names]
    if unknown:
        raise InputError(where, f"columns not in the topic: {', '.join(map(repr, unknown))}")
    arrays = []
    for column in columns:
        target = arrow_type(column)
        if column.name not in rows.column_names:
            if not column.nullable and rows.num_rows:
                raise InputError(where, "missing (the column is not nullable)", column=column.name)
            arrays.append(pa.nulls(rows.num_rows, target))
            continue
        try:
            arrays.append(rows[column.name].cast(target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
            raise InputError(where, f"values do not fit {column.datatype}: {error}", column=column.name) from None
    return pa.Table.from_arrays(arrays, schema=pa.schema([pa.field(c.name, arrow_type(c)) for c in columns]))


def exposures(sources):
    """One table of exposures from all ``sources`` (obs_start / obs_end as MJD or TAI timestamps),
    refusing a window that ends before it starts, repeated exposure ids and overlapping windows."""
    parts = []
    for i, source in enumerate(sources):
        where, rows = _where(source, i), read_file(source)
        for name, stored in EXPOSURE_TIMES.items():
            if name not in rows.column_names:
                raise InputError(where, f"no {name!r} column (columns: {', '.join(rows.column_names)})")
            mjd = to_mjd_tai(rows[name], where, name)
            rows = rows.set_column(rows.column_names.index(name), stored, pa.array(mjd))
        rows = conform(rows, EXPOSURE_COLUMNS, where)
        backwards = pc.less(rows["obs_end_mjd_tai"], rows["obs_start_mjd_tai"]).to_numpy(zero_copy_only=False)
        if backwards.any():
            raise InputError(where, "obs_end is before obs_start", row=int(np.flatnonzero(backwards)[0]) + 1)
        parts.append(rows)
    rows = pa.concat_tables(parts)
    ids = rows["exposure_id"].to_numpy()
    if len(np.unique(ids)) != len(ids):
        values, counts = np.unique(ids, return_counts=True)
        raise UserError(f"exposure_id {int(values[counts > 1][0])} is given twice")
    return rows


def check_overlaps(rows):
    """Refuse exposure windows that overlap (``rows``: all exposures, new and kept)."""
    order = np.argsort(rows["obs_start_mjd_tai"].to_numpy(), kind="stable")
    starts = rows["obs_start_mjd_tai"].to_numpy()[order]
    ends = rows["obs_end_mjd_tai"].to_numpy()[order]
    ids = rows["exposure_id"].to_numpy()[order]
    overlap = np.flatnonzero(starts[1:] < np.maximum.accumulate(ends)[:-1])
    if len(overlap):
        i = int(overlap[0]) + 1
        other = int(ids[:i][np.argmax(ends[:i] > starts[i])])
        raise UserError(f"exposure {int(ids[i])} overlaps exposure {other} (their windows overlap in time)")
