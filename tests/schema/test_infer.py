"""Column inference from Parquet files and Arrow schemas (qserv.schema.infer)."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from qserv.schema.columns import DATATYPES, Column, SchemaError
from qserv.schema.infer import columns_from_arrow_schema, columns_from_parquet
from qserv.schema.types import arrow_schema


def test_parquet_with_every_datatype(tmp_path):
    columns = [Column(f"c_{d}", d, nullable=(i % 2 == 0)) for i, d in enumerate(DATATYPES)]
    path = tmp_path / "all.parquet"
    pq.write_table(arrow_schema(columns).empty_table(), path)
    inferred = columns_from_parquet(path)
    assert [c.name for c in inferred] == [c.name for c in columns]
    assert [c.nullable for c in inferred] == [c.nullable for c in columns]
    assert [c.datatype for c in inferred] == [
        "string" if d in ("char", "unicode", "text") else d for d in DATATYPES
    ]


def test_parquet_from_other_writers(tmp_path):
    table = pa.table({
        "flags": pa.array([1, 2], pa.uint16()),
        "band": pa.array(["g", "r"]).dictionary_encode(),
        "name": pa.array(["a", "b"], pa.large_string()),
        "obs_time": pa.array([0, 1], pa.timestamp("ns", tz="UTC")),
        "mag": pa.array([1.0, 2.0], pa.float32()),
    })
    path = tmp_path / "other.parquet"
    pq.write_table(table, path)
    assert columns_from_parquet(path) == [
        Column("flags", "int"),
        Column("band", "string"),
        Column("name", "string"),
        Column("obs_time", "timestamp"),
        Column("mag", "float"),
    ]


def test_arrow_schema_inference_keeps_nullability():
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("x", pa.float64())])
    assert columns_from_arrow_schema(schema) == [
        Column("id", "long", nullable=False), Column("x", "double"),
    ]


def test_unsupported_parquet_column_names_file_column_and_type(tmp_path):
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"id": [1], "fluxes": [[1.0, 2.0]]}), path)
    with pytest.raises(SchemaError) as info:
        columns_from_parquet(path)
    message = str(info.value)
    assert message.startswith("nested.parquet: column 'fluxes': unsupported Arrow type list<")


def test_unusable_column_name_names_the_file(tmp_path):
    path = tmp_path / "names.parquet"
    pq.write_table(pa.table({"bad-name": [1]}), path)
    with pytest.raises(SchemaError, match=r"^names.parquet: invalid column name 'bad-name'"):
        columns_from_parquet(path)


def test_not_a_parquet_file(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(SchemaError, match=r"cannot read .*table.csv as Parquet"):
        columns_from_parquet(path)


def test_missing_parquet_file(tmp_path):
    with pytest.raises(SchemaError, match=r"Parquet file not found: .*missing.parquet"):
        columns_from_parquet(tmp_path / "missing.parquet")


def test_directory_is_not_a_parquet_file(tmp_path):
    with pytest.raises(SchemaError, match=r"cannot read .* as Parquet"):
        columns_from_parquet(tmp_path)
