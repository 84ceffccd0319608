"""Changes of the catalog that its counts and largest ids do not show (``qserv.meta.snapshot``'s
version): a table or database dropped, a name re-used, row deletion switched on for a table.
Whoever makes such a change records it in the same central-state transaction, so that every
process replaces its cached catalog, chunk map and plans."""

from sqlalchemy import func, select

from qserv.meta.models import CatalogChange, utc_now


def record_change(session, what):
    """Record a catalog change (``what``: a short description, e.g. "dropped table db.t")."""
    session.add(CatalogChange(at=utc_now(), what=what[:2000]))
    session.flush()


# The newest change's id: part of the catalog version.
CATALOG_CHANGE_VERSION = select(func.max(CatalogChange.id)).scalar_subquery()
