"""The dialect layer: ADQL and Qserv SQL parsed, resolved against a schema, emitted for DuckDB and
PostgreSQL, and executed on a small table; results are checked against numpy, the regions of
``qserv.sphere`` or hand-computed values. PostgreSQL at 127.0.0.1:5432 is required (the
PostgreSQL tests fail, never skip, without it)."""

import math

import duckdb
import numpy as np
import psycopg2
import pytest

from qserv.errors import QuerySyntaxError, UserError
from qserv.sphere import Box, Circle, Polygon, angular_separation_deg
from qserv.sql.dialects import parse, resolve_identifiers, to_sql
from qserv.sql.worker_functions import function_sql

COLUMNS = {"Obj": ["objectId", "ra", "decl", "gMag", "band", "name", "flux"]}
RNG = np.random.default_rng(7)
N = 60
IDS = np.arange(1, N + 1)
RA = (5.0 + RNG.uniform(-12.0, 12.0, N)) % 360.0  # straddles RA 0
DEC = RNG.uniform(8.0, 32.0, N)
GMAG = RNG.uniform(15.0, 25.0, N)
BAND = np.array(["g", "r", "i"])[IDS % 3]
NAME = np.array([f"obj{i}" for i in IDS])
FLUX = 10.0 ** ((31.4 - GMAG) / 2.5)
CREATE = ('CREATE TABLE "Obj" ("objectId" BIGINT, "ra" DOUBLE PRECISION, "decl" DOUBLE PRECISION, '
          '"gMag" DOUBLE PRECISION, "band" VARCHAR, "name" VARCHAR, "flux" DOUBLE PRECISION)')
ROWS = [(int(i), float(r), float(d), float(g), str(b), str(n), float(f))
        for i, r, d, g, b, n, f in zip(IDS, RA, DEC, GMAG, BAND, NAME, FLUX)]


def ids_where(mask):
    return sorted(int(i) for i in IDS[mask])


def one(value):
    """Expected: a single row with a single value (floats compared approximately)."""
    return lambda rows: len(rows) == 1 and _same(rows[0][0], value)


def _same(got, want):
    if want is None or isinstance(want, str) or got is None:
        return got == want
    return math.isclose(float(got), want, rel_tol=1e-9, abs_tol=1e-9)


def id_set(expected):
    return lambda rows: sorted(int(r[0]) for r in rows) == expected


def id_list(expected):
    return lambda rows: [int(r[0]) for r in rows] == expected


def values(expected):
    return lambda rows: len(rows) == len(expected) and all(
        _same(r[1], e) for r, e in zip(sorted(rows), expected))


FIRST = "FROM Obj WHERE objectId = 1"
CIRCLE = Circle(5.0, 20.0, 4.0).contains_reference(RA, DEC)
BOX = Box.from_centre(2.0, 20.0, 10.0, 6.0).contains_reference(RA, DEC)
POLYGON = Polygon([355.0, 8.0, 3.0], [12.0, 12.0, 28.0]).contains_reference(RA, DEC)
SEP = angular_separation_deg(RA, DEC, 5.0, 20.0)

