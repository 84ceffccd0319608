"""Qserv's integration-test layout (a case directory with queries/NNNN_name.sql, the data loaded
separately) replayed through ``qserv replay`` against the answers of an unsharded DuckDB holding
the same rows (or a PostgreSQL database: the same answers); and a corpus whose expected answers
are files beside the queries."""


import duckdb
import psycopg2
from psycopg2.extras import execute_values
import pyarrow as pa
import pyarrow.parquet as pq

import qserv
from qserv.replay import sources
from qserv.replay.reference import fill_expected
from qserv.replay.runner import EngineTarget, replay

from tests.cli_run import run

QUERIES = {
    "0001_countAll.sql": "SELECT COUNT(*) AS n FROM Obj",
    "0002_byBand.sql": "SELECT band, COUNT(*) AS n, AVG(mag) AS m FROM Obj GROUP BY band ORDER BY band",
    "0003_inCircle.sql": "SELECT id, mag FROM Obj WHERE scisql_s2PtInCircle(ra, dec, 5.0, 0.0, 0.8) = 1",
    "0004_areaspec.sql": "SELECT id FROM Obj WHERE qserv_areaspec_box(4.0, -1.0, 6.0, 1.0) AND mag < 20",
    "0005_lookup.sql": "SELECT * FROM Obj WHERE id = 1234",
    "0010_adql.sql": "-- lang: adql\nSELECT TOP 5 id FROM r.Obj ORDER BY id",
}


def _case(tmp_path):
    queries = tmp_path / "case01" / "queries"
    queries.mkdir(parents=True)
    for name, text in QUERIES.items():
        (queries / name).write_text(text + ";\n")
    return tmp_path / "case01"


def _reference(tmp_path, sky):
    path = tmp_path / "reference.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute(f'CREATE SCHEMA "{sky.DATABASE}"')
    rows = sky.rows(0, 2000, 1)
    connection.execute(f'CREATE TABLE "{sky.DATABASE}"."Obj" AS SELECT * FROM rows')
    connection.close()
    return path


def test_qserv_case_layout_against_an_unsharded_duckdb(sky_home, sky, tmp_path):
    home = sky_home()
    case = _case(tmp_path)
    reference = _reference(tmp_path, sky)
    agreed = run(home, "replay", str(case), "--db", sky.DATABASE, "--reference", str(reference), "--show-same")
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert f"{len(QUERIES)} same" in agreed.stdout.splitlines()[-1]
    assert "queries/0003_inCircle.sql" in agreed.stdout
    with qserv.open(home) as engine:
        engine.ingest(sky.TABLE, [pa.table({"id": [7000], "ra": [5.0], "dec": [0.1], "mag": [19.0],
                                                "band": ["r"]})])
    changed = run(home, "replay", str(case), "--db", sky.DATABASE, "--reference", str(reference))
    assert changed.returncode == 1
    named = {line.split("\t")[1] for line in changed.stdout.splitlines() if line.startswith("DIFFERENT")}
    assert named == {f"queries/{n}" for n in ("0001_countAll.sql", "0002_byBand.sql", "0003_inCircle.sql",
                                              "0004_areaspec.sql")}
    assert "7000" in changed.stdout  # the new row, shown as an extra row of the cone


def test_expected_answers_beside_the_queries(sky_home, sky, tmp_path):
    home = sky_home()
    case = _case(tmp_path)
    with qserv.open(home) as engine:
        entries = sources.from_corpus(case, sky.DATABASE)
        fill_expected(entries, engine, str(_reference(tmp_path, sky)))
        for entry in entries:
            pq.write_table(entry.expected, (case / entry.name).with_suffix(".parquet"))
        reread = sources.from_corpus(case, sky.DATABASE)
        assert all(e.expected is not None for e in reread)
        verdicts = replay(reread, EngineTarget(engine))
        assert [v.kind for v in verdicts if v.kind not in ("same", "faster", "slower")] == []
        wrong = reread[2].expected.slice(1)  # one row fewer than the truth
        pq.write_table(wrong, (case / reread[2].name).with_suffix(".parquet"))
        verdicts = replay(sources.from_corpus(case, sky.DATABASE), EngineTarget(engine))
        different = [v for v in verdicts if v.kind == "different"]
        assert [v.entry.name for v in different] == [reread[2].name]
        assert different[0].extra == reread[2].expected.slice(0, 1).to_pylist() and different[0].missing == []


def test_a_postgresql_reference_gives_the_duckdb_reference_answers(sky_home, sky, tmp_path, new_postgres_database):
    dsn = new_postgres_database()
    rows = sky.rows(0, 2000, 1)
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{sky.DATABASE}"')
        cursor.execute(f'CREATE TABLE "{sky.DATABASE}"."Obj" (id BIGINT, ra FLOAT8, dec FLOAT8, mag FLOAT8, band TEXT)')
        execute_values(cursor, f'INSERT INTO "{sky.DATABASE}"."Obj" VALUES %s',
                       [tuple(r.values()) for r in rows.to_pylist()])
    case = _case(tmp_path)
    with qserv.open(sky_home()) as engine:
        on_duckdb = fill_expected(sources.from_corpus(case, sky.DATABASE), engine, str(_reference(tmp_path, sky)))
        on_postgres = fill_expected(sources.from_corpus(case, sky.DATABASE), engine, dsn)
    assert [e.status for e in on_postgres] == ["ok"] * len(QUERIES), [e.error for e in on_postgres]
    assert [(e.rows, e.checksum) for e in on_postgres] == [(e.rows, e.checksum) for e in on_duckdb]
