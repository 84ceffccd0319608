"""Named snapshots of the catalog (``qserv snapshot tag NAME``) and the visibilities queries are
pinned to (``Engine.query(..., as_of=...)``).

A visibility is what a reader hides (``qserv.storage.HiddenTransactions``): the transactions
pending when it was taken and every id above the newest one. Stored as JSON
``{"newest": id, "pending": [ids]}`` in a snapshot and in each query log entry, so that a query
can be re-run as of what it saw. Rows are never rewritten in place: an ingest adds rows of a new
transaction, a deletion marks them with the deleting transaction, so the rows a visibility shows
stay readable until they are purged, and the purge keeps what ``pinned_visibilities`` shows.

Pure functions over a SQLAlchemy session (the caller owns the transaction).
"""

import re

from sqlalchemy import select

from qserv.errors import ConflictError, NotFoundError, UserError
from qserv.ingest.transactions import pending_transactions
from qserv.meta.models import Snapshot, utc_now
from qserv.storage import HiddenTransactions

NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def visibility_of(hidden):
    """The JSON form of a HiddenTransactions."""
    return {"newest": hidden.newest, "pending": sorted(int(t) for t in hidden)}


def hidden_of(visibility):
    """The HiddenTransactions of a visibility's JSON form (a KeyError/TypeError when malformed)."""
    return HiddenTransactions((int(t) for t in visibility["pending"]), visibility["newest"])


def _check_name(name):
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise UserError(f"invalid snapshot name {name!r}: a letter, then up to 63 letters, digits, '_', '.' or '-'")


def tag(session, name, hidden=None):
    """Record the visibility ``hidden`` (default: what a reader starting now hides) as snapshot
    ``name``."""
    _check_name(name)
    hidden = pending_transactions(session) if hidden is None else hidden
    if session.scalar(select(Snapshot.id).where(Snapshot.name == name)) is not None:
        raise ConflictError(f"snapshot {name!r} exists (names are not reused, even once released)")
    snapshot = Snapshot(name=name, visibility=visibility_of(hidden))
    session.add(snapshot)
    session.flush()
    return snapshot


def list_snapshots(session, include_released=True):
    """Snapshots, oldest first."""
    statement = select(Snapshot).order_by(Snapshot.id)
    if not include_released:
        statement = statement.where(Snapshot.released_at.is_(None))
    return list(session.scalars(statement))


def _get(session, name):
    snapshot = session.scalar(select(Snapshot).where(Snapshot.name == name))
    if snapshot is None:
        raise NotFoundError(f"no snapshot {name!r} (qserv snapshot list)")
    return snapshot


def release(session, name):
    """Release snapshot ``name``: queries may no longer be pinned to it, and the rows only it
    kept (deleted since) may be purged."""
    snapshot = _get(session, name)
    if snapshot.released_at is not None:
        raise ConflictError(f"snapshot {name!r} was released at {snapshot.released_at:%Y-%m-%dT%H:%M:%S}")
    snapshot.released_at = utc_now()
    session.flush()
    return snapshot


def resolve(session, as_of):
    """(label, HiddenTransactions) of ``as_of``: a snapshot name, or a visibility (a
    HiddenTransactions or its JSON form, e.g. a logged query's). A released snapshot is an error."""
    if isinstance(as_of, HiddenTransactions):
        return None, as_of
    if isinstance(as_of, dict):
        try:
            return None, hidden_of(as_of)
        except (KeyError, TypeError, ValueError):
            raise UserError(f"invalid visibility {as_of!r}: expected {{'newest': id, 'pending': [ids]}}") from None
    _check_name(as_of)
    snapshot = _get(session, as_of)
    if snapshot.released_at is not None:
        raise UserError(f"snapshot {as_of!r} was released at {snapshot.released_at:%Y-%m-%dT%H:%M:%S}: "
                        "its rows may be gone")
    return snapshot.name, hidden_of(snapshot.visibility)


def pinned_visibilities(session):
    """HiddenTransactions of every snapshot not released: the purge of deleted rows keeps each row
    one of them still shows."""
    return [hidden_of(s.visibility) for s in list_snapshots(session, include_released=False)]
