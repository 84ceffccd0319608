"""written_names: unaliased computed select items are named by their text (pure, no instance)."""

import pytest

from qserv.query.result_columns import written_names
from qserv.sql.dialects import parse


def names(text, lang="adql", given=None):
    tree = parse(text, lang)
    given = given or [f"field{i}" for i in range(len(tree.selects))]
    return written_names(text, lang, tree, given)


@pytest.mark.parametrize("text, lang, expected", [
    ("SELECT COUNT(*) FROM t", "adql", ["COUNT(*)"]),
    ("SELECT DISTINCT TOP 5 count( * ), ra + 1 AS x, ra FROM t", "adql", ["count( * )", "field1", "field2"]),
    ("SELECT (a + b) * 2, POWER(x,\n      y), 'a,b' FROM t WHERE a IN (1, 2) GROUP BY a", "adql",
     ["(a + b) * 2", "POWER(x, y)", "'a,b'"]),
    ("SELECT COUNT(*) FROM t LIMIT 3", "qserv", ["COUNT(*)"]),
    ("SELECT `ra`, SUM(`mag`) FROM t", "qserv", ["field0", "SUM(`mag`)"]),
    ("WITH c AS (SELECT 1 AS q) SELECT COUNT(*), MAX(q) FROM c", "adql", ["COUNT(*)", "MAX(q)"]),
    ("SELECT 1 + 1", "adql", ["1 + 1"]),
    ("SELECT a, COUNT(*) FROM t GROUP BY a UNION SELECT b, 2 FROM u", "adql", ["field0", "COUNT(*)"]),
])
def test_names_as_written(text, lang, expected):
    assert names(text, lang) == expected


def test_star_fields_are_kept_and_items_after_a_star_are_found():
    tree = parse("SELECT *, ra * 2 FROM t", "adql")
    assert written_names("SELECT *, ra * 2 FROM t", "adql", tree, ["a", "b", "c", "(ra * 2)"]) == \
        ["a", "b", "c", "ra * 2"]


def test_unmatched_select_lists_keep_the_given_names():
    text = "(SELECT COUNT(*) FROM t) UNION (SELECT 1 FROM u)"  # no select list at depth 0
    assert names(text) == ["field0"]
    tree = parse("SELECT *, t.*, 1 + 1 FROM t", "adql")  # fields between two stars: unknown
    assert written_names("SELECT *, t.*, 1 + 1 FROM t", "adql", tree, list("abcdef")) == list("abcdef")
