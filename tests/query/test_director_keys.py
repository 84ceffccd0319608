"""Director-key restrictions: what is extracted from a parsed query and what is not."""

import pytest

from qserv.query.director_keys import director_key_restrictions
from qserv.sql.dialects import parse

KEYS = {"o": "objectId", "s": "objectId", "Object": "objectId", "Source": "objectId",
        "f": "filterName"}


def found(query, lang="qserv", keys=KEYS):
    """(table, values, number of nodes) of each restriction of ``query``."""
    return [(r.table, r.values, len(r.nodes))
            for r in director_key_restrictions(parse(query, lang), keys)]


EXTRACTED = [
    ("SELECT * FROM Object WHERE objectId = 42", "qserv", [("Object", {42}, 1)]),
    ("SELECT * FROM Object o WHERE 42 = o.objectId AND o.x > 1", "adql", [("o", {42}, 1)]),
    ("SELECT * FROM Object o WHERE o.objectId = -(7)", "qserv", [("o", {-7}, 1)]),
    ("SELECT * FROM Object WHERE objectId = 1e3", "adql", [("Object", {1000}, 1)]),
    ("SELECT * FROM Object WHERE objectid IN (3, 1, -2, NULL, 2.5)", "qserv",
     [("Object", {3, 1, -2}, 1)]),
    ("SELECT * FROM Object o WHERE (o.objectId IN (1, 2, 3) AND x = 1) AND objectId IN (2, 3, 4) "
     "AND o.objectId <> 3 AND objectId = 3", "qserv", [("o", {3}, 3)]),
    ("SELECT * FROM Object WHERE objectId = 1 AND objectId = 2", "qserv", [("Object", set(), 2)]),
    ("SELECT * FROM Object WHERE objectId = NULL", "qserv", [("Object", set(), 1)]),
    ("SELECT * FROM Object WHERE objectId IN (NULL)", "adql", [("Object", set(), 1)]),
    ("SELECT * FROM Object WHERE objectId = 0.5", "qserv", [("Object", set(), 1)]),
    ("SELECT * FROM Object WHERE objectId = 1234567890123456789", "qserv",
     [("Object", {1234567890123456789}, 1)]),
    # child table key, and both sides of a join
    ("SELECT * FROM Source WHERE objectId IN (5, 6)", "adql", [("Source", {5, 6}, 1)]),
    ("SELECT * FROM Object o JOIN Source s ON o.objectId = s.objectId "
     "WHERE s.objectId = 5 AND o.objectId IN (5, 6)", "qserv", [("s", {5}, 1), ("o", {5, 6}, 1)]),
    # string keys keep their type; quoted identifiers match exactly
    ("SELECT * FROM Filter f WHERE f.filterName IN ('g', 'r')", "qserv", [("f", {"g", "r"}, 1)]),
    ('SELECT * FROM Object WHERE "objectId" = 9', "adql", [("Object", {9}, 1)]),
]


@pytest.mark.parametrize(("query", "lang", "expected"), EXTRACTED)
def test_extracted(query, lang, expected):
    assert found(query, lang) == expected


def test_values_keep_their_type():
    tree = parse("SELECT * FROM Object WHERE objectId IN (1, '2', 3.0)", "qserv")
    [restriction] = director_key_restrictions(tree, KEYS)
    assert sorted(map(type, restriction.values), key=str) == [float, int, str]
    assert restriction.nodes == (tree.args["where"].this,)


NOT_EXTRACTED = [
    # under OR / NOT
    "SELECT * FROM Object WHERE objectId = 1 OR x = 2",
    "SELECT * FROM Object WHERE x = 2 AND (objectId = 1 OR objectId = 2)",
    "SELECT * FROM Object WHERE NOT objectId = 1",
    "SELECT * FROM Object WHERE objectId NOT IN (1, 2)",
    "SELECT * FROM Object WHERE NOT (objectId IN (1, 2))",
    # BETWEEN and inequalities scan
    "SELECT * FROM Object WHERE objectId BETWEEN 1 AND 2",
    "SELECT * FROM Object WHERE objectId >= 1 AND objectId <= 1",
    "SELECT * FROM Object WHERE objectId <> 1",
    # subqueries, set operations, WITH, join conditions
    "SELECT * FROM Object WHERE objectId IN (SELECT objectId FROM Source)",
    "SELECT * FROM Object WHERE x IN (SELECT objectId FROM Source WHERE objectId = 1)",
    "SELECT * FROM (SELECT * FROM Object WHERE objectId = 1) AS o",
    "SELECT * FROM (SELECT objectId + 1 AS objectId FROM Object) AS o WHERE o.objectId = 1",
    "SELECT * FROM Object WHERE objectId = 1 UNION SELECT * FROM Object",
    "WITH o AS (SELECT * FROM Object) SELECT * FROM o WHERE objectId = 1",
    "SELECT * FROM Object o JOIN Source s ON o.objectId = s.objectId AND s.objectId = 1",
    # non-constant values
    "SELECT * FROM Object WHERE objectId = x",
    "SELECT * FROM Object WHERE objectId = 1 + 1",
    "SELECT * FROM Object WHERE objectId = -'1'",
    "SELECT * FROM Object WHERE objectId IN (1, x)",
    "SELECT * FROM Object o, Source s WHERE o.objectId = s.objectId",
    # other columns or tables
    "SELECT * FROM Object WHERE id = 1",
    "SELECT * FROM Object WHERE Object.objectId2 = 1",
    "SELECT * FROM Other t WHERE t.objectId = 1",
    "SELECT * FROM Object o WHERE Object.objectId = 1",
    "SELECT * FROM Object WHERE db.Object.objectId = 1",
    # ambiguous unqualified key
    "SELECT * FROM Object o JOIN Object s ON o.objectId <> s.objectId WHERE objectId = 1",
    "SELECT * FROM Object o, Source s WHERE objectId IN (1, 2)",
]


@pytest.mark.parametrize("query", NOT_EXTRACTED)
def test_not_extracted(query):
    assert found(query) == []


def test_adql_not_extracted():
    for query in [
        "SELECT * FROM Object WHERE objectId = 1 OR objectId = 2",
        "SELECT * FROM Object WHERE objectId NOT IN (1, 2)",
        'SELECT * FROM Object WHERE "OBJECTID" = 1',
        "SELECT * FROM Object AS o WHERE o.objectId IN (SELECT s.objectId FROM Source AS s)",
    ]:
        assert found(query, "adql") == [], query
