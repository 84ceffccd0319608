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
- A worker error caused by the rows the query meets (a failed conversion such as
  ``CAST(name AS INTEGER)``, an overflow, an invalid pattern) is the query's fault: it raises
  ``QueryDataError`` (a UserError) with the backend's reason at once, without failover.
"""

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import count

import duckdb

from qserv.errors import UserError
from qserv.exec.cancel import QueryCancelledError
from qserv.exec.workers import WorkerQueryError, WorkerUnavailableError

WORKER_ERRORS = (WorkerUnavailableError, WorkerQueryError)


class ResultTooLargeError(UserError):
    """The rows workers returned for a query exceed the instance's result-size limit."""

    http_status = 413


class QueryDataError(UserError):
    """The query cannot be evaluated on the rows it reads (the backend's reason says why)."""


DUCKDB_DATA_ERRORS = (duckdb.DataError, duckdb.InvalidInputException)


def is_data_error(exc):
    """Whether a backend exception (DuckDB, or psycopg2 with SQLSTATE class 22 "data exception")
    comes from the query meeting its data, not from the service."""
    return isinstance(exc, DUCKDB_DATA_ERRORS) or str(getattr(exc, "pgcode", None) or "").startswith("22")


def data_error(exc):
    """A QueryDataError with the first line of the backend's message (not the SQL it quotes)."""
    reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return QueryDataError(f"the query cannot be evaluated on the data: {reason}")


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
                    if is_data_error(error.__cause__):
                        raise data_error(error.__cause__) from None
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
