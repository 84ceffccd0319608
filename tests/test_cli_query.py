"""`qserv query` and `qserv explain` end to end: formats, exit codes, no tracebacks."""

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import qserv
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column
from tests.cli_run import run as run_cli


def run(home, *args):
    return run_cli(home, *args, text=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-query") / "home"
    init_instance(path, workers=3)
    rng = np.random.default_rng(5)
    rows = pa.table({"id": np.arange(500, dtype=np.int64), "ra": rng.uniform(0, 360, 500),
                     "dec": rng.uniform(-60, 60, 500), "name": [f"s{i}" if i % 7 else None for i in range(500)]})
    with qserv.open(path) as engine:
        engine.create_database("sky", chunk_order=4, subchunk_order=6, overlap_arcsec=60.0)
        engine.create_table("sky.Star", TableSpec("director", [Column("id", "long"), Column("ra", "double"),
                                                               Column("dec", "double"), Column("name", "string")],
                                                  id_column="id", ra_column="ra", dec_column="dec"))
        engine.ingest("sky.Star", [rows])
    return path


QUERY = "SELECT id, name FROM Star WHERE id IN (0, 1, 7) ORDER BY id"


def test_csv_and_json(home):
    result = run(home, "query", "--db", "sky", QUERY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == ['"id","name"', '0,', '1,"s1"', '7,']
    document = json.loads(run(home, "query", "--db", "sky", "--format", "json", QUERY).stdout)
    assert [c["name"] for c in document["columns"]] == ["id", "name"]
    assert document["rows"] == [[0, None], [1, "s1"], [7, None]]


def test_votable_parquet_and_fits(home, tmp_path):
    from astropy.io.votable import parse_single_table
    from astropy.table import Table

    votable = run(home, "query", "--db", "sky", "--format", "votable", QUERY).stdout
    table = parse_single_table(io.BytesIO(votable)).to_table()
    assert list(table["id"]) == [0, 1, 7] and str(table["name"][1]) == "s1"  # VOTable char NULL is empty
    out = tmp_path / "r.parquet"
    assert run(home, "query", "--db", "sky", "--format", "parquet", "--out", str(out), QUERY).returncode == 0
    assert pq.read_table(out).column("id").to_pylist() == [0, 1, 7]
    fits = tmp_path / "r.fits"
    assert run(home, "query", "--db", "sky", "--format", "fits", "--out", str(fits), QUERY).returncode == 0
    assert list(Table.read(fits)["id"]) == [0, 1, 7]


def test_qserv_dialect_and_explain(home):
    text = "SELECT COUNT(*) AS n FROM sky.Star WHERE qserv_areaspec_circle(100, 0, 20)"
    count = int(run(home, "query", "--lang", "qserv", text).stdout.decode().splitlines()[1])
    with qserv.open(home) as engine:
        rows = engine.read_table("sky.Star")
    from qserv.sphere import Circle
    expected = int(Circle(100, 0, 20).contains(rows.column("ra").to_numpy(), rows.column("dec").to_numpy()).sum())
    assert count == expected > 0
    explained = run(home, "explain", "--lang", "qserv", text).stdout.decode()
    assert "chunks:" in explained and "merge SQL" in explained


@pytest.mark.parametrize("args, fragment", [
    (["query", "SELECT * FROM Star"], "qualify"),
    (["query", "--db", "sky", "SELECT nope FROM Star"], "unknown column"),
    (["query", "--db", "sky", "DELETE FROM Star"], "only SELECT"),
    (["query", "--db", "sky", "SELECT a.id FROM Star a, Star b"], "chunk by chunk"),
    (["explain", "--db", "sky", "SELEC 1"], "syntax error"),
])
def test_bad_queries_exit_2_with_a_message(home, args, fragment):
    result = run(home, *args)
    stderr = result.stderr.decode()
    assert result.returncode == 2 and fragment in stderr and "Traceback" not in stderr
