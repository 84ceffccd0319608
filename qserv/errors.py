"""The one error hierarchy of qserv (DESIGN.md section 6).

Every error qserv raises on purpose derives from :class:`QservError`. A :class:`UserError` is the
caller's fault (bad input, bad query, bad configuration): the CLI exits with status 2 and the HTTP
API answers 400. A :class:`ServiceError` is ours or the environment's (a worker down, a missing
build): the CLI exits with status 1 and the HTTP API answers 500 (or 503 when unavailable).
"""


class QservError(Exception):
    """Base of every error qserv raises on purpose."""

    exit_code = 1
    http_status = 500


class UserError(QservError):
    """The request cannot be served as given; the message says what to change."""

    exit_code = 2
    http_status = 400


class ServiceError(QservError):
    """The request was valid but the service could not complete it."""

    exit_code = 1
    http_status = 500


class NotFoundError(UserError, LookupError):
    """The named thing (a job, a user, a table) does not exist or is not the caller's."""

    http_status = 404


class ConflictError(UserError):
    """The request conflicts with the current state (exists already, wrong state...)."""


class AuthenticationError(UserError):
    """The request carries no valid credentials and anonymous access is not allowed."""

    http_status = 401


class PermissionDeniedError(UserError):
    """The caller is known but may not do this."""

    http_status = 403


class InvalidCoordinatesError(UserError, ValueError):
    """A position is NaN, infinite or outside RA [0, 360] / Dec [-90, 90]."""


class InvalidRegionError(UserError, ValueError):
    """A region (circle, box, polygon, ellipse) is malformed or unsupported."""


class InvalidPartitioningError(UserError, ValueError):
    """Chunk / sub-chunk orders or the overlap radius are inconsistent."""


class KernelsMissingError(ServiceError, ImportError):
    """The compiled Cython kernels (qserv._ext) are not built."""


class InputError(UserError, ValueError):
    """Bad input data. The message starts with where the problem is (the file or batch, then the
    1-based row and the physical line when they differ, then the column or columns) and ends with
    why, e.g. ``data.csv, row 3, column 'ra': cannot parse 'abc' as double``. The parts are kept
    as attributes (``path``, ``row``, ``line``, ``column``, ``reason``); unknown ones are None.
    """

    def __init__(self, path, reason, *, row=None, line=None, column=None):
        self.path, self.reason = str(path), reason
        self.row, self.line, self.column = row, line, column
        where = [self.path]
        if row is not None:
            where.append(f"row {row}" if line in (None, row) else f"row {row} (line {line})")
        if isinstance(column, (tuple, list)):
            where.append("columns " + "/".join(repr(name) for name in column))
        elif column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {reason}")


class InstanceBusyError(ServiceError):
    """Another process holds the instance's embedded DuckDB files."""

    http_status = 503


class WorkerUnavailableError(ServiceError):
    """A worker cannot be reached (connection refused, database missing, file locked)."""

    http_status = 503


class WorkerQueryError(ServiceError):
    """A worker rejected or failed a statement (the message carries the backend's reason)."""


class SchemaMismatchError(UserError, ValueError):
    """Rows or columns do not match the stored table's definition."""


class NoReplicaError(ServiceError):
    """Some chunks a query must read have no replica on a worker that answers."""

    http_status = 503


class ResultTooLargeError(UserError):
    """The rows workers returned for a query exceed the instance's result-size limit."""

    http_status = 413


class QueryDataError(UserError):
    """The query cannot be evaluated on the rows it reads (the backend's reason says why)."""


class QueryCancelledError(QservError):
    """A query was cancelled, by its caller or because it ran past its time limit."""

    exit_code = 1
    http_status = 408


class QuerySyntaxError(UserError, ValueError):
    """The query text cannot be parsed, or uses a construct this engine refuses."""


class UnsupportedQueryError(UserError, ValueError):
    """The query uses a construct that cannot be run exactly over a sharded table."""


class QueryBindError(UserError, ValueError):
    """The query is well-formed but cannot be evaluated (types, functions, names)."""


class MetaStoreError(ServiceError):
    """The central state database cannot be used."""


class TapParameterError(UserError):
    """A TAP parameter is missing or has a value the service does not accept."""


class UploadError(UserError):
    """An uploaded table cannot be read."""


class UploadsBusyError(ServiceError):
    """Every slot for fetching upload URLs is taken."""

    http_status = 503
