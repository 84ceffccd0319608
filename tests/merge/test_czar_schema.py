"""The czar's result schema from binding alone must equal the schema DuckDB gives on execution."""

import duckdb
import pytest

from qserv.errors import QueryBindError
from qserv.merge.czar import Czar, _plain_schema, bound_arrow_type

EXPRESSIONS = [
    "true", "1::TINYINT", "1::SMALLINT", "1", "3000000000", "1::HUGEINT", "sum(1::BIGINT)", "1::UTINYINT",
    "1::USMALLINT", "1::UINTEGER", "1::UBIGINT", "1.5::FLOAT", "1.5::DOUBLE", "'x'", "'x'::BLOB",
    "DATE '2020-01-01'", "TIMESTAMP '2020-01-01 00:00:00'", "1.5", "1.25::DECIMAL(18,3)",
    "sum(1.5::DECIMAL(18,3))", "avg(1)", "count(*)", "12345678901234567890",
    "TIMESTAMPTZ '2020-01-01 00:00:00+00'", "INTERVAL 1 DAY", "NULL",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_bound_types_match_executed_types(expression):
    connection = duckdb.connect()
    relation = connection.sql(f"SELECT {expression} AS v")
    bound = bound_arrow_type(str(relation.types[0]))
    executed = _plain_schema(relation.limit(0).to_arrow_table().schema)
    assert bound is None or bound == executed.field(0).type
    czar = Czar()
    try:
        assert czar.result_schema(f"SELECT {expression} AS v") == executed
    finally:
        czar.close()


@pytest.mark.parametrize("expression", ["[1, 2]", "{'a': 1}", "MAP {'k': 1}", "(1, 2)"])
def test_nested_results_are_refused_by_name(expression):
    czar = Czar()
    try:
        with pytest.raises(QueryBindError, match="result column 'v' has the type"):
            czar.result_schema(f"SELECT {expression} AS v")
    finally:
        czar.close()
