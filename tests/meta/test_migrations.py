import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from qserv.meta.models import Base
from qserv.meta.store import MetaStore, current_revision, head_revision, sqlite_url, upgrade

@pytest.fixture
def postgres_url(new_postgres_database):
    name = new_postgres_database().split("dbname=")[1]
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def differences(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_models(backend, tmp_path, request):
    url = sqlite_url(tmp_path / "meta.sqlite") if backend == "sqlite" else request.getfixturevalue("postgres_url")
    store = MetaStore(url)
    store.ensure_current()
    assert current_revision(store.engine) == head_revision()
    assert differences(store.engine) == []
    store.dispose()


def test_detects_a_model_without_migration(tmp_path):
    """The comparison above can fail: a model change without a migration shows up."""
    store = MetaStore(sqlite_url(tmp_path / "meta.sqlite"))
    upgrade(store.engine, "0001")
    assert any(diff[0] == "add_table" and diff[1].name == "contributions" for diff in differences(store.engine))
    store.dispose()


def test_upgrade_keeps_data_of_an_instance_made_by_an_earlier_revision(tmp_path):
    store = MetaStore(sqlite_url(tmp_path / "meta.sqlite"))
    upgrade(store.engine, "0001")
    with store.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO databases (id, name, chunk_order, subchunk_order, overlap_arcsec, replication,"
            " published, created_at) VALUES (1, 'gaia', 7, 10, 60, 1, 0, '2026-01-01')"))
        connection.execute(text(
            "INSERT INTO tables (id, database_id, name, kind, columns, non_unique)"
            " VALUES (1, 1, 'Object', 'director', '[]', 0)"))
        connection.execute(text(
            "INSERT INTO transactions (id, database_id, state, started_at) VALUES (5, 1, 'committed', '2026-01-01')"))
    assert "contributions" not in inspect(store.engine).get_table_names()
    store.ensure_current()
    with store.engine.begin() as connection:
        assert connection.execute(text("SELECT name, chunk_order FROM databases")).all() == [("gaia", 7)]
        connection.execute(text(
            "INSERT INTO contributions (transaction_id, table_id, key, state, rows, overlap_rows, created_at)"
            " VALUES (5, 1, 'file.parquet', 'loaded', 10, 0, '2026-01-01')"))
    assert current_revision(store.engine) == head_revision()
    store.dispose()


def test_upgrade_rebuilds_tables_that_other_rows_reference(tmp_path):
    """SQLite batch migrations copy and drop a table; rows of other tables referencing it
    (chunks, a child's director) must survive and the foreign keys must still hold after."""
    store = MetaStore(sqlite_url(tmp_path / "meta.sqlite"))
    upgrade(store.engine, "0008")
    with store.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO databases (id, name, chunk_order, subchunk_order, overlap_arcsec, replication,"
            " published, created_at, placement_version) VALUES (1, 'sky', 7, 10, 60, 1, 0, '2026-01-01', 0)"))
        connection.execute(text(
            "INSERT INTO tables (id, database_id, name, kind, columns, non_unique)"
            " VALUES (1, 1, 'Object', 'director', '[]', 0)"))
        connection.execute(text(
            "INSERT INTO tables (id, database_id, name, kind, columns, non_unique, director_table_id)"
            " VALUES (2, 1, 'Source', 'child', '[]', 0, 1)"))
        connection.execute(text("INSERT INTO chunks (table_id, chunk, rows, overlap_rows) VALUES (1, 42, 10, 0)"))
    store.ensure_current()
    with store.engine.begin() as connection:
        assert connection.execute(text("SELECT id, director_table_id FROM tables ORDER BY id")).all() == [
            (1, None), (2, 1)]
        assert connection.execute(text("SELECT table_id, chunk FROM chunks")).all() == [(1, 42)]
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    assert current_revision(store.engine) == head_revision()
    store.dispose()
