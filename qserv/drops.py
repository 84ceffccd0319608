"""Dropping tables and databases (`qserv table drop DB.TABLE`, `qserv db drop DB`).

Crash-safe order: the central state first, in one transaction (the table rows, their chunk
counters and contributions; for a database also its transactions and replicas; a catalog change is
recorded, so cached catalogs and plans are read again), then the physical tables on every listed
worker and the director index tables. A crash or an unreachable worker after the central commit
leaves physical tables nobody reads (the catalog no longer names them); creating a table of the
same name again drops such leftovers first (``clear_leftovers``), and the report lists them.

Refused, with nothing changed: a database with a pending transaction or a chunk change in
progress, a published database without ``force``, and a director (or match table's director)
named by a table that is not dropped with it."""

from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select

from qserv.errors import ConflictError, WorkerQueryError, WorkerUnavailableError
from qserv.ingest.director_index import unmatched_table_name
from qserv.ingest.transactions import PENDING_STATES
from qserv.meta import workers as registry
from qserv.meta.catalog import get_database, get_table, split_table_name
from qserv.meta.catalog_changes import record_change
from qserv.meta.models import Chunk, Contribution, ContributionChunk, Move, Replica, Table, Transaction
from qserv.storage import index_table_name, physical_table_name

# How long a drop waits for the queries of this process that began before it; a query still
# running then fails with the worker's error (no such table).
DROP_GRACE_S = 10.0


@dataclass
class DropReport:
    dropped: list  # "DB.TABLE" of every table dropped
    leftovers: list = field(default_factory=list)  # "worker: physical table (reason)" not dropped


def drop_table(engine, qualified_name, force=False):
    database_name, table_name = split_table_name(qualified_name)
    with engine.store.session() as session:
        table = get_table(session, database_name, table_name)
        _check(session, table.database, [table], force)
        names = _forget(session, table.database, [table], f"drop table {database_name}.{table_name}")
        workers = registry.listed_workers(session)
    return _drop_physical(engine, workers, names)


def drop_database(engine, database_name, force=False):
    with engine.store.session() as session:
        database = get_database(session, database_name)
        tables = list(database.tables)
        _check(session, database, tables, force)
        names = _forget(session, database, tables, f"drop database {database_name}")
        session.execute(delete(Replica).where(Replica.database_id == database.id))
        session.execute(delete(Transaction).where(Transaction.database_id == database.id))
        session.delete(database)
        workers = registry.listed_workers(session)
    return _drop_physical(engine, workers, names)


def _check(session, database, tables, force):
    if database.published and not force:
        raise ConflictError(f"database {database.name!r} is published: TAP users may be reading it "
                            "(--force, or force=true, drops it anyway)")
    pending = session.scalars(select(Transaction.id).where(Transaction.database_id == database.id,
                                                           Transaction.state.in_(PENDING_STATES))).all()
    if pending:
        raise ConflictError(f"database {database.name!r} has pending transaction(s) "
                            f"{', '.join(map(str, pending))}: commit or abort them first")
    if session.scalar(select(Move.id).where(Move.database_id == database.id).limit(1)) is not None:
        raise ConflictError(f"a chunk of database {database.name!r} is being moved: drop it once that ends")
    ids = [t.id for t in tables]
    dependents = session.scalars(select(Table).where(
        or_(Table.director_table_id.in_(ids), Table.director2_table_id.in_(ids)), Table.id.not_in(ids))
        .order_by(Table.id)).all()
    if dependents:
        listed = ", ".join(f"{t.database.name}.{t.name}" for t in dependents)
        raise ConflictError(f"{listed} name(s) a table dropped here as director: drop them first")


def _forget(session, database, tables, what):
    """Delete the central-state rows of ``tables``; [(DB.TABLE, kind)] of them."""
    ids = [t.id for t in tables]
    contributions = select(Contribution.id).where(Contribution.table_id.in_(ids))
    session.execute(delete(ContributionChunk).where(ContributionChunk.contribution_id.in_(contributions)))
    session.execute(delete(Contribution).where(Contribution.table_id.in_(ids)))
    session.execute(delete(Chunk).where(Chunk.table_id.in_(ids)))
    names = [(database.name, t.name, t.kind) for t in tables]
    session.execute(delete(Table).where(Table.id.in_(ids)))
    session.expire(database, ["tables"])
    record_change(session, what)
    return names


def _drop_physical(engine, workers, names):
    """Drop the worker tables and the director index tables of ``names`` once the queries of this
    process that began before the drop have ended (they may fail, clearly, after the grace)."""
    engine.running.wait_for_started(DROP_GRACE_S)
    report = DropReport([f"{database}.{table}" for database, table, _ in names])
    for worker in workers:
        for database, table, _ in names:
            physical = physical_table_name(database, table)
            try:
                engine.pool.get(worker).drop_table(physical)
            except (WorkerUnavailableError, WorkerQueryError) as exc:
                engine.pool.discard(worker.id)
                report.leftovers.append(f"{worker.name}: {physical} ({exc})")
    for database, table, kind in names:
        if kind == "director":
            engine.index.drop(index_table_name(database, table))
        if kind == "child":
            engine.index.drop(unmatched_table_name(database, table))
    return report


def clear_leftovers(engine, workers, database_name, table_name):
    """Before a table named so is created (its catalog row just added, not committed): drop what a
    failed drop of an earlier table of that name left on the workers and in the director index."""
    physical = physical_table_name(database_name, table_name)
    for worker in workers:
        engine.pool.get(worker).drop_table(physical)
    for name in (index_table_name(database_name, table_name), unmatched_table_name(database_name, table_name)):
        engine.index.drop(name)
