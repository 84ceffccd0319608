"""Executing a plan: chunk selection, replica choice, worker statements, merge at the czar.

``QueryRun(context, snapshot, cancellation).run(plan)`` returns the merged pyarrow.Table of a plan
from ``qserv.query.plan`` (its column names are the plan's; the engine casts to the final schema).
``context`` (``qserv.exec.context.ExecutionContext``) is all it reaches of the instance.
``chunks_touched`` counts the chunks whose rows were read.
"""

import time

import numpy as np
import pyarrow as pa

from qserv.errors import NoReplicaError, WorkerQueryError, WorkerUnavailableError
from qserv.exec.dispatch import Statement, run_statements
from qserv.merge.fast_path import fast_merge
from qserv.query.aggregates import PARTIALS
from qserv.query.inline import czar_relations
from qserv.query.partition_keys import typed_keys
from qserv.query.plan import CzarPlan, ReplicatedPlan, SubqueryPlan, plan_query
from qserv.query.subqueries import substitute
from qserv.query.render import worker_template
from qserv.query.routing import route_rows, rows_for_chunks
from qserv.sql.emit import to_sql


MISSING_SHOWN = 20  # chunk ids named in a "no replica left" error


def batches(chunks, size):
    return [chunks[i:i + size] for i in range(0, len(chunks), size)] or [[]]


def reads_no_rows(plan, chunks):
    """Whether a chunk plan's answer is its query over no rows: no chunk is left (``chunks``) by a
    director-key lookup or a spatial restrictor, top-level conditions every result row of a
    sharded table must meet, so no row of the FROM clause can pass the WHERE clause."""
    return len(chunks) == 0 and bool(plan.key_lookups or plan.restrictors)


def interleaved(statements):
    """Statements ordered round-robin over their workers, so a query with many statements keeps
    every worker busy and holds few connections of any one (other queries get through)."""
    by_worker = {}
    for statement in statements:
        by_worker.setdefault(statement.worker_id, []).append(statement)
    queues = list(by_worker.values())
    return [queue[k] for k in range(max(map(len, queues), default=0)) for queue in queues if k < len(queue)]


