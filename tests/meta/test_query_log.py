"""The query log (DMS-REQ-0345) on a fresh instance's central state."""

import re
from datetime import datetime

import pytest

from qserv.errors import UserError
from qserv.meta.models import QueryRecord
from qserv.meta.query_log import finish_query, recent_queries, start_query


def test_start_records_a_running_query_and_finish_completes_it(store):
    with store.session() as session:
        query_id = start_query(session, "SELECT COUNT(*) FROM Object", "adql", database="sky", user="alice")
        assert isinstance(query_id, int)
    with store.session() as session:
        record = session.get(QueryRecord, query_id)
        assert (record.text, record.lang, record.database, record.user) == (
            "SELECT COUNT(*) FROM Object", "adql", "sky", "alice")
        assert record.status == "running"
        assert isinstance(record.submitted_at, datetime)
        assert (record.duration_s, record.rows, record.chunks, record.error) == (None, None, None, None)
        finish_query(session, query_id, "ok", 1.25, rows=1, chunks=42)
    with store.session() as session:
        record = session.get(QueryRecord, query_id)
        assert (record.status, record.duration_s, record.rows, record.chunks, record.error) == (
            "ok", 1.25, 1, 42, None)


def test_a_failed_query_keeps_its_error(store):
    with store.session() as session:
        query_id = start_query(session, "SELECT nope FROM sky.Object", "qserv")
        finish_query(session, query_id, "error", 0.01, error="no column 'nope' in sky.Object")
    with store.session() as session:
        [record] = recent_queries(session)
        assert (record.status, record.error, record.user, record.database) == (
            "error", "no column 'nope' in sky.Object", None, None)


def test_recent_is_newest_first_limited_and_filtered(store):
    with store.session() as session:
        ids = [start_query(session, f"SELECT {i}", "adql", user="alice" if i % 2 else "bob") for i in range(5)]
        finish_query(session, ids[0], "ok", 0.1, rows=1, chunks=1)
        finish_query(session, ids[1], "error", 0.2, error="boom")
        finish_query(session, ids[2], "cancelled", 0.3)
        finish_query(session, ids[3], "ok", 0.4, rows=1, chunks=1)
    with store.session() as session:
        assert [r.id for r in recent_queries(session)] == ids[::-1]
        assert [r.id for r in recent_queries(session, limit=2)] == [ids[4], ids[3]]
        assert [r.id for r in recent_queries(session, status="ok")] == [ids[3], ids[0]]
        assert [r.id for r in recent_queries(session, status="running")] == [ids[4]]
        assert [r.id for r in recent_queries(session, user="alice")] == [ids[3], ids[1]]
        assert [r.id for r in recent_queries(session, status="ok", user="bob")] == [ids[0]]
        assert recent_queries(session, user="carol") == []


def test_recent_orders_by_submit_time_not_id(store):
    with store.session() as session:
        first = start_query(session, "SELECT 1", "adql")
        second = start_query(session, "SELECT 2", "adql")
        session.get(QueryRecord, second).submitted_at = datetime(2020, 1, 1)
    with store.session() as session:
        assert [r.id for r in recent_queries(session)] == [first, second]


def test_empty_log(store):
    with store.session() as session:
        assert recent_queries(session) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"status": "done"}, "unknown query status 'done' (expected one of running, ok, error, cancelled)"),
    ({"limit": 0}, "limit must be at least 1, got 0"),
])
def test_recent_rejects_bad_arguments(store, kwargs, message):
    with store.session() as session, pytest.raises(UserError, match=re.escape(message)):
        recent_queries(session, **kwargs)


def test_finish_rejects_a_non_final_status_and_an_unknown_query(store):
    with store.session() as session:
        query_id = start_query(session, "SELECT 1", "adql")
        with pytest.raises(UserError, match="unknown query status 'running'"):
            finish_query(session, query_id, "running", 0.1)
        with pytest.raises(UserError, match="no query 999 in the query log"):
            finish_query(session, 999, "ok", 0.1)


def test_the_writer_records_starts_and_ends_in_order_and_flush_waits(store):
    from qserv.meta.log_writer import QueryLogWriter

    writer = QueryLogWriter(store)
    try:
        entries = [writer.started(f"SELECT {k}", "adql", user="bob") for k in range(50)]
        for k, entry in enumerate(entries[:40]):
            writer.finished(entry, "ok" if k % 2 else "error", 0.5, rows=k, error=None if k % 2 else "bad")
        writer.flush()
        with store.session() as session:
            logged = recent_queries(session, limit=100, user="bob")
        by_text = {record.text: record for record in logged}
        assert len(by_text) == 50
        assert [by_text[f"SELECT {k}"].status for k in (0, 1, 45)] == ["error", "ok", "running"]
        assert by_text["SELECT 7"].rows == 7 and by_text["SELECT 8"].error == "bad"
    finally:
        writer.close()
