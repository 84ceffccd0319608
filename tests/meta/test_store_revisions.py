"""The revision checks at open read no alembic (CLI start time); they agree with alembic's."""

import subprocess
import sys

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from qserv.meta.store import MIGRATIONS_DIR, MetaStore, current_revision, head_revision, sqlite_url, upgrade


def alembic_current(engine):
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_head_and_current_revisions_agree_with_alembic(tmp_path):
    assert head_revision() == ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    store = MetaStore(sqlite_url(tmp_path / "meta.sqlite"))
    try:
        assert current_revision(store.engine) is None and alembic_current(store.engine) is None
        revisions = [s.revision for s in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()][::-1]
        for revision in revisions[:2]:
            upgrade(store.engine, revision)
            assert current_revision(store.engine) == alembic_current(store.engine) == revision
        store.ensure_current()  # upgrades the rest of the way
        assert current_revision(store.engine) == alembic_current(store.engine) == head_revision()
    finally:
        store.dispose()


def test_opening_a_current_central_state_imports_no_alembic(tmp_path):
    store = MetaStore(sqlite_url(tmp_path / "meta.sqlite"))
    store.ensure_current()
    store.dispose()
    probe = ("import sys\nfrom qserv.meta.store import MetaStore\n"
             f"MetaStore({sqlite_url(tmp_path / 'meta.sqlite')!r}).ensure_current()\n"
             "print('alembic' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
