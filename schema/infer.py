"""Column definitions inferred from Parquet files and Arrow schemas (``table create --like``)."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from qserv.schema.columns import Column, SchemaError
from qserv.schema.types import datatype_from_arrow


def columns_from_arrow_schema(schema):
    """One Column per field: datatype from the Arrow type, nullable from the field."""
    return [
        Column(
            name=field.name,
            datatype=datatype_from_arrow(field.type, field.name),
            nullable=field.nullable,
        )
        for field in schema
    ]


def columns_from_parquet(path):
    """The columns of a Parquet file, read from its schema (no data is read)."""
    path = Path(path)
    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise SchemaError(f"Parquet file not found: {path}") from None
    except (OSError, pa.ArrowException) as error:
        raise SchemaError(f"cannot read {path} as Parquet: {error}") from None
    try:
        return columns_from_arrow_schema(schema)
    except SchemaError as error:
        raise SchemaError(f"{path.name}: {error}") from None
