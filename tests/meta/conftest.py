"""Fixtures of the central-state tests."""

import pytest

from qserv.instance import init_instance, read_instance
from qserv.meta.store import MetaStore


@pytest.fixture
def store(tmp_path):
    """The migrated central state (SQLite) of a fresh one-worker instance."""
    home = init_instance(tmp_path / "home", workers=1)
    opened = MetaStore(read_instance(home)["meta_url"])
    opened.ensure_current()
    yield opened
    opened.dispose()