# (language, query, check of the result rows, also run on PostgreSQL)
CASES = [
    ("adql", "SELECT TOP 3 objectId FROM Obj", lambda rows: len(rows) == 3, True),
    ("adql", "SELECT TOP 3 objectId FROM Obj ORDER BY objectId DESC", id_list([60, 59, 58]), True),
    ("adql", "SELECT objectId FROM Obj ORDER BY objectId OFFSET 56", id_list([57, 58, 59, 60]), True),
    ("adql", "SELECT TOP 2 objectId FROM Obj ORDER BY objectId OFFSET 10", id_list([11, 12]), True),
    ("adql", "SELECT DISTINCT band FROM Obj", lambda rows: sorted(r[0] for r in rows) == ["g", "i", "r"], True),
    ("adql", f"SELECT LOG(EXP(1)) {FIRST}", one(1.0), True),
    ("adql", f"SELECT log(100.0) {FIRST}", one(math.log(100.0)), True),
    ("adql", f"SELECT LOG10(1000) {FIRST}", one(3.0), True),
    ("adql", f"SELECT TRUNCATE(2.7) {FIRST}", one(2.0), True),
    ("adql", f"SELECT TRUNCATE(-2.7) {FIRST}", one(-2.0), True),
    ("adql", f"SELECT TRUNCATE(gMag, 2) {FIRST}", one(math.trunc(GMAG[0] * 100) / 100), True),
    ("adql", f"SELECT MOD(7, 3) {FIRST}", one(1.0), True),
    ("adql", f"SELECT MOD(objectId + 9, 4) {FIRST}", one(2.0), True),
    ("adql", "SELECT RAND() FROM Obj", lambda rows: len(rows) == N and all(0 <= r[0] < 1 for r in rows), True),
    ("adql", f"SELECT POWER(2, 10) {FIRST}", one(1024.0), True),
    ("adql", f"SELECT SQRT(16) {FIRST}", one(4.0), True),
    ("adql", f"SELECT EXP(0) {FIRST}", one(1.0), True),
    ("adql", f"SELECT ABS(-3.5) {FIRST}", one(3.5), True),
    ("adql", f"SELECT CEILING(2.1) {FIRST}", one(3.0), True),
    ("adql", f"SELECT FLOOR(-2.1) {FIRST}", one(-3.0), True),
    ("adql", f"SELECT ROUND(2.5) {FIRST}", one(3.0), True),
    ("adql", f"SELECT ROUND(CAST(2.5 AS DOUBLE PRECISION)) {FIRST}", one(3.0), True),
    ("adql", f"SELECT ROUND(gMag, 1) {FIRST}", lambda rows: abs(rows[0][0] - GMAG[0]) <= 0.05 + 1e-12, True),
    ("adql", f"SELECT PI() {FIRST}", one(math.pi), True),
    ("adql", f"SELECT SIN(PI() / 2) {FIRST}", one(1.0), True),
    ("adql", f"SELECT COS(0) {FIRST}", one(1.0), True),
    ("adql", f"SELECT TAN(PI() / 4) {FIRST}", one(1.0), True),
    ("adql", f"SELECT ASIN(1) {FIRST}", one(math.pi / 2), True),
    ("adql", f"SELECT ACOS(1) {FIRST}", one(0.0), True),
    ("adql", f"SELECT ATAN(1) {FIRST}", one(math.pi / 4), True),
    ("adql", f"SELECT ATAN2(1, -1) {FIRST}", one(math.atan2(1, -1)), True),
    ("adql", f"SELECT COT(1) {FIRST}", one(1 / math.tan(1)), True),
    ("adql", f"SELECT DEGREES(PI()) {FIRST}", one(180.0), True),
    ("adql", f"SELECT RADIANS(180) {FIRST}", one(math.pi), True),
    ("adql", f"SELECT 7 / 2 {FIRST}", one(3.5), True),
    ("adql", f"SELECT objectId / 0 {FIRST}", one(None), True),
    ("adql", f"SELECT LOWER('AbC') {FIRST}", one("abc"), True),
    ("adql", f"SELECT UPPER(name) {FIRST}", one("OBJ1"), True),
    ("adql", f"SELECT TRIM('  x  ') {FIRST}", one("x"), True),
    ("adql", f"SELECT name || '-' || band {FIRST}", one(f"obj1-{BAND[0]}"), True),
    ("adql", "SELECT objectId FROM Obj WHERE name LIKE 'obj1%'", id_set([1] + list(range(10, 20))), True),
    ("adql", "SELECT objectId FROM Obj WHERE name ILIKE 'OBJ2_'", id_set(list(range(20, 30))), True),
    ("adql", f"SELECT CAST(objectId AS DOUBLE PRECISION) / 4 {FIRST}", one(0.25), True),
    ("adql", f"SELECT CAST(2.7 AS INTEGER) {FIRST}", one(3.0), True),
    ("adql", f"SELECT COALESCE(NULL, 2) {FIRST}", one(2.0), True),
    ("adql", "SELECT objectId, CASE WHEN gMag < 20 THEN 'bright' ELSE 'faint' END FROM Obj",
     values(["bright" if g < 20 else "faint" for g in GMAG]), True),
    ("adql", "SELECT objectId, DISTANCE(POINT('ICRS', ra, decl), POINT('ICRS', 5, 20)) FROM Obj",
     values(list(SEP)), True),
    ("adql", "SELECT objectId, DISTANCE(ra, decl, 5.0, 20.0) FROM Obj", values(list(SEP)), True),
    ("adql", "SELECT objectId FROM Obj WHERE DISTANCE(POINT(ra, decl), POINT(5, 20)) < 3",
     id_set(ids_where(SEP < 3)), True),
    ("adql", "SELECT objectId FROM Obj WHERE CONTAINS(POINT('ICRS', ra, decl), "
             "CIRCLE('ICRS', 5, 20, 4)) = 1", id_set(ids_where(CIRCLE)), True),
    ("adql", "SELECT objectId FROM Obj WHERE CONTAINS(POINT(ra, decl), CIRCLE('', 5, 20, 4)) = 0",
     id_set(ids_where(~CIRCLE)), True),
    ("adql", "SELECT objectId FROM Obj WHERE 1 = CONTAINS(POINT(ra, decl), CIRCLE(2 + 3, 20, 2 * 2))",
     id_set(ids_where(CIRCLE)), True),
    ("adql", "SELECT objectId FROM Obj WHERE CONTAINS(POINT('ICRS', ra, decl), "
             "BOX('ICRS', 2, 20, 10, 6)) = 1", id_set(ids_where(BOX)), True),
    ("adql", "SELECT objectId FROM Obj WHERE CONTAINS(POINT(ra, decl), BOX(1 + 1, 20, 10, 6)) = 1",
     id_set(ids_where(BOX)), True),
    ("adql", "SELECT objectId FROM Obj WHERE CONTAINS(POINT(ra, decl), "
             "POLYGON('ICRS', 355, 12, 8, 12, 3, 28)) = 1", id_set(ids_where(POLYGON)), True),
    ("adql", "SELECT objectId FROM Obj WHERE INTERSECTS(POINT(ra, decl), CIRCLE(5, 20, 4)) = 1",
     id_set(ids_where(CIRCLE)), True),
    ("adql", "SELECT objectId FROM Obj WHERE INTERSECTS(CIRCLE(5, 20, 4), POINT(ra, decl)) = 1",
     id_set(ids_where(CIRCLE)), True),
    ("adql", "SELECT objectId, COORD1(POINT(ra, decl)) FROM Obj", values(list(RA)), True),
    ("adql", "SELECT objectId, COORD2(POINT('ICRS', ra, decl)) FROM Obj", values(list(DEC)), True),
    ("adql", "SELECT band, COUNT(*) FROM Obj GROUP BY band HAVING COUNT(*) > 0 ORDER BY band",
     lambda rows: rows == [("g", 20), ("i", 20), ("r", 20)], True),
    ("adql", "SELECT AVG(gMag), MIN(gMag), MAX(gMag), SUM(gMag) FROM Obj",
     lambda rows: np.allclose(rows[0], [GMAG.mean(), GMAG.min(), GMAG.max(), GMAG.sum()]), True),
    ("adql", "SELECT objectId FROM Obj WHERE objectId < 3 UNION SELECT objectId FROM Obj "
             "WHERE objectId = 2", id_set([1, 2]), True),
    ("adql", "SELECT objectId FROM Obj WHERE objectId < 3 UNION ALL SELECT objectId FROM Obj "
             "WHERE objectId = 2", id_set([1, 2, 2]), True),
    ("adql", "SELECT objectId FROM Obj WHERE objectId < 5 INTERSECT SELECT objectId FROM Obj "
             "WHERE objectId > 3", id_set([4]), True),
    ("adql", "SELECT objectId FROM Obj WHERE objectId < 5 EXCEPT SELECT objectId FROM Obj "
             "WHERE objectId > 3", id_set([1, 2, 3]), True),
    ("adql", "WITH bright AS (SELECT objectId AS oid FROM Obj WHERE gMag < 18) SELECT oid FROM bright",
     id_set(ids_where(GMAG < 18)), True),
    ("adql", "SELECT objectId FROM Obj WHERE objectId IN (SELECT objectId FROM Obj WHERE band = 'g')",
     id_set(ids_where(BAND == "g")), True),
    ("adql", "SELECT a.objectId FROM Obj AS a JOIN Obj AS b ON a.objectId = b.objectId + 1 "
             "WHERE b.objectId < 3", id_set([2, 3]), True),
    ("adql", "SELECT OBJECTID FROM OBJ WHERE GMAG < 18", id_set(ids_where(GMAG < 18)), True),
    ('adql', 'SELECT "objectId" FROM "Obj" WHERE "gMag" < 18', id_set(ids_where(GMAG < 18)), True),
    ("adql", "SELECT objectId FROM Obj WHERE objectId BETWEEN 3 AND 5 AND band IN ('g', 'r') "
             "AND name IS NOT NULL AND NOT objectId = 4",
     id_set(ids_where((IDS >= 3) & (IDS <= 5) & np.isin(BAND, ["g", "r"]) & (IDS != 4))), True),
    ("adql", "SELECT TOP 3 objectId AS Id, gMag AS Mag FROM Obj ORDER BY mag",
     id_list([int(i) for i in IDS[np.argsort(GMAG)[:3]]]), True),
    ("adql", "SELECT x.objectId FROM (SELECT * FROM Obj WHERE band = 'r') AS X WHERE X.gmag < 20",
     id_set(ids_where((BAND == "r") & (GMAG < 20))), True),
    ("adql", "SELECT x.objectId FROM (SELECT o.* FROM obj AS O WHERE o.band = 'g') AS x WHERE X.GMAG < 20",
     id_set(ids_where((BAND == "g") & (GMAG < 20))), True),
    ("qserv", "SELECT objectId FROM Obj ORDER BY objectId LIMIT 3", id_list([1, 2, 3]), True),
    ("qserv", "SELECT objectId FROM Obj ORDER BY objectId LIMIT 2, 3", id_list([3, 4, 5]), True),
    ("qserv", "SELECT objectId FROM Obj ORDER BY objectId LIMIT 3 OFFSET 2", id_list([3, 4, 5]), True),
    ("qserv", "SELECT `objectId` FROM `Obj` WHERE `objectId` <> 1 AND objectId != 2 AND objectId < 5",
     id_set([3, 4]), True),
    ("qserv", "SELECT objectId, scisql_angSep(ra, decl, 5, 20) FROM Obj", values(list(SEP)), True),
    ("qserv", "SELECT objectId FROM Obj WHERE scisql_s2PtInCircle(ra, decl, 5, 20, 4) = 1",
     id_set(ids_where(CIRCLE)), True),
    ("qserv", "SELECT objectId FROM Obj WHERE scisql_s2PtInBox(ra, decl, 357, 17, 7, 23) = 1",
     id_set(ids_where(BOX)), True),
    ("qserv", "SELECT objectId FROM Obj WHERE objectId DIV 7 = 1", id_set(list(range(7, 14))), True),
    ("qserv", "SELECT -7 DIV 2, 7 / 2, 7 % 3 FROM Obj WHERE objectId = 1",
     lambda rows: [float(v) for v in rows[0]] == [-3.0, 3.5, 1.0], True),
    ("qserv", "SELECT LOG(EXP(2)), LOG(2, 8), LOG10(100), LN(1) FROM Obj WHERE objectId = 1",
     lambda rows: np.allclose([float(v) for v in rows[0]], [2.0, 3.0, 2.0, 0.0]), True),
    ("qserv", "SELECT objectId, scisql_nanojanskyToAbMag(flux) FROM Obj", values(list(GMAG)), True),
    ("qserv", "SELECT band, COUNT(*) AS n FROM Obj GROUP BY band ORDER BY n DESC, band",
     lambda rows: [r[0] for r in rows] == ["g", "i", "r"], True),
    ("qserv", "SELECT o.objectId FROM Obj o WHERE o.band = 'i' AND o.gMag > 20",
     id_set(ids_where((BAND == "i") & (GMAG > 20))), True),
]


