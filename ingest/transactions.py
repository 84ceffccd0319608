"""Super-transactions: begin -> contributions -> commit or abort, atomic across workers.

Every stored row (and director-index row) carries its transaction id. Readers hide the rows of
transactions that are not committed (``pending_transactions``), so the single central-state
update that marks a transaction committed is the moment all its rows on all workers appear.
A transaction may also delete rows (``qserv.ingest.deletes``: marks that its commit makes count).
An abort (or the recovery of a crashed one) deletes the rows and clears the marks; a crashed contribution is
cleaned up at the next start; a retried contribution (same key) never duplicates rows.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, text

from qserv.errors import ConflictError, InputError, UserError
from qserv.faults import crash_point
from qserv.ingest import deletes
from qserv.ingest.director_index import describe_duplicates
from qserv.ingest.loader import ContributionLoader, LoadPlan
from qserv.ingest.owners import current_owner, owner_gone, owner_running
from qserv.meta.bulk import bulk_insert
from qserv.meta.catalog import active_workers, get_table, get_transaction
from qserv.meta.models import Contribution, ContributionChunk, Table, Transaction, Worker, utc_now
from qserv.storage import HiddenTransactions, physical_table_name

PENDING_STATES = ("open", "aborting")


@dataclass
class ContributionResult:
    id: int
    key: str
    rows: int
    overlap_rows: int
    reused: bool = False


def pending_transactions(session, except_id=None):
    """The transactions whose rows a reader starting now must not see (a HiddenTransactions):
    those not committed (except ``except_id``) and those begun after now."""
    ids = set(session.scalars(select(Transaction.id).where(Transaction.state.in_(PENDING_STATES))))
    ids.discard(except_id)
    return HiddenTransactions(ids, session.scalar(select(func.max(Transaction.id))) or 0)


def _loaded_by_live_owner(session, contribution):
    transaction = session.get(Transaction, contribution.transaction_id)
    return owner_running(transaction.owner_host, transaction.owner_pid, transaction.owner_start)


def require_open(transaction):
    if transaction.state != "open":
        raise ConflictError(f"transaction {transaction.id} is {transaction.state}, not open")


class Transactions:
    """Ingest operations over an engine's central state, workers and director index."""

    def __init__(self, store, pool, index, settings):
        self.store, self.pool, self.index, self.settings = store, pool, index, settings
        self.deletable = set()  # (worker id, physical table) known to have the deletion column

    # -- begin / commit / abort -------------------------------------------------------------
    def begin(self, database_name, note=None, detached=False):
        """A new open transaction. It records this process as its owner, so that it is aborted at
        the next open once the process is gone; a ``detached`` one (to be finished by another
        process) has no owner. Either is aborted once older than ``transaction_abandon_s``."""
        from qserv.meta.catalog import get_database

        host, pid, start = (None, None, None) if detached else current_owner()
        with self.store.session() as session:
            database = get_database(session, database_name)
            transaction = Transaction(database_id=database.id, state="open", note=note,
                                      owner_host=host, owner_pid=pid, owner_start=start)
            session.add(transaction)
            session.flush()
            return transaction.id

    def commit(self, transaction_id):
        with self.store.session() as session:
            transaction = get_transaction(session, transaction_id)
            require_open(transaction)
            loading = session.scalars(select(Contribution.key).where(
                Contribution.transaction_id == transaction.id, Contribution.state == "loading")).all()
            if loading:
                raise ConflictError(f"transaction {transaction.id} has contributions still loading: "
                                    f"{', '.join(loading[:5])}")
            hidden = pending_transactions(session)
            for table in self._tables_touched(session, transaction.id):
                if table.kind == "director" and not table.non_unique:
                    # Ids repeated within the transaction were refused with their contribution.
                    self._refuse_duplicates(transaction.database.name, table, transaction.id, hidden,
                                            within=False)
        crash_point("commit-before-state")
        with self.store.session() as session:
            transaction = get_transaction(session, transaction_id)
            require_open(transaction)
            self._add_chunk_counts(session, transaction.id)
            transaction.state = "committed"
            transaction.ended_at = utc_now()
        crash_point("commit-after-state")

    def abort(self, transaction_id):
        with self.store.session() as session:
            transaction = get_transaction(session, transaction_id)
            if transaction.state not in ("open", "aborting"):
                raise ConflictError(f"transaction {transaction.id} is {transaction.state}; "
                                    f"only open transactions can be aborted")
            transaction.state = "aborting"
            database_name = transaction.database.name
            tables = list(transaction.database.tables)
            workers = active_workers(session)
            every_worker = session.scalars(select(Worker).order_by(Worker.id)).all()
        self._delete_rows(database_name, tables, workers, f"_qserv_txn = {int(transaction_id)}")
        deletes.unmark(self, database_name, tables, every_worker, transaction_id)
        crash_point("abort-mid")
        with self.store.session() as session:
            transaction = get_transaction(session, transaction_id)
            transaction.state = "aborted"
            transaction.ended_at = utc_now()

    def recover(self):
        """After a crash: finish interrupted aborts, abort abandoned transactions (their process
        is gone, or they are older than ``transaction_abandon_s``), remove rows of interrupted
        contributions (not those a live process on this host is loading)."""
        with self.store.session() as session:
            oldest = utc_now() - timedelta(seconds=self.settings["transaction_abandon_s"])
            abandoned = [t.id for t in session.scalars(select(Transaction).where(Transaction.state == "open"))
                         if t.started_at < oldest or owner_gone(t.owner_host, t.owner_pid, t.owner_start)]
            aborting = session.scalars(select(Transaction.id).where(Transaction.state == "aborting")).all()
            interrupted = [c for c in session.scalars(select(Contribution).where(Contribution.state == "loading"))
                           if not _loaded_by_live_owner(session, c)]
            for contribution in interrupted:
                table = session.get(Table, contribution.table_id)
                self._delete_rows(table.database.name, [table], active_workers(session),
                                  f"_qserv_contrib = {int(contribution.id)}")
                contribution.state = "failed"
                contribution.error = "interrupted (process stopped while loading); rows removed"
        for transaction_id in [*aborting, *abandoned]:
            self.abort(transaction_id)
        return {"aborted": [*aborting, *abandoned], "cleaned_contributions": [c.id for c in interrupted]}

    # -- contributions ----------------------------------------------------------------------
    def contribute(self, transaction_id, table_name, source, key=None, format=None, null=None,
                   progress=None):
        """Load a file (path) or a pyarrow.Table into ``table_name`` (bare name within the
        transaction's database) as part of an open transaction."""
        with self.store.session() as session:
            transaction = get_transaction(session, transaction_id)
            require_open(transaction)
            database = transaction.database
            table = get_table(session, database.name, table_name)
            key = key or (str(source) if not hasattr(source, "schema") else None)
            if key is None:
                raise UserError("a contribution from an in-memory table needs a key (for retries)")
            contribution = session.scalar(select(Contribution).where(
                Contribution.transaction_id == transaction.id, Contribution.table_id == table.id,
                Contribution.key == key))
            if contribution is not None and contribution.state == "loaded":
                return ContributionResult(contribution.id, key, contribution.rows,
                                          contribution.overlap_rows, reused=True)
            if contribution is None:
                contribution = Contribution(transaction_id=transaction.id, table_id=table.id, key=key,
                                            source=None if hasattr(source, "schema") else str(source))
                session.add(contribution)
                session.flush()
            else:
                self._delete_rows(database.name, [table], active_workers(session),
                                  f"_qserv_contrib = {contribution.id}")
                session.execute(ContributionChunk.__table__.delete().where(
                    ContributionChunk.contribution_id == contribution.id))
            contribution.state, contribution.error = "loading", None
            contribution_id = contribution.id
            plan = LoadPlan.of(session, table, transaction.id, contribution_id,
                               pending_transactions(session, transaction.id))
        try:
            counts = ContributionLoader(plan, self.pool, self.index, self.store, self.settings).run(source, format, null, progress)
            if plan.table.kind == "director" and not plan.table.non_unique:
                self._refuse_duplicates(plan.database.name, plan.table, transaction_id, plan.hidden,
                                        source_label=plan.key_label)
        except BaseException as exc:
            self._fail_contribution(plan, exc)
            raise
        crash_point("contribution-loaded")
        with self.store.session() as session:
            contribution = session.get(Contribution, contribution_id)
            contribution.state = "loaded"
            chunks, rows, overlap_rows = counts
            contribution.rows, contribution.overlap_rows = int(rows.sum()), int(overlap_rows.sum())
            bulk_insert(session, "contribution_chunks", ("contribution_id", "chunk", "rows", "overlap_rows"),
                        list(zip([contribution_id] * len(chunks), chunks.tolist(), rows.tolist(),
                                 overlap_rows.tolist())))
            return ContributionResult(contribution_id, key, contribution.rows, contribution.overlap_rows)

    def delete(self, transaction_id, table_name, column, values):
        """Delete the visible rows of ``table_name`` whose ``column`` is in ``values`` as part of
        an open transaction (``qserv.ingest.deletes``); the count of the table's rows deleted."""
        return deletes.delete_rows(self, transaction_id, table_name, column, values)

    # -- helpers ----------------------------------------------------------------------------
    def _refuse_duplicates(self, database_name, table, transaction_id, hidden, source_label=None, within=True):
        ids, total = self.index.duplicates(database_name, table.name, transaction_id, hidden, within=within)
        if total:
            raise InputError(source_label or f"transaction {transaction_id}",
                             f"duplicate {table.name}.{table.id_column} values (table is unique): "
                             f"{describe_duplicates(ids, total)}")

    def _fail_contribution(self, plan, exc):
        with self.store.session() as session:
            self._delete_rows(plan.database.name, [plan.table], active_workers(session),
                              f"_qserv_contrib = {plan.contribution_id}")
            contribution = session.get(Contribution, plan.contribution_id)
            contribution.state = "failed"
            contribution.error = str(exc)[:2000] or type(exc).__name__

    def _delete_rows(self, database_name, tables, workers, condition_sql):
        for table in tables:
            name = physical_table_name(database_name, table.name)
            for worker_row in workers:
                worker = self.pool.get(worker_row)
                if worker.table_exists(name):
                    worker.delete_where(name, condition_sql)
            if table.kind == "director":
                self.index.delete(database_name, table.name,
                                  condition_sql.replace("_qserv_txn", "txn").replace("_qserv_contrib", "contrib"))

    @staticmethod
    def _tables_touched(session, transaction_id):
        touched = select(Contribution.table_id).where(Contribution.transaction_id == transaction_id)
        return session.scalars(select(Table).where(Table.id.in_(touched))).all()

    @staticmethod
    def _add_chunk_counts(session, transaction_id):
        """Add the transaction's per-chunk rows to the committed counts, in one statement."""
        session.execute(text(
            "INSERT INTO chunks (table_id, chunk, rows, overlap_rows) "
            "SELECT c.table_id, cc.chunk, SUM(cc.rows), SUM(cc.overlap_rows) "
            "FROM contribution_chunks cc JOIN contributions c ON c.id = cc.contribution_id "
            "WHERE c.transaction_id = :transaction AND c.state = 'loaded' "
            "GROUP BY c.table_id, cc.chunk "
            "ON CONFLICT (table_id, chunk) DO UPDATE SET rows = chunks.rows + excluded.rows, "
            "overlap_rows = chunks.overlap_rows + excluded.overlap_rows"
        ), {"transaction": transaction_id})