class QueryRun:
    def __init__(self, context, snapshot, cancellation):
        self.context = context
        self.snapshot = snapshot
        self.cancellation = cancellation
        self.chunks_touched = 0
        self.workers_s = 0.0  # seconds spent waiting for worker statements (the query log's timing)
        self._routed = None  # (plan, routes) of the last crossmatch plan
        self._templates = {}  # (id(plan), backend) -> (plan, its WorkerTemplate)
        self.failures = {}  # worker id -> the error that made this query stop using it
        self._placement, self._database, self._chunks = None, None, []  # the chunks being read, their replicas
        self._every_chunk = False  # whether they are all the populated chunks of the plan's tables

    def _max_bytes(self):
        return self.context.settings["query_result_max_mb"] << 20

    def run(self, plan):
        if isinstance(plan, CzarPlan):
            inputs = {name: self.run(part) for name, part in plan.inputs.items()}
            tree, relations = czar_relations(plan.tree, self.snapshot.tables)
            return self.context.czar.run(to_sql(tree, "duckdb"), {**inputs, **relations}, self.cancellation)
        if isinstance(plan, SubqueryPlan):
            tree = plan.tree.copy()
            for name, (kind, part) in plan.subqueries.items():
                answer = self.run(part)
                values = answer.column(0).to_pylist() if answer.num_columns else []
                tree = substitute(tree, name, kind, values)
            return self.run(plan_query(tree, self.snapshot.tables))
        if isinstance(plan, ReplicatedPlan):  # replicated tables are on every worker
            self._placement, self._database, self._chunks = None, None, []
            statements = self._placed(plan, {self._any_worker(): []})
            started = time.monotonic()
            answer = run_statements(statements, self.cancellation, 1, reroute=self._reroute(plan),
                                    max_bytes=self._max_bytes(), pool=self.context.statement_pool)[0]
            self.workers_s += time.monotonic() - started
            return answer
        return self._chunk_plan(plan)

    def worker_for(self, worker_id):
        return self.context.workers.open(self.snapshot.workers[worker_id])

    # -- chunk plans ------------------------------------------------------------------------
    def selected_chunks(self, plan):
        """(sorted chunk ids the plan must read: populated chunks of its tables that every
        restriction allows, their ChunkCounts)."""
        allowed = plan.spatial_chunks
        for director, values in plan.key_lookups:
            keys = typed_keys(values, director.column(director.id_column).datatype)
            if keys is not None:
                held = self.context.chunks_holding(director.database, director.name, keys,
                                                    self.snapshot.hidden_transactions)
                allowed = held if allowed is None else np.intersect1d(allowed, held)
        if plan.buckets is not None:
            allowed = plan.buckets if allowed is None else np.intersect1d(allowed, plan.buckets)
        if plan.crossmatch is not None:
            routed = np.array(sorted(self._routes(plan)), dtype=np.int64)
            allowed = routed if allowed is None else np.intersect1d(allowed, routed)
        counts = self.snapshot.chunk_map.table_counts(plan.chunk_tables).restricted(allowed)
        if plan.bucket_range is not None:
            counts = counts.restricted(plan.bucket_range.select(counts.chunks))
        self._every_chunk = allowed is None and plan.bucket_range is None
        return counts.chunks, counts

    def _routes(self, plan):
        """{chunk: rows of the inline table} of a crossmatch plan (computed once)."""
        if self._routed is None or self._routed[0] is not plan:
            match = plan.crossmatch
            grid = plan.aliases[match.partner].partitioning
            self._routed = (plan, route_rows(plan.aliases[match.alias], match, grid.chunk_order))
        return self._routed[1]

    def _chunk_plan(self, plan):
        chunks, counts = self.selected_chunks(plan)
        if plan.count_table is not None and not self.snapshot.pinned:  # counters are of now
            self.chunks_touched += len(chunks)
            return pa.table({"count": pa.array([int(counts.rows.sum())], pa.int64())})
        if reads_no_rows(plan, chunks):  # evaluated by the czar on its empty tables: no worker asked
            tree, relations = czar_relations(plan.select, self.snapshot.tables)
            return self.context.czar.run(to_sql(tree, "duckdb"), relations, self.cancellation)
        database = next(iter(plan.chunk_tables)).database
        statements = self.statements(plan, database, chunks)
        started = time.monotonic()
        partials = run_statements(statements, self.cancellation, self.context.settings["query_threads"],
                                  plan.row_limit, reroute=self._reroute(plan), max_bytes=self._max_bytes(),
                                  pool=self.context.statement_pool)
        self.workers_s += time.monotonic() - started
        self.chunks_touched += len(chunks)
        merged = pa.concat_tables(partials, promote_options="permissive")
        fast = fast_merge(plan.merge_spec, merged)  # the Cython kernels, when they win for this case
        if fast is not None:
            return fast
        return self.context.czar.run(to_sql(plan.merge, "duckdb"), {PARTIALS: merged}, self.cancellation)

    def statements(self, plan, database, chunks):
        """The worker statements reading ``chunks`` (ids) of ``database`` for ``plan``: each chunk
        on one active replica, the load spread evenly, batches of ``query_batch_chunks``."""
        self._placement = self.snapshot.chunk_map.placement(database)
        self._database, self._chunks = database, chunks
        if len(chunks) == 0:  # nothing to read: one statement for the result's columns
            return self._placed(plan, {self._any_worker(): []})
        return interleaved(self._placed(plan, self._assign(chunks)))

    def _any_worker(self):
        usable = [w for w in self.snapshot.workers if w not in self.failures]
        if not usable:
            raise self._no_replica_error("every worker failed", ())
        return min(usable, key=lambda w: (self.context.workers.recently_failed(w), w))

    def _assign(self, chunks):
        """{worker id: [chunk]}: each chunk (sorted ids) on an active replica that has not failed
        in this query, spread evenly, preferring workers that have not failed recently."""
        usable = {w for w in self.snapshot.workers if w not in self.failures}
        preferred = {w for w in usable if not self.context.workers.recently_failed(w)}
        assigned, missing = self._placement.assign(chunks, preferred)
        if missing and preferred != usable:  # the rest on recently failed workers, if need be
            more, missing = self._placement.assign(missing, usable - preferred)
            assigned = {**assigned, **{w: sorted(assigned.get(w, []) + owned) for w, owned in more.items()}}
        if missing:
            raise self._no_replica_error(f"database {self._database}", missing)
        return assigned

    def _lost(self):
        """The chunks being read that no usable worker holds any more."""
        usable = {w for w in self.snapshot.workers if w not in self.failures}
        return self._placement.assign(self._chunks, usable)[1]

    def _no_replica_error(self, what, chunks):
        failed = "; ".join(f"worker {self.snapshot.workers[w].name}: {error}" for w, error in self.failures.items())
        listed = ", ".join(str(c) for c in chunks[:MISSING_SHOWN])
        more = f" and {len(chunks) - MISSING_SHOWN} more" if len(chunks) > MISSING_SHOWN else ""
        subject = f"chunks {listed}{more} of {what} have" if chunks else f"{what}: the query has"
        return NoReplicaError(f"{subject} no replica left on an active worker"
                              + (f" after failures ({failed})" if failed else "")
                              + ": the query cannot be answered completely")

    def _placed(self, plan, assigned):
        """Statements for an assignment; a worker that cannot be opened counts as failed and its
        chunks are placed again."""
        size = self.context.settings["query_batch_chunks"]
        hidden = self.snapshot.hidden_transactions
        statements = []
        for worker_id, owned in sorted(assigned.items()):
            try:
                worker = self.worker_for(worker_id)
            except WorkerUnavailableError as error:
                self._failed(worker_id, error)
                statements += self._placed(plan, self._assign(owned) if owned else {self._any_worker(): []})
                continue
            template = self._template(plan, worker.backend)
            if self._whole_worker(worker_id, owned):  # one statement, no chunk filter
                sql = template.fill(None, worker.backend, hidden, self._inline_rows(plan, owned))
                statements.append(Statement(worker, sql, tuple(owned), worker_id))
                continue
            for batch in batches(owned, size):
                sql = template.fill(batch, worker.backend, hidden, self._inline_rows(plan, batch))
                statements.append(Statement(worker, sql, tuple(batch), worker_id))
        return statements

    def _whole_worker(self, worker_id, owned):
        """Whether ``owned`` is every chunk with rows of the plan's tables on the worker, so its
        statement needs no chunk filter (a full scan without replicas read elsewhere)."""
        if not self._every_chunk or not owned or worker_id in self._placement.leftovers:
            return False
        return self._placement.held_counts(self._chunks).get(worker_id, 0) == len(owned)

    def use_templates(self, plan, templates):
        """Run ``plan`` with these WorkerTemplates (backend -> template; the plan cache's, with
        this query's literals) instead of rendering its worker tree."""
        for backend, template in templates.items():
            self._templates[(id(plan), backend)] = (plan, template)

    def _template(self, plan, backend):
        key = (id(plan), backend)
        if key not in self._templates:
            self._templates[key] = (plan, worker_template(plan, backend))
        return self._templates[key][1]

    def _failed(self, worker_id, error):
        self.failures[worker_id] = error
        if isinstance(error, WorkerUnavailableError):
            self.context.workers.failed(worker_id)

    def _reroute(self, plan):
        """Failover for ``run_statements``: the chunks of a failed statement on other replicas."""
        def reroute(statement, error):
            self._failed(statement.worker_id, error)
            try:
                assigned = (self._assign(list(statement.chunk_ids)) if statement.chunk_ids
                            else {self._any_worker(): []})
            except NoReplicaError:
                if isinstance(error, WorkerQueryError):
                    raise error from None  # the last replica's own reason (the query's, perhaps)
                raise self._no_replica_error(f"database {self._database}", self._lost()) from None
            return self._placed(plan, assigned)
        return reroute

    def _inline_rows(self, plan, batch):
        """For a crossmatch plan, the inline table narrowed to the rows routed to ``batch``."""
        if getattr(plan, "crossmatch", None) is None:
            return None
        match = plan.crossmatch
        routed = plan.aliases[match.alias]
        rows = routed.rows.take(rows_for_chunks(self._routes(plan), batch))
        return lambda info: rows if info is routed else info.rows
