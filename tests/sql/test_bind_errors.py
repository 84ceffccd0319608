"""DuckDB binder refusals said in the query's words (qserv.sql.bind_errors), with the messages
DuckDB itself gives (so a change of its wording fails here)."""

import duckdb
import pytest

from qserv.sql.bind_errors import OPERATORS, in_user_words


def binder_message(sql):
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t (objectId BIGINT, name VARCHAR, ra DOUBLE)")
    with pytest.raises(duckdb.BinderException) as caught:
        connection.sql(sql)
    return str(caught.value)


@pytest.mark.parametrize("query, expected", [
    ("SELECT objectId FROM t\nWHERE objectId LIKE '10%'",
     "the operator LIKE at line 2, column 16 (objectId LIKE '10%') cannot be applied to (integer, string literal); "
     "it takes (text, text)"),
    ("SELECT objectId FROM t WHERE objectId NOT LIKE '1%'", "the operator NOT LIKE at line 1, column 39"),
    ("SELECT objectId FROM t WHERE ra ILIKE 'a'", "the operator ILIKE at line 1, column 33 (ra ILIKE 'a')"),
    ("SELECT log10(name) FROM t", "the function log10 at line 1, column 8 (log10(name)) cannot be applied to (text)"),
])
def test_refusals_in_the_query_words(query, expected):
    message = binder_message(query)
    said = in_user_words(message, query)
    assert expected in said
    assert not any(f'"{name}"' in said or f"{name}(" in said for name in OPERATORS if not name.isalpha())


def test_unknown_messages_are_left_alone():
    assert in_user_words("Binder Error: something else", "SELECT 1") is None
