"""The command line end to end on an embedded instance: exit codes, messages, no tracebacks."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import qserv
from tests.cli_run import ok, run, user_error


def chunk_lines(output):
    """The per-chunk rows `qserv chunks --all` prints after its summary."""
    lines = output.splitlines()
    return [line.split("\t") for line in lines[lines.index("chunk\trows\toverlap_rows\tworkers") + 1:]]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "home"
    ok(run(path, "init", "--workers", "3"))
    ok(run(path, "db", "create", "sky", "--chunk-order", "5", "--subchunk-order", "8",
             "--overlap-arcsec", "120", "--replication", "2"))
    return path


@pytest.fixture(scope="module")
def objects_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 5000
    table = pa.table({"id": np.arange(n, dtype=np.int64), "ra": rng.uniform(0, 360, n),
                      "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))), "mag": rng.uniform(10, 20, n)})
    path = tmp_path_factory.mktemp("data") / "objects.parquet"
    pq.write_table(table, path)
    return path


def test_table_create_ingest_and_chunks(home, objects_file):
    ok(run(home, "table", "create", "sky.Object", "--like", str(objects_file), "--kind", "director",
             "--id", "id", "--ra", "ra", "--dec", "dec"))
    out = ok(run(home, "ingest", "sky.Object", str(objects_file)))
    assert "committed: 5000 rows" in out
    rows = chunk_lines(ok(run(home, "chunks", "sky.Object", "--all")))
    assert sum(int(r[1]) for r in rows) == 5000
    assert all(len(r[3].split(",")) == 2 for r in rows)


def test_bad_file_is_exit_2_names_row_and_column_and_loads_nothing(home, objects_file, tmp_path):
    table = pq.read_table(objects_file).to_pydict()
    table["dec"][123] = 95.0
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table(table), bad)
    user_error(run(home, "ingest", "sky.Object", str(bad)), f"{bad}, row 124", "'dec'", "95.0")
    listing = ok(run(home, "transaction", "list", "--db", "sky")).splitlines()
    assert listing[-1].split("\t")[2] == "aborted"
    rows = chunk_lines(ok(run(home, "chunks", "sky.Object", "--all")))
    assert sum(int(r[1]) for r in rows) == 5000


def test_felis_table_from_bundled_sdm_schema(home):
    out = ok(run(home, "table", "create", "sky.DiaObject", "--felis", "apdb", "--kind", "director",
                   "--id", "diaObjectId", "--ra", "ra", "--dec", "dec", "--non-unique"))
    assert "created director table sky.DiaObject (83 columns)" in out


@pytest.mark.parametrize("args, fragments", [
    (["db", "create", "sky"], ["database 'sky' already exists"]),
    (["chunks", "nowhere.Object"], ["no database 'nowhere'"]),
    (["chunks", "Object"], ["must be qualified as DATABASE.TABLE"]),
    (["db", "create", "x1", "--subchunk-order", "12"], ["too large for sub-chunk order 12"]),
    (["table", "create", "sky.T", "--kind", "director"], ["give exactly one of --felis"]),
    (["transaction", "abort", "999"], ["no transaction 999"]),
    (["ingest", "sky.Object", "/nonexistent/file.parquet"], ["/nonexistent/file.parquet"]),
])
def test_user_errors_exit_2_without_traceback(home, args, fragments):
    user_error(run(home, *args), *fragments)


def test_missing_instance_is_a_clear_error(tmp_path):
    user_error(run(tmp_path / "nothing", "chunks", "a.b"), "is not a qserv instance", "qserv init")


def test_instance_held_by_another_process_is_a_clear_error(home):
    with qserv.open(home):
        result = run(home, "chunks", "sky.Object")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "in use by another process" in result.stderr
