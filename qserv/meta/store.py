"""Opening the central state: engine, sessions and migrations (alembic) for a database URL."""

from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

import qserv.migrations
from qserv.errors import ServiceError

MIGRATIONS_DIR = Path(qserv.migrations.__file__).parent


class MetaStoreError(ServiceError):
    """The central state database cannot be used."""


def sqlite_url(path):
    return f"sqlite:///{Path(path).resolve()}"


def make_engine(url):
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
    return engine


def alembic_config(connection):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine, revision="head"):
    """Migrate the central state to ``revision`` (default: the latest)."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def current_revision(engine):
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision():
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


class MetaStore:
    """The central state of one instance: an engine and a session factory."""

    def __init__(self, url):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def ensure_current(self):
        """Upgrade an older instance; refuse one made by a newer qserv."""
        revision = current_revision(self.engine)
        if revision == head_revision():
            return
        known = {script.revision for script in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
        if revision is not None and revision not in known:
            raise MetaStoreError(
                f"the central state at {self.url} is at revision {revision}, unknown to this "
                f"qserv (newer version?)"
            )
        upgrade(self.engine)

    @contextmanager
    def session(self):
        """A session committed on success, rolled back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self):
        self.engine.dispose()
