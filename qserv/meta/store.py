"""Opening the central state: engine, sessions and migrations (alembic) for a database URL.

Opening an up-to-date central state does not import alembic (a tenth of a second at every CLI
start): the stamped revision is read with SQLAlchemy and the newest one from the ``revision`` /
``down_revision`` lines of ``migrations/versions`` (tests/meta/test_migrations.py checks both
against alembic). Alembic runs only to migrate.
"""

import ast
from contextlib import contextmanager
from pathlib import Path
import re

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.orm import sessionmaker

import qserv.migrations
from qserv.errors import MetaStoreError

MIGRATIONS_DIR = Path(qserv.migrations.__file__).parent
VERSION_TABLE = "alembic_version"  # alembic's default, where it stamps the revision
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.M)


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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine, revision="head"):
    """Migrate the central state to ``revision`` (default: the latest).

    On SQLite, a batch migration rebuilds a table (copy, drop, rename); with foreign keys enforced
    the drop fails as soon as another table's rows reference it (chunks, a child's director). So
    the migration runs with them off, as SQLite's documentation of table rebuilds says, and every
    reference is checked before the transaction commits.
    """
    from alembic import command

    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # only effective outside a transaction
            connection.commit()
        try:
            with connection.begin():
                command.upgrade(alembic_config(connection), revision)
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def _check_foreign_keys(connection):
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise MetaStoreError(f"migrating the central state broke {len(broken)} references, e.g. {broken[0]}")


def current_revision(engine):
    """The revision stamped in the central state, None before the first migration."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def head_revision():
    """The newest revision of migrations/versions: the one no other revision follows."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text()))
        if "revision" in found:
            revisions.add(ast.literal_eval(found["revision"]))
            down = ast.literal_eval(found.get("down_revision", "None"))
            parents.update(down if isinstance(down, tuple) else (down,))
    heads = revisions - parents
    if len(heads) != 1:
        raise MetaStoreError(f"the migrations in {MIGRATIONS_DIR} have {len(heads)} heads, expected one")
    return heads.pop()


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
        from alembic.script import ScriptDirectory

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
