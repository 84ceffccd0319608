"""Fingerprints agree across backends: every query record of the slt corpus (tests/slt) run on
DuckDB workers and on PostgreSQL workers holding the same rows gives the same columns, row count
and row checksum in the query log (the answers themselves are checked against an unsharded DuckDB
by tests/slt)."""

import sys
from pathlib import Path

import qserv

sys.path.insert(0, str(Path(__file__).parents[1] / "slt"))
from dataset import build_sharded  # noqa: E402
from slt_format import load_corpus  # noqa: E402


def _fingerprints(home, records):
    with qserv.open(home) as engine:
        build_sharded(engine)
        for record in records:
            engine.query(record.sql, lang=record.lang, db=record.db)
        logged = engine.recent_queries(limit=len(records))[::-1]
    return [(r.text, r.result_columns, r.rows, r.checksum) for r in logged]


def test_checksums_equal_on_duckdb_and_postgres_workers(tmp_path, new_instance):
    records = [r for r in load_corpus(Path(__file__).parents[1] / "slt") if r.kind == "query"]
    new_instance(tmp_path / "duckdb", "duckdb", 2)
    new_instance(tmp_path / "postgres", "postgres", 2)
    on_duckdb = _fingerprints(tmp_path / "duckdb", records)
    on_postgres = _fingerprints(tmp_path / "postgres", records)
    assert len(on_duckdb) == len(records) and all(f[3] for f in on_duckdb)
    differing = [(d, p) for d, p in zip(on_duckdb, on_postgres) if d != p]
    assert differing == []
