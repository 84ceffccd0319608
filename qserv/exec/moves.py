"""Replica changes of one chunk, online and crash-safe.

A move is copy -> verify -> switch -> delete the old copy; an added replica is copy -> verify ->
switch; a dropped one is switch -> delete. Each is recorded in the ``moves`` table first (one
change per chunk at a time). The switch changes the replica records, raises the database's
``placement_version`` and marks the record ``switched`` in one central-state transaction, so a
crash leaves either the old placement (state ``copying``: the next open deletes the partial copy)
or the new one (``switched``: the next open deletes the old copy).

The new copy is written as rows of an open transaction of its own, which the switch commits:
queries that began before the switch hide it (pending, or begun after they started) and read the
old copy. After the switch the old copy's worker is listed in the chunk map as holding leftovers
(``Placement.leftovers``), so queries read it with a chunk list, never whole, and do not see the
old copy; it is deleted only after the queries of this process that may still read it have
finished.

Rows of one chunk are copied with the database's ingest quiet: a change is refused while a
transaction of the database is pending, and undone at the switch when one began meanwhile.
"""

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from qserv.errors import ConflictError, ServiceError, WorkerUnavailableError
from qserv.exec.chunk_rows import copy_chunk, delete_chunk, restore_transactions, sign_chunks
from qserv.faults import crash_point
from qserv.ingest.owners import current_owner, owner_gone
from qserv.ingest.transactions import PENDING_STATES
from qserv.meta.catalog import table_columns
from qserv.meta.models import Contribution, Database, Move, Replica, Table, Transaction, Worker, utc_now
from qserv.storage import physical_table_name


class MoveVerifyError(ServiceError):
    """A copied chunk does not sign like its source (the copy was removed)."""


def chunked_tables(database):
    """(physical name, columns) of the database's tables stored by chunk."""
    return [(physical_table_name(database.name, t.name), table_columns(t))
            for t in database.tables if t.kind != "replicated"]


