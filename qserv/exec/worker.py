"""The interface of a worker backend: one database engine holding chunk rows of many tables.

Every stored table has the user's columns followed by the system columns, under its physical
name (the conventions of ``qserv.storage``).
Rows become visible to queries only through the transaction rules of ``qserv.ingest`` (the
``_qserv_txn`` column); a worker itself knows nothing about visibility.
"""

from abc import ABC, abstractmethod


class Worker(ABC):
    """A worker database. Methods are safe to call from several threads at once."""

    name: str
    backend: str

    @abstractmethod
    def ensure_table(self, table, columns):
        """Create physical table ``table`` (user ``Column`` list + SYSTEM_COLUMNS) if missing."""

    @abstractmethod
    def load(self, table, rows):
        """Bulk-append a pyarrow.Table whose columns are the user columns then SYSTEM_COLUMNS."""

    @abstractmethod
    def delete_where(self, table, condition_sql):
        """Delete rows matching a SQL condition over system columns; return the count."""

    @abstractmethod
    def keyed(self, sql, keys):
        """Run one statement (e.g. an UPDATE ... RETURNING) in which the relation ``_qserv_keys``
        has one column ``k`` holding ``keys`` (a non-empty pyarrow array); its rows as a pyarrow.Table."""

    @abstractmethod
    def query(self, sql, cancellation=None):
        """Run a SELECT and return a pyarrow.Table; ``cancellation`` (a
        ``qserv.exec.cancel.Cancellation``) may interrupt it."""

    @abstractmethod
    def execute(self, sql):
        """Run a statement that returns no rows."""

    @abstractmethod
    def table_exists(self, table):
        """Whether the physical table exists."""

    @abstractmethod
    def drop_table(self, table):
        """Drop the physical table if it exists."""

    @abstractmethod
    def close(self):
        """Release connections."""
