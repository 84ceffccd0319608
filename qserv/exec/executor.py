"""Executing a plan: chunk selection, replica choice, worker statements, merge at the czar.

``QueryRun(engine, snapshot, cancellation).run(plan)`` returns the merged pyarrow.Table of a plan
from ``qserv.query.plan`` (its column names are the plan's; the engine casts to the final schema).
``chunks_touched`` counts the chunks whose rows were read.
"""

import numpy as np
import pyarrow as pa

from qserv.errors import ServiceError
from qserv.exec.dispatch import Statement, run_statements
from qserv.meta.snapshot import chunk_rows, replicas
from qserv.query.aggregates import PARTIALS
from qserv.query.inline import czar_relations
from qserv.query.partition_keys import typed_keys
from qserv.query.plan import CzarPlan, ReplicatedPlan, SubqueryPlan, plan_query
from qserv.query.subqueries import substitute
from qserv.query.render import worker_sql
from qserv.query.routing import route_rows, rows_for_chunks
from qserv.sql.emit import to_sql


class NoReplicaError(ServiceError):
    http_status = 503


def batches(chunks, size):
    return [chunks[i:i + size] for i in range(0, len(chunks), size)] or [[]]


class QueryRun:
    def __init__(self, engine, snapshot, cancellation):
        self.engine = engine
        self.snapshot = snapshot
        self.cancellation = cancellation
        self.chunks_touched = 0
        self._routed = None  # (plan, routes) of the last crossmatch plan

    def run(self, plan):
        if isinstance(plan, CzarPlan):
            inputs = {name: self.run(part) for name, part in plan.inputs.items()}
            tree, relations = czar_relations(plan.tree, self.snapshot.tables)
            return self.engine.czar.run(to_sql(tree, "duckdb"), {**inputs, **relations})
        if isinstance(plan, SubqueryPlan):
            tree = plan.tree.copy()
            for name, (kind, part) in plan.subqueries.items():
                answer = self.run(part)
                values = answer.column(0).to_pylist() if answer.num_columns else []
                tree = substitute(tree, name, kind, values)
            return self.run(plan_query(tree, self.snapshot.tables))
        if isinstance(plan, ReplicatedPlan):
            worker = self.worker_for(min(self.snapshot.workers))
            statement = Statement(worker, worker_sql(plan, (), worker.backend, self.snapshot.hidden_transactions))
            return run_statements([statement], self.cancellation, 1)[0]
        return self._chunk_plan(plan)

    def worker_for(self, worker_id):
        return self.engine.worker(self.snapshot.workers[worker_id])

    # -- chunk plans ------------------------------------------------------------------------
    def selected_chunks(self, plan):
        """Sorted chunk ids the plan must read: populated chunks of its tables that every
        restriction allows."""
        allowed = plan.spatial_chunks
        for director, values in plan.key_lookups:
            keys = typed_keys(values, director.column(director.id_column).datatype)
            if keys is not None:
                held = self.engine.index.chunks_holding(director.database, director.name, keys,
                                                       self.snapshot.hidden_transactions)
                allowed = held if allowed is None else np.intersect1d(allowed, held)
        if plan.buckets is not None:
            allowed = plan.buckets if allowed is None else np.intersect1d(allowed, plan.buckets)
        if plan.crossmatch is not None:
            routed = np.array(sorted(self._routes(plan)), dtype=np.int64)
            allowed = routed if allowed is None else np.intersect1d(allowed, routed)
        with self.engine.store.session() as session:
            counts = chunk_rows(session, plan.chunk_tables, allowed)
        chunks = np.array(sorted(counts), dtype=np.int64)
        if allowed is not None:
            chunks = np.intersect1d(chunks, allowed)
        if plan.bucket_range is not None:
            chunks = plan.bucket_range.select(chunks)
        return chunks, counts

    def _routes(self, plan):
        """{chunk: rows of the inline table} of a crossmatch plan (computed once)."""
        if self._routed is None or self._routed[0] is not plan:
            match = plan.crossmatch
            grid = plan.aliases[match.partner].partitioning
            self._routed = (plan, route_rows(plan.aliases[match.alias], match, grid.chunk_order))
        return self._routed[1]

    def _chunk_plan(self, plan):
        chunks, counts = self.selected_chunks(plan)
        if plan.count_table is not None:
            self.chunks_touched += len(chunks)
            total = sum(counts[int(c)][0] for c in chunks)
            return pa.table({"count": pa.array([total], pa.int64())})
        database = next(iter(plan.chunk_tables)).database
        statements = self.statements(plan, database, chunks)
        partials = run_statements(statements, self.cancellation, self.engine.settings["query_threads"],
                                  plan.row_limit)
        self.chunks_touched += len(chunks)
        merged = pa.concat_tables(partials, promote_options="permissive")
        return self.engine.czar.run(to_sql(plan.merge, "duckdb"), {PARTIALS: merged})

    def statements(self, plan, database, chunks):
        with self.engine.store.session() as session:
            holders = replicas(session, database, chunks)
        assigned, load = {}, {}
        for chunk in chunks.tolist():
            active = [w for w in holders.get(chunk, []) if w in self.snapshot.workers]
            if not active:
                raise NoReplicaError(f"chunk {chunk} of database {database} has no replica on an "
                                     "active worker: the query cannot be answered completely")
            worker_id = min(active, key=lambda w: (load.get(w, 0), w))
            load[worker_id] = load.get(worker_id, 0) + 1
            assigned.setdefault(worker_id, []).append(chunk)
        if not assigned:  # nothing to read: one statement for the result's columns
            assigned[min(self.snapshot.workers)] = []
        size = self.engine.settings["query_batch_chunks"]
        hidden = self.snapshot.hidden_transactions
        statements = []
        for worker_id, owned in sorted(assigned.items()):
            worker = self.worker_for(worker_id)
            for batch in batches(owned, size):
                sql = worker_sql(plan, batch, worker.backend, hidden, self._inline_rows(plan, batch))
                statements.append(Statement(worker, sql, len(batch)))
        return statements

    def _inline_rows(self, plan, batch):
        """For a crossmatch plan, the inline table narrowed to the rows routed to ``batch``."""
        if plan.crossmatch is None:
            return None
        match = plan.crossmatch
        routed = plan.aliases[match.alias]
        rows = routed.rows.take(rows_for_chunks(self._routes(plan), batch))
        return lambda info: rows if info is routed else info.rows
