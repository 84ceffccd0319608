"""Admin views of the ingest API: begin a transaction, send contributions (an uploaded file or a
path on the server), commit (a job) or abort, and read a transaction's state."""

from pathlib import Path
import shutil
import tempfile

from flask import request
from sqlalchemy import select

from qserv.api.admin.requests import body, engine, field
from qserv.api.admin.views_ops import job_accepted
from qserv.errors import UserError
from qserv.meta.catalog import get_transaction
from qserv.meta.models import Contribution, Table

STREAM_BYTES = 1 << 20


def _when(value):
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def list_transactions():
    return [{"id": i, "database": name, "state": state, "started": _when(started), "ended": _when(ended)}
            for i, name, state, started, ended in engine().list_transactions(request.args.get("database"))]


def begin_transaction():
    database = field(body(), "database", "string", required=True)
    transaction_id = engine().transactions.begin(database)
    return transaction_json(transaction_id), 201


def transaction_json(transaction_id, store=None):
    with (store or engine().store).session() as session:
        transaction = get_transaction(session, transaction_id)
        contributions = session.execute(
            select(Contribution, Table.name).join(Table, Contribution.table_id == Table.id)
            .where(Contribution.transaction_id == transaction.id).order_by(Contribution.id)).all()
        return {"id": transaction.id, "database": transaction.database.name, "state": transaction.state,
                "started": _when(transaction.started_at), "ended": _when(transaction.ended_at),
                "contributions": [{"id": c.id, "table": table, "key": c.key, "state": c.state, "rows": c.rows,
                                   "overlap_rows": c.overlap_rows, "error": c.error} for c, table in contributions]}


def get_transaction_status(transaction_id):
    return transaction_json(transaction_id)


def contribute(transaction_id):
    """A file upload (multipart: ``file``, and fields ``table``, ``format``, ``null``, ``key``), the
    file as the raw body (``application/octet-stream``; the fields and ``filename`` in the query
    string; streamed to disk), or a JSON body naming a file on the server (``table``, ``path``,
    ``format``, ``null``)."""
    if request.mimetype == "application/octet-stream":
        return _contribute_stream(transaction_id, dict(request.args.items()))
    upload = request.files.get("file")
    values = dict(request.form.items()) if upload is not None else body()
    table = field(values, "table", "string", required=True)
    options = {"format": field(values, "format", "string"), "null": field(values, "null", "string")}
    if upload is None:
        path = field(values, "path", "string", required=True)
        if not Path(path).is_file():
            raise UserError(f"no file {path!r} on the server")
        result = engine().transactions.contribute(transaction_id, table, path, key=field(values, "key", "string"),
                                                  **options)
    else:
        name = Path(upload.filename or "upload").name
        folder = Path(tempfile.mkdtemp(prefix="contribution-", dir=_upload_dir()))
        try:
            path = folder / name
            upload.save(path)
            result = engine().transactions.contribute(transaction_id, table, path,
                                                      key=values.get("key") or f"upload:{name}", **options)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return _contribution_json(result), 201


def _contribute_stream(transaction_id, values):
    table = field(values, "table", "string", required=True)
    name = Path(field(values, "filename", "string", required=True)).name
    folder = Path(tempfile.mkdtemp(prefix="contribution-", dir=_upload_dir()))
    try:
        path = folder / name
        with open(path, "wb") as out:
            shutil.copyfileobj(request.stream, out, STREAM_BYTES)
        result = engine().transactions.contribute(transaction_id, table, path, key=values.get("key") or f"upload:{name}",
                                                  format=values.get("format"), null=values.get("null"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _contribution_json(result), 201


def _contribution_json(result):
    return {"id": result.id, "key": result.key, "rows": result.rows, "overlap_rows": result.overlap_rows,
            "reused": result.reused}


def _upload_dir():
    folder = engine().home / "tmp" / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def commit_transaction(transaction_id):
    running = engine()
    with running.store.session() as session:
        get_transaction(session, transaction_id)  # 404 now, not in the job

    def operation(progress):
        progress(0, 1)
        running.transactions.commit(transaction_id)
        progress(1)
        return transaction_json(transaction_id, running.store)

    return job_accepted("commit", transaction_id, operation)


def abort_transaction(transaction_id):
    engine().transactions.abort(transaction_id)
    return transaction_json(transaction_id)