class ChunkMover:
    """``pool``: the engine's WorkerPool; ``running``: its RunningQueries; ``grace_s``: the longest
    wait for running queries before an old copy is deleted."""

    def __init__(self, store, pool, running, grace_s):
        self.store, self.pool, self.running, self.grace_s = store, pool, running, grace_s

    # -- the three changes ------------------------------------------------------------------
    def move(self, database_id, chunk, source_id, target_id):
        self.change_many(database_id, [("move", chunk, source_id, target_id)])

    def add(self, database_id, chunk, source_id, target_id):
        self.change_many(database_id, [("add", chunk, source_id, target_id)])

    def drop(self, database_id, chunk, worker_id):
        self.change_many(database_id, [("drop", chunk, worker_id)])

    def change_many(self, database_id, steps):
        """Apply steps ``(kind, chunk, source id[, target id])`` of distinct chunks as one batch:
        each is recorded, copied and verified (one signature per worker pair and table for the
        whole batch), then all switch in one central-state transaction, then the old copies are
        deleted. Each step keeps its own ``moves`` record, so recovery treats them one by one."""
        steps = [(kind, chunk, source, target[0] if target else None) for kind, chunk, source, *target in steps]
        if len({chunk for _, chunk, _, _ in steps}) != len(steps):
            raise ValueError("a batch changes each chunk once")
        self._change(database_id, steps)
        for kind, chunk, _, _ in steps:
            if kind != "drop":
                self._restore(database_id, chunk)
            if kind == "add":
                self._forget(database_id, chunk)
        finished = [chunk for kind, chunk, _, _ in steps if kind != "add"]
        if finished:
            self.running.wait_for_started(self.grace_s)
        for chunk in finished:
            self._finish(database_id, chunk)

    # -- steps ------------------------------------------------------------------------------
    def _change(self, database_id, steps):
        """Everything up to and including the switch; undone on any error."""
        with self.store.session() as session:
            tables = chunked_tables(session.get(Database, database_id))
            workers = {}
            recorded = []
            for kind, chunk, source_id, target_id in steps:
                self._check_holders(session, kind, database_id, chunk, source_id, target_id,
                                    {transaction for _, transaction in recorded})
                move = self._record(session, kind, database_id, chunk, source_id, target_id)
                if kind != "drop":
                    move.new_transaction = self._transaction(session, database_id, "open", f"copy of chunk {chunk}")
                recorded.append((chunk, move.new_transaction))
                for worker_id in (source_id, target_id):
                    if worker_id is not None:
                        workers[worker_id] = session.get(Worker, worker_id)
        own = {transaction for _, transaction in recorded if transaction is not None}
        try:
            copies = [(chunk, workers[source_id], workers[target_id], transaction)
                      for (kind, chunk, source_id, target_id), (_, transaction) in zip(steps, recorded)
                      if kind != "drop"]
            for chunk, source, target, transaction in copies:
                for table, columns in tables:
                    copy_chunk(self.pool.get(source), self.pool.get(target), table, columns, chunk, transaction)
            if copies:
                crash_point("move-copied")
                self._verify(copies, tables, own)
                crash_point("move-verified")
            with self.store.session() as session:
                for kind, chunk, source_id, target_id in steps:
                    move = self._move(session, database_id, chunk)
                    if self._transactions_since(session, move, own):
                        raise ConflictError(f"an ingest transaction began while chunk {chunk} was copied; "
                                            "the copy was undone, try again")
                    self._switch_replicas(session, kind, database_id, chunk, source_id, target_id)
                    self._set_state(session, move.new_transaction, "committed")
                    move.state = "switched"
        except BaseException:
            for _, chunk, _, _ in steps:
                self._undo(database_id, chunk)
            raise
        crash_point("move-switched")

    def _verify(self, copies, tables, own):
        """Every copy signs like its source: one signature per (source, target) pair and table."""
        with self.store.session() as session:
            hidden = set(session.scalars(select(Transaction.id).where(Transaction.state.in_(PENDING_STATES))))
        pairs = {}
        for chunk, source, target, _ in copies:
            pairs.setdefault((source.id, target.id), (source, target, []))[2].append(chunk)
        for source, target, chunks in pairs.values():
            for table, columns in tables:
                expected = sign_chunks(self.pool.get(source), table, columns, chunks, hidden)
                copied = sign_chunks(self.pool.get(target), table, columns, chunks, hidden - own)
                wrong = [c for c in chunks if expected.get(c) != copied.get(c)]
                if wrong:
                    raise MoveVerifyError(f"chunk(s) {', '.join(map(str, wrong[:5]))} of {table} copied from worker "
                                          f"{source.name} to {target.name} do not match: "
                                          f"{expected.get(wrong[0])} vs {copied.get(wrong[0])}")

    def _restore(self, database_id, chunk):
        """After a switch: the copy's rows get their own transactions back (they were written as
        the copy's transaction to stay hidden until the switch), so that snapshots see them."""
        with self.store.session() as session:
            move = self._move(session, database_id, chunk)
            tables = chunked_tables(session.get(Database, database_id))
            target = session.get(Worker, move.target_worker_id)
            transaction = move.new_transaction
            contributions = dict(session.execute(select(Contribution.id, Contribution.transaction_id)
                                                 .join(Table, Table.id == Contribution.table_id)
                                                 .where(Table.database_id == database_id)).all())
        for table, _ in tables:
            restore_transactions(self.pool.get(target), table, chunk, transaction, contributions)

    def _finish(self, database_id, chunk):
        """After a switch (and the wait for the queries that may read the old copy): delete the
        old copy, forget the change."""
        with self.store.session() as session:
            move = self._move(session, database_id, chunk)
            tables = chunked_tables(session.get(Database, database_id))
            old = session.get(Worker, move.source_worker_id)
        for table, _ in tables:
            delete_chunk(self.pool.get(old), table, chunk)
        crash_point("move-deleted")
        self._forget(database_id, chunk)

    def _undo(self, database_id, chunk):
        """Before a switch: delete the partial copy, forget the change."""
        with self.store.session() as session:
            move = self._move(session, database_id, chunk)
            tables = chunked_tables(session.get(Database, database_id))
            target = None if move.target_worker_id is None else session.get(Worker, move.target_worker_id)
            new_transaction = move.new_transaction
        if target is not None:
            for table, _ in tables:
                delete_chunk(self.pool.get(target), table, chunk)
        with self.store.session() as session:
            self._set_state(session, new_transaction, "aborted")
        self._forget(database_id, chunk)

    def _forget(self, database_id, chunk):
        with self.store.session() as session:
            session.delete(self._move(session, database_id, chunk))

    # -- recovery ---------------------------------------------------------------------------
    def recover(self):
        """Undo or finish the changes whose process is gone; [(database id, chunk, outcome)].
        A change whose worker cannot be reached is kept for the next open."""
        with self.store.session() as session:
            stale = [(m.database_id, m.chunk, m.kind, m.state, m.target_worker_id)
                     for m in session.scalars(select(Move).order_by(Move.id))
                     if owner_gone(m.owner_host, m.owner_pid, m.owner_start)]
        done = []
        for database_id, chunk, kind, state, _ in stale:
            try:
                if state == "switched" and kind != "drop":
                    self._restore(database_id, chunk)
                if state == "switched" and kind == "add":
                    self._forget(database_id, chunk)
                elif state == "switched":
                    self.running.wait_for_started(self.grace_s)
                    self._finish(database_id, chunk)
                else:
                    self._undo(database_id, chunk)
            except WorkerUnavailableError:
                continue
            done.append((database_id, chunk, "finished" if state == "switched" else "undone"))
        return done

    # -- central state ----------------------------------------------------------------------
    @staticmethod
    def _check_holders(session, kind, database_id, chunk, source_id, target_id, own=()):
        held = set(session.scalars(select(Replica.worker_id).where(
            Replica.database_id == database_id, Replica.chunk == chunk)))
        if source_id not in held:
            raise ConflictError(f"worker {source_id} holds no replica of chunk {chunk}")
        if target_id is not None and target_id in held:
            raise ConflictError(f"worker {target_id} already holds chunk {chunk}")
        if kind == "drop" and len(held) < 2:
            raise ConflictError(f"chunk {chunk} has no other replica")
        pending = session.scalars(select(Transaction.id).where(
            Transaction.database_id == database_id, Transaction.state.in_(PENDING_STATES))).all()
        pending = [t for t in pending if t not in own]  # the copies of this batch
        if pending:
            raise ConflictError(f"transactions {', '.join(map(str, pending))} of the database are not "
                                "finished; commit or abort them first")

    @staticmethod
    def _record(session, kind, database_id, chunk, source_id, target_id):
        last = session.scalar(select(func.max(Transaction.id)).where(Transaction.database_id == database_id))
        host, pid, start = current_owner()
        move = Move(database_id=database_id, chunk=chunk, kind=kind, source_worker_id=source_id,
                    target_worker_id=target_id, state="copying", last_transaction=last or 0,
                    owner_host=host, owner_pid=pid, owner_start=start)
        session.add(move)
        try:
            session.flush()
        except IntegrityError as exc:
            raise ConflictError(f"chunk {chunk} is being changed by another operation") from exc
        return move

    @staticmethod
    def _transaction(session, database_id, state, note):
        """A transaction tagging the rows of one copy (owned by this process: the transaction
        recovery aborts it if open once the process is gone)."""
        host, pid, start = current_owner()
        transaction = Transaction(database_id=database_id, state=state, note=note,
                                  owner_host=host, owner_pid=pid, owner_start=start)
        session.add(transaction)
        session.flush()
        return transaction.id

    @staticmethod
    def _set_state(session, transaction_id, state):
        if transaction_id is not None:
            transaction = session.get(Transaction, transaction_id)
            transaction.state = state
            if state in ("committed", "aborted") and transaction.ended_at is None:
                transaction.ended_at = utc_now()

    @staticmethod
    def _move(session, database_id, chunk):
        return session.scalar(select(Move).where(Move.database_id == database_id, Move.chunk == chunk))

    @staticmethod
    def _transactions_since(session, move, own):
        """Transactions of the database begun since the change started, but those of the batch."""
        return [t for t in session.scalars(select(Transaction.id).where(
            Transaction.database_id == move.database_id, Transaction.id > move.last_transaction)) if t not in own]

    @staticmethod
    def _switch_replicas(session, kind, database_id, chunk, source_id, target_id):
        if kind in ("move", "drop"):
            session.execute(Replica.__table__.delete().where(
                Replica.database_id == database_id, Replica.chunk == chunk, Replica.worker_id == source_id))
        if kind in ("move", "add"):
            session.add(Replica(database_id=database_id, chunk=chunk, worker_id=target_id))
        session.get(Database, database_id).placement_version += 1
