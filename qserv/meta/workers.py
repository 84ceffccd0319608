"""Workers in the central state: registering, states, usage, and retiring one.

States: ``active`` (queried, and new chunks are placed on it), ``disabled`` (neither; its
replicas are kept and used again once enabled), ``drained`` (emptied by ``worker drain``), and
``removed``. A removed worker's row stays (renamed ``NAME~ID``, which no new worker can be called)
so that worker ids are never reused: running engines tell workers apart by id.
"""

from sqlalchemy import func, select

from qserv.errors import ConflictError, NotFoundError
from qserv.meta.models import Chunk, Database, Replica, Table, Worker
from qserv.schema.columns import check_identifier

REMOVED = "removed"
SETTABLE_STATES = ("active", "disabled")


def listed_workers(session):
    """Every worker that is not removed, by id."""
    return session.scalars(select(Worker).where(Worker.state != REMOVED).order_by(Worker.id)).all()


def get_worker(session, name):
    worker = session.scalar(select(Worker).where(Worker.name == name, Worker.state != REMOVED))
    if worker is None:
        known = ", ".join(w.name for w in listed_workers(session)) or "none"
        raise NotFoundError(f"no worker {name!r} (workers: {known})")
    return worker


def check_new_worker(session, name, backend, location):
    """Refuse a worker name or location already in use."""
    check_identifier(name, "worker")
    for worker in listed_workers(session):
        if worker.name == name:
            raise ConflictError(f"worker {name!r} already exists")
        if worker.backend == backend and worker.location == location:
            raise ConflictError(f"worker {worker.name!r} already uses that {'DSN' if backend == 'postgres' else 'file'}")


def register_worker(session, name, backend, location, state="active"):
    """A new worker row (checked by ``check_new_worker``)."""
    check_new_worker(session, name, backend, location)
    worker = Worker(name=name, backend=backend, location=location, state=state)
    session.add(worker)
    session.flush()
    return worker


def set_state(session, name, state):
    if state not in SETTABLE_STATES:
        raise ValueError(state)
    worker = get_worker(session, name)
    worker.state = state
    return worker


def holders(session, database_id=None):
    """{(database id, chunk): [worker ids]} of the recorded replicas."""
    query = select(Replica.database_id, Replica.chunk, Replica.worker_id).order_by(
        Replica.database_id, Replica.chunk, Replica.worker_id)
    if database_id is not None:
        query = query.where(Replica.database_id == database_id)
    found = {}
    for database, chunk, worker in session.execute(query):
        found.setdefault((database, chunk), []).append(worker)
    return found


def sole_replicas(session, worker_id):
    """[(database name, chunk)] of which ``worker_id`` holds the only replica."""
    names = dict(session.execute(select(Database.id, Database.name)).all())
    return [(names[database], chunk) for (database, chunk), workers in holders(session).items()
            if workers == [worker_id]]


def chunk_rows(session, database_id=None):
    """{(database id, chunk): committed rows + overlap rows of all its tables}."""
    query = (select(Table.database_id, Chunk.chunk, func.sum(Chunk.rows + Chunk.overlap_rows))
             .join(Table, Chunk.table_id == Table.id).group_by(Table.database_id, Chunk.chunk))
    if database_id is not None:
        query = query.where(Table.database_id == database_id)
    return {(database, chunk): int(rows or 0) for database, chunk, rows in session.execute(query)}


def usage(session):
    """{worker id: (replicas held, committed rows in them)}."""
    rows = chunk_rows(session)
    used = {}
    for key, workers in holders(session).items():
        for worker in workers:
            chunks, total = used.get(worker, (0, 0))
            used[worker] = (chunks + 1, total + rows.get(key, 0))
    return used


def retire(session, worker):
    """Mark ``worker`` removed and drop its replica records (raising the placement version of
    every database that had one); the caller checked that none was the only replica."""
    databases = set(session.scalars(select(Replica.database_id).where(Replica.worker_id == worker.id)))
    session.execute(Replica.__table__.delete().where(Replica.worker_id == worker.id))
    for database in databases:
        session.get(Database, database).placement_version += 1
    worker.name = f"{worker.name[:48]}~{worker.id}"
    worker.state = REMOVED
