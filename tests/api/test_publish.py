"""Publishing (as in Qserv): a database is invisible to TAP users until `qserv publish`, while
ingest into it goes on; admins (TAP admin token) and the CLI / Python API still read it."""

import csv
import io
import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

import qserv
from qserv.api.app import create_app
from qserv.cli import cli as main_cli
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.meta.users import add_user, create_token
from qserv.schema.columns import Column


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "home"
    init_instance(home, workers=2)
    with qserv.open(home) as engine:
        for database in ("sky", "staging"):
            engine.create_database(database, chunk_order=3, subchunk_order=5, overlap_arcsec=10.0)
            engine.create_table(f"{database}.Numbers", TableSpec("replicated", [Column("n", "long")]))
            engine.ingest(f"{database}.Numbers", [pa.table({"n": np.arange(5, dtype=np.int64)})])
        engine.publish("sky")
        with engine.store.session() as session:
            add_user(session, "alice")
            add_user(session, "root", is_admin=True)
            tokens = {name: create_token(session, name) for name in ("alice", "root")}
    app = create_app({"home": home, "cleanup_interval_s": 3600})
    yield home, app, {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    app.extensions["qserv"].close()


def _sync(client, query, headers=None):
    return client.get("/tap/sync", query_string={"LANG": "ADQL", "FORMAT": "csv", "QUERY": query},
                      headers=headers or {})


def _rows(response):
    assert response.status_code == 200, response.data
    return list(csv.DictReader(io.StringIO(response.data.decode())))


def _schemas(client, headers=None):
    response = _sync(client, "SELECT schema_name FROM TAP_SCHEMA.schemas", headers)
    assert response.status_code == 200, response.data
    return {row["schema_name"] for row in csv.DictReader(io.StringIO(response.data.decode()))}


@pytest.mark.parametrize("who", [None, "alice"])
def test_an_unpublished_database_is_invisible_to_users(instance, who):
    _, app, headers = instance
    client = app.test_client()
    header = headers.get(who)
    assert _schemas(client, header) == {"sky", "TAP_SCHEMA"}
    for path in ("/tap", "/tap/tables"):
        page = client.get(path, headers=header or {})
        assert page.status_code == 200 and b"sky.Numbers" in page.data and b"staging" not in page.data
    assert client.get("/tap/tables/staging.Numbers", headers=header or {}).status_code == 404
    refused = _sync(client, "SELECT COUNT(*) AS c FROM staging.Numbers", header)
    assert refused.status_code == 400 and b"staging.Numbers" in refused.data
    assert _rows(_sync(client, "SELECT COUNT(*) AS c FROM sky.Numbers", header)) == [{"c": "5"}]


def test_admins_and_the_cli_read_unpublished_databases(instance):
    home, app, headers = instance
    client = app.test_client()
    assert _schemas(client, headers["root"]) == {"sky", "staging", "TAP_SCHEMA"}
    assert b"staging.Numbers" in client.get("/tap/tables", headers=headers["root"]).data
    assert _rows(_sync(client, "SELECT COUNT(*) AS c FROM staging.Numbers", headers["root"])) == [{"c": "5"}]
    cli = CliRunner().invoke(main_cli, ["--home", str(home), "query", "--format", "csv",
                                        "SELECT COUNT(*) AS c FROM staging.Numbers"])
    assert cli.exit_code == 0, cli.output
    assert list(csv.DictReader(io.StringIO(cli.stdout))) == [{"c": "5"}]


def test_publishing_shows_the_database_at_once(instance):
    home, app, headers = instance
    client = app.test_client()
    assert _sync(client, "SELECT COUNT(*) AS c FROM staging.Numbers").status_code == 400
    with qserv.open(home) as engine:  # as `qserv publish` does, in another process
        engine.publish("staging")
    assert _rows(_sync(client, "SELECT COUNT(*) AS c FROM staging.Numbers")) == [{"c": "5"}]
    assert "staging" in _schemas(client)
