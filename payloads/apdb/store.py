"""Input of ``Apdb.store``: tables conformed to the catalog columns, with clear errors naming the
table, row and column (pure: no I/O)."""

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qserv.errors import InputError
from qserv.schema.types import arrow_type

from qserv.payloads.apdb.tables import VERSION_COLUMN

DIGEST_COLUMNS = {"DiaObject": ("diaObjectId",), "DiaSource": ("diaSourceId",),
                  "DiaForcedSource": ("diaObjectId", "visit", "detector")}

UNIQUE_KEYS = {"DiaObject": ("diaObjectId",), "DiaSource": ("diaSourceId",),
               "DiaForcedSource": ("diaObjectId", "visit", "detector")}


def as_arrow(rows, table_name):
    """A pyarrow.Table from a pyarrow.Table or a pandas.DataFrame."""
    if isinstance(rows, pa.Table):
        return rows
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        return pa.Table.from_pandas(rows, preserve_index=False)
    raise InputError(table_name, f"expected a pyarrow.Table or a pandas.DataFrame, got {type(rows).__name__}")


def conform(rows, table, version, fill=None, unique=True):
    """``rows`` with exactly the columns ``table.spec`` creates, in order and of their types;
    ``fill`` (name -> value) overrides columns with one value for all rows; ``unique``: refuse
    repeated keys (new rows; rewritten versions may repeat them)."""
    fill = {VERSION_COLUMN: version, **(fill or {})}
    unknown = [name for name in rows.column_names if name not in {c.name for c in table.spec.columns}]
    if unknown:
        raise InputError(table.name, f"columns not in the schema: {', '.join(map(repr, unknown))}")
    arrays = []
    for column in table.spec.columns:
        target = arrow_type(column)
        if column.name in fill:
            arrays.append(pa.array([fill[column.name]] * rows.num_rows, type=target))
            continue
        if column.name not in rows.column_names:
            if not column.nullable and rows.num_rows:
                raise InputError(table.name, "missing (the column is not nullable)", column=column.name)
            arrays.append(pa.nulls(rows.num_rows, type=target))
            continue
        arrays.append(_cast(rows[column.name], target, table.name, column))
    conformed = pa.Table.from_arrays(arrays, schema=pa.schema(
        [pa.field(c.name, arrow_type(c)) for c in table.spec.columns]))
    if unique:
        _check_unique(conformed, table.name)
    return conformed


def _cast(values, target, table_name, column):
    try:
        cast = values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise InputError(table_name, f"{values.type} values do not fit {column.datatype}: {error}",
                         row=_first_bad_row(values, target), column=column.name) from None
    if not column.nullable and cast.null_count:
        raise InputError(table_name, "NULL in a column that is not nullable",
                         row=_first(pc.is_null(cast)), column=column.name)
    if column.name in ("ra", "dec") and pa.types.is_floating(target):
        bad = pc.invert(pc.fill_null(pc.is_finite(cast), True))
        if pc.any(bad).as_py():
            row = _first(bad)
            raise InputError(table_name, f"{cast[row - 1].as_py()} is not a position",
                             row=row, column=column.name)
    return cast


def _check_unique(rows, table_name):
    keys = UNIQUE_KEYS.get(table_name)
    if not keys or not rows.num_rows:
        return
    counts = rows.group_by(list(keys)).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts["count_all"], 1))
    if repeated.num_rows:
        first = repeated.slice(0, 1).to_pylist()[0]
        key = ", ".join(f"{k}={first[k]}" for k in keys)
        mask = np.ones(rows.num_rows, dtype=bool)
        for k in keys:
            mask &= rows[k].to_numpy(zero_copy_only=False) == first[k]
        row = int(np.flatnonzero(mask)[1]) + 1
        raise InputError(table_name, f"duplicate {key} ({repeated.num_rows} repeated keys)",
                         row=row, column=keys[0] if len(keys) == 1 else list(keys))


def _first(mask):
    return int(np.flatnonzero(mask.to_numpy(zero_copy_only=False))[0]) + 1


def _first_bad_row(values, target):
    for row, value in enumerate(values.to_pylist(), start=1):
        try:
            pa.array([value], type=values.type).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return row
    return None


def store_digest(visit_time, inputs):
    """What identifies a store for retries: its visit time and the ids of its rows (a retried
    store has the same digest; another store of the same visit and detector does not)."""
    digest = hashlib.sha256(repr(float(visit_time.tai.mjd)).encode())
    for name, columns in DIGEST_COLUMNS.items():
        rows = inputs.get(name)
        digest.update(name.encode())
        for column in columns:
            if rows is not None and column in rows.column_names:
                values = pc.fill_null(rows[column].cast(pa.int64()), -1)
                digest.update(np.ascontiguousarray(values.to_numpy()).tobytes())
    return digest.hexdigest()


def with_version(rows, version):
    """``rows`` (conformed) with their apdbVersion set to ``version``."""
    index = rows.column_names.index(VERSION_COLUMN)
    return rows.set_column(index, VERSION_COLUMN, pa.array([version] * rows.num_rows, pa.int64()))


def visit_detector_rows(pairs, digest, version):
    pairs = sorted(pairs)
    return pa.table({"visit": pa.array([p[0] for p in pairs], pa.int64()),
                     "detector": pa.array([p[1] for p in pairs], pa.int16()),
                     "storeDigest": [digest] * len(pairs),
                     VERSION_COLUMN: pa.array([version] * len(pairs), pa.int64())})
