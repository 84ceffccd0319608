"""Running a query's worker statements in parallel, with a time limit, cancellation, failover and
a result-size limit.

``run_statements(statements, cancellation, threads, row_limit, reroute, max_bytes)`` runs
``(worker, sql)`` pairs on a thread pool (at most ``threads`` at a time) and returns the Arrow
results of the statements that succeeded, in statement order (a rerouted statement's replacements
come after the others).

- A statement failing with a worker error (``WorkerUnavailableError``, ``WorkerQueryError``) is
  handed to ``reroute(statement, error)``, which returns the statements that replace it (the same
  chunks on other replicas) or raises. Without ``reroute`` the error is raised. The failed
  statement's rows, if any arrived, are never used.
- Any other failure, or one ``reroute`` raises, cancels the statements still running and is raised;
  past the deadline every running statement is interrupted and ``QueryCancelledError`` is raised:
  never a partial result.
- With ``row_limit`` (a LIMIT without ORDER BY), no new statement starts once that many rows arrived.
- With ``max_bytes``, partial results larger than that in all raise ``ResultTooLargeError``.
- A worker error the query caused (``user_fault``: a failed conversion such as
  ``CAST(name AS INTEGER)``, an overflow, a statement that does not bind) is raised at once as
  a UserError with the backend's reason, without failover.
"""

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import count

import duckdb

from qserv.errors import (
    QueryCancelledError, QueryDataError, ResultTooLargeError, UnsupportedQueryError, WorkerQueryError,
    WorkerUnavailableError,
)

WORKER_ERRORS = (WorkerUnavailableError, WorkerQueryError)


DUCKDB_DATA_ERRORS = (duckdb.DataError, duckdb.InvalidInputException)
DUCKDB_SHAPE_ERRORS = (duckdb.BinderException, duckdb.ParserException)


def user_fault(exc):
    """The UserError a backend exception (DuckDB, or psycopg2 by SQLSTATE) stands for when the
    query caused it, else None: a data exception (a failed conversion, an overflow) on the rows,
    or a statement the query's shape made unbindable after the czar had accepted the query (the
    planner's rewrite of an odd query; the backend's reason says what), never a missing table."""
    code = str(getattr(exc, "pgcode", None) or "")
    reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    if isinstance(exc, DUCKDB_DATA_ERRORS) or code.startswith("22"):
        return QueryDataError(f"the query cannot be evaluated on the data: {reason}")
    if isinstance(exc, DUCKDB_SHAPE_ERRORS) or (code.startswith("42") and code != "42P01"):
        return UnsupportedQueryError(f"the query cannot be run over the chunks as written: {reason}")
    return None


@dataclass(frozen=True)
class Statement:
    worker: object  # qserv.exec.worker.Worker
    sql: str
    chunk_ids: tuple = ()  # the chunks it reads (for failover and the query log)
    worker_id: int | None = None  # the central-state id of ``worker``

    @property
    def chunks(self):
        return len(self.chunk_ids)


def too_large_error(size_bytes, max_bytes):
    return ResultTooLargeError(
        f"the result is too large: the workers' rows reached {size_bytes / 2**20:.1f} MiB, over the "
        f"limit of {max_bytes / 2**20:.0f} MiB (setting query_result_max_mb); narrow the query "
        "(WHERE, fewer columns, LIMIT, an aggregate) or raise the setting")


def run_statements(statements, cancellation, threads, row_limit=None, reroute=None, max_bytes=None, pool=None):
    """See the module docstring. ``pool``: a shared ThreadPoolExecutor (the engine's); without
    one, a pool of ``threads`` threads lives for this call."""
    if pool is None:
        with ThreadPoolExecutor(max(1, min(threads, len(statements)))) as own:
            return run_statements(statements, cancellation, threads, row_limit, reroute, max_bytes, own)
    progress = cancellation.progress
    if progress is not None:
        progress.planned(sum(s.chunks for s in statements))
    results = {}  # statement position -> its rows
    pending = list(enumerate(statements))
    positions = count(len(statements))  # replacements come after the original statements
    running = {}
    rows = size_bytes = 0
    try:
        while pending or running:
            # with a row limit, statements start until enough rows arrived (at least one, for the
            # result's columns, even with LIMIT 0)
            while pending and len(running) < threads and (row_limit is None or rows < row_limit
                                                          or not (results or running)):
                index, statement = pending.pop(0)
                running[pool.submit(statement.worker.query, statement.sql, cancellation)] = (index, statement)
            if not running:
                break
            done, _ = wait(running, timeout=cancellation.remaining_s(), return_when=FIRST_COMPLETED)
            if not done:
                cancellation.check()  # past the deadline: cancels and raises
            for future in done:
                index, statement = running.pop(future)
                try:
                    result = future.result()
                except WORKER_ERRORS as error:
                    if (fault := user_fault(error.__cause__)) is not None:
                        raise fault from None
                    if reroute is None or cancellation.cancelled:
                        raise
                    for replacement in reroute(statement, error):
                        pending.append((next(positions), replacement))
                    continue
                results[index] = result
                if progress is not None:
                    progress.done(statement.chunks)
                rows += result.num_rows
                size_bytes += result.nbytes
                if max_bytes is not None and size_bytes > max_bytes:
                    raise too_large_error(size_bytes, max_bytes)
    except BaseException as error:
        if not isinstance(error, QueryCancelledError):
            cancellation.cancel(f"cancelled after another statement failed: {error}")
        wait(running)
        raise
    return [results[index] for index in sorted(results)]
