"""Running one TAP query: parameters in, an Arrow table (capped at MAXREC) and its overflow out."""

from qserv.api.tap.params import effective_maxrec
from qserv.errors import QueryCancelledError
from qserv.exec.cancel import Cancellation


def run_query(engine, parameters, caller, uploads, timeout_s, cancellation=None, timeout_hint=None):
    """(table, overflow) of a TAP query (QueryParameters) run for ``caller``."""
    maxrec = effective_maxrec(parameters.maxrec, engine.settings)
    cancellation = cancellation or Cancellation(timeout_s)
    try:
        table = engine.query(parameters.query, lang="adql", user=caller.name, cancellation=cancellation,
                             uploads=uploads, max_rows=maxrec + 1, include_unpublished=caller.is_admin,
                             as_of=parameters.as_of)
    except QueryCancelledError as error:
        if timeout_hint and cancellation.deadline is not None and cancellation.remaining_s() == 0:
            raise QueryCancelledError(f"{error}; {timeout_hint}") from None
        raise
    overflow = table.num_rows > maxrec
    return (table.slice(0, maxrec) if overflow else table), overflow