def _load(cursor):
    cursor.execute(CREATE)
    values = ", ".join(f"({i}, {r!r}, {d!r}, {g!r}, '{b}', '{n}', {f!r})" for i, r, d, g, b, n, f in ROWS)
    cursor.execute(f'INSERT INTO "Obj" VALUES {values}')


@pytest.fixture(scope="module")
def duck():
    connection = duckdb.connect()
    for statement in function_sql("duckdb"):
        connection.execute(statement)
    _load(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def pg(new_postgres_database):
    connection = psycopg2.connect(new_postgres_database())
    connection.autocommit = True
    with connection.cursor() as cursor:
        for statement in function_sql("postgres"):
            cursor.execute(statement)
        _load(cursor)
    yield connection
    connection.close()


def _sql(lang, query, backend):
    return to_sql(resolve_identifiers(parse(query, lang), COLUMNS), backend)


def test_enough_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize("lang, query, check", [c[:3] for c in CASES], ids=[c[1] for c in CASES])
def test_duckdb(duck, lang, query, check):
    sql = _sql(lang, query, "duckdb")
    rows = duck.execute(sql).fetchall()
    assert check(rows), (sql, rows)


PG_CASES = [c[:3] for c in CASES if c[3]]


@pytest.mark.parametrize("lang, query, check", PG_CASES, ids=[c[1] for c in PG_CASES])
def test_postgres(pg, lang, query, check):
    sql = _sql(lang, query, "postgres")
    with pg.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    assert check(rows), (sql, rows)


def _refused(query, lang, columns):
    """The message of the UserError (a QuerySyntaxError, or a region's InvalidRegionError) raised
    by parse, resolve_identifiers or to_sql."""
    with pytest.raises(UserError) as raised:
        tree = parse(query, lang)
        if columns is not None:
            tree = resolve_identifiers(tree, columns)
        to_sql(tree, "duckdb")
    return str(raised.value)


@pytest.mark.parametrize("query, lang, words", [
    ("SELECT 1 FROM Obj; SELECT 2 FROM Obj", "adql", "exactly one query"),
    ("INSERT INTO Obj VALUES (1)", "adql", "INSERT"),
    ("DROP TABLE Obj", "qserv", "DROP"),
    ("UPDATE Obj SET ra = 1", "adql", "UPDATE"),
    ("DELETE FROM Obj", "qserv", "DELETE"),
    ("SELECT ra INTO x FROM Obj", "qserv", "INTO"),
    ("", "adql", "empty"),
    ("  ;  ", "adql", "empty"),
    ("SELECT ra FROM Obj", "sql", "unknown query language"),
    ("SELECT ra\nFROM WHERE decl > 0", "adql", "line 2, column 10"),
    ("SELECT ra FROM Obj WHERE ra = = 2", "qserv", "line 1, column"),
    ("SELECT 'abc FROM Obj", "adql", "syntax error"),
    ("SELECT objectId FROM Obj WHERE CONTAINS(POINT('GALACTIC', ra, decl), CIRCLE(1, 2, 3)) = 1",
     "adql", "'GALACTIC'"),
    ("SELECT objectId FROM Obj WHERE CONTAINS(POINT(ra, decl), CIRCLE('FK5', 1, 2, 3)) = 1",
     "adql", "'FK5'"),
    ("SELECT DISTANCE(ra, decl, 1) FROM Obj", "adql", "DISTANCE"),
    ("SELECT CIRCLE(1, 2) FROM Obj", "adql", "CIRCLE: wrong number of arguments"),
    ("SELECT POLYGON(1, 2, 3, 4) FROM Obj", "adql", "POLYGON: wrong number of arguments"),
    ("SELECT AREA(CIRCLE(1, 2, 3)) FROM Obj", "adql", "AREA"),
    ("SELECT INTERSECTS(CIRCLE(1, 2, 3), CIRCLE(1, 2, 4)) FROM Obj", "adql", "INTERSECTS"),
])
def test_parse_refuses(query, lang, words):
    with pytest.raises(QuerySyntaxError) as raised:
        parse(query, lang)
    assert isinstance(raised.value, UserError) and words in str(raised.value)


@pytest.mark.parametrize("query, lang, columns, words", [
    ("SELECT objectId FROM Obj WHERE CONTAINS(POINT(ra, decl), POLYGON(ra, 1, 2, 3, 4, 5)) = 1",
     "adql", COLUMNS, "POLYGON vertices must be numeric literals"),
    ("SELECT objectId FROM Obj WHERE qserv_areaspec_box(0, 0, 10, 10)", "qserv", COLUMNS,
     "qserv_areaspec_box"),
    ("SELECT objectId FROM Obj WHERE qserv_areaspec_circle(1, 2, 3) AND ra > 0", "qserv", None,
     "qserv_areaspec_circle"),
    ("SELECT POINT(ra, decl) FROM Obj", "adql", COLUMNS, "POINT can only be used"),
    ("SELECT CONTAINS(CIRCLE(1, 2, 3), BOX(1, 2, 3, 4)) FROM Obj", "adql", COLUMNS, "POINT"),
    ("SELECT CONTAINS(POINT(ra, decl), POINT(1, 2)) FROM Obj", "adql", COLUMNS, "POINT"),
    ("SELECT RAND(7) FROM Obj", "adql", COLUMNS, "RAND(seed)"),
    ("SELECT CONTAINS(POINT(ra, decl), BOX(1, 2, 400, 4)) FROM Obj", "adql", COLUMNS, "width_deg"),
    ("SELECT nosuch FROM Obj", "adql", COLUMNS, "unknown column nosuch"),
    ('SELECT "OBJECTID" FROM Obj', "adql", COLUMNS, "unknown column"),
    ("SELECT ra FROM Nothing", "adql", COLUMNS, "unknown table Nothing"),
    ("SELECT z.ra FROM Obj AS a", "adql", COLUMNS, "unknown column z.ra"),
    ("SELECT z.* FROM Obj", "adql", COLUMNS, "unknown column z.*"),
    ("SELECT ra FROM Obj AS a JOIN Obj AS b ON a.objectId = b.objectId", "adql", COLUMNS, "ambiguous"),
    ("SELECT ra FROM Obj", "adql", {"d1.Obj": ["ra"], "d2.obj": ["ra"]}, "ambiguous"),
])
def test_emit_and_resolve_refuse(query, lang, columns, words):
    assert words in _refused(query, lang, columns=columns)


def test_normalised_tree():
    adql = parse("SELECT TOP 3 ra FROM Obj WHERE CONTAINS(POINT('ICRS', ra, decl), "
                 "CIRCLE('ICRS', 1, 2, 3)) = 1", "adql")
    qserv = parse("SELECT ra FROM Obj WHERE CONTAINS(POINT(ra, decl), CIRCLE(1, 2, 3)) = 1 LIMIT 3",
                  "qserv")
    assert adql == qserv
    assert adql.args["limit"].expression.name == "3"
    calls = [node.name for node in adql.find_all(parse("SELECT scisql_angSep(1, 2, 3, 4)", "adql").expressions[0].__class__)]
    assert sorted(calls) == ["QSERV_CIRCLE", "QSERV_CONTAINS", "QSERV_POINT"]
    four = parse("SELECT DISTANCE(ra, decl, 1, 2) FROM Obj", "adql")
    assert four == parse("SELECT DISTANCE(POINT(ra, decl), POINT(1, 2)) FROM Obj", "adql")
    areaspec = parse("SELECT ra FROM Obj WHERE qserv_areaspec_box(0, 0, 1, 1)", "qserv")
    assert areaspec.args["where"].this.name == "QSERV_AREASPEC_BOX"


def test_identifiers_take_schema_spelling_and_are_quoted():
    tree = parse("SELECT o.OBJECTID AS Id FROM obj AS O ORDER BY id", "adql")
    resolved = resolve_identifiers(tree, COLUMNS)
    assert tree.sql() == "SELECT o.OBJECTID AS Id FROM obj AS O ORDER BY id"  # not changed
    assert to_sql(resolved, "postgres") == (
        'SELECT "O"."objectId" AS "Id" FROM "Obj" AS "O" ORDER BY "Id" NULLS FIRST')
    before = resolved.sql()
    to_sql(resolved, "duckdb")
    assert resolved.sql() == before


def test_postgres_is_case_sensitive_for_schema_columns(pg):
    """Why the resolver exists: unresolved, a lower-case column misses the quoted column."""
    with pg.cursor() as cursor:
        with pytest.raises(psycopg2.errors.UndefinedColumn):
            cursor.execute(to_sql(parse("SELECT objectid FROM Obj", "adql"), "postgres"))
