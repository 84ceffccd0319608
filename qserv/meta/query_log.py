"""The query log (DMS-REQ-0345): every query is recorded in the central state with its text,
language, default database, user, submit time, duration, rows returned, chunks touched, status
and error.

Pure functions over a SQLAlchemy session (the caller owns the transaction): a query is logged
with :func:`start_query` when it is submitted (status ``running``) and completed with
:func:`finish_query`; :func:`recent_queries` reads the log newest first (``qserv history``).
"""

from sqlalchemy import select

from qserv.errors import UserError
from qserv.meta.models import QueryRecord

STATUSES = ("running", "ok", "error", "cancelled")
FINAL_STATUSES = ("ok", "error", "cancelled")


def _check_status(status, allowed):
    if status not in allowed:
        raise UserError(f"unknown query status {status!r} (expected one of {', '.join(allowed)})")


def start_query(session, text, lang, database=None, user=None):
    """Record a submitted query as ``running``; return its id (the row is flushed, not committed)."""
    record = QueryRecord(text=text, lang=lang, database=database, user=user, status="running")
    session.add(record)
    session.flush()
    return record.id


FINGERPRINT_FIELDS = ("visibility", "as_of", "result_columns", "checksum", "plan_s", "workers_s", "merge_s")


def finish_query(session, query_id, status, duration_s, rows=None, chunks=None, error=None, fingerprint=None):
    """Complete query ``query_id``: final ``status`` (ok, error or cancelled), wall-clock duration
    in seconds, rows returned, chunks touched and the error message, if any; ``fingerprint``
    (``qserv.fingerprint``): a dict of some FINGERPRINT_FIELDS."""
    _check_status(status, FINAL_STATUSES)
    record = session.get(QueryRecord, query_id)
    if record is None:
        raise UserError(f"no query {query_id} in the query log")
    record.status = status
    record.duration_s = duration_s
    record.rows = rows
    record.chunks = chunks
    record.error = error
    for name, value in (fingerprint or {}).items():
        if name not in FINGERPRINT_FIELDS:
            raise ValueError(f"unknown query fingerprint field {name!r}")
        setattr(record, name, value)
    session.flush()


def recent_queries(session, limit=20, status=None, user=None):
    """The ``limit`` most recently submitted queries, newest first, optionally only those with
    this ``status`` or from this ``user``."""
    if status is not None:
        _check_status(status, STATUSES)
    if limit < 1:
        raise UserError(f"the query history limit must be at least 1, got {limit}")
    statement = select(QueryRecord)
    if status is not None:
        statement = statement.where(QueryRecord.status == status)
    if user is not None:
        statement = statement.where(QueryRecord.user == user)
    statement = statement.order_by(QueryRecord.submitted_at.desc(), QueryRecord.id.desc()).limit(limit)
    return list(session.scalars(statement))
