"""`qserv table create` with the options of children placed by their director's position and of
match tables: created and loaded from the command line, bad combinations exit 2 naming the option."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.cli_run import ok, run


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("placement-cli")
    rng = np.random.default_rng(1)
    ra, dec = rng.uniform(0, 360, 200), np.degrees(np.arcsin(rng.uniform(-1, 1, 200)))
    tables = {
        "objects": pa.table({"id": np.arange(200), "ra": ra, "dec": dec}),
        "refs": pa.table({"refId": np.arange(100) + 1000, "ra": ra[:100] + 1e-4, "dec": dec[:100]}),
        "sources": pa.table({"sourceId": np.arange(300), "objectId": np.arange(300) % 200,
                             "raObject": ra[np.arange(300) % 200], "declObject": dec[np.arange(300) % 200]}),
        "matches": pa.table({"refId": np.arange(100) + 1000, "objectId": np.arange(100)}),
    }
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
    return folder


def test_director_position_and_match_tables_from_the_command_line(tmp_path, files):
    home = tmp_path / "home"
    ok(run(home, "init", "--workers", "2"))
    ok(run(home, "db", "create", "sky", "--chunk-order", "3", "--subchunk-order", "5", "--overlap-arcsec", "60"))
    for name, source in (("Object", "objects"), ("RefObject", "refs")):
        key = "id" if name == "Object" else "refId"
        ok(run(home, "table", "create", f"sky.{name}", "--like", str(files / f"{source}.parquet"), "--kind",
               "director", "--id", key, "--ra", "ra", "--dec", "dec"))
        ok(run(home, "ingest", f"sky.{name}", str(files / f"{source}.parquet")))
    ok(run(home, "table", "create", "sky.Source", "--like", str(files / "sources.parquet"), "--kind", "child",
           "--director", "sky.Object", "--director-key", "objectId", "--ra", "raObject", "--dec", "declObject",
           "--director-position"))
    ok(run(home, "table", "create", "sky.RefMatch", "--like", str(files / "matches.parquet"), "--kind", "match",
           "--director", "sky.RefObject", "--director-key", "refId", "--director2", "sky.Object",
           "--director2-key", "objectId"))
    ok(run(home, "ingest", "sky.Source", str(files / "sources.parquet")))
    ok(run(home, "ingest", "sky.RefMatch", str(files / "matches.parquet")))
    out = ok(run(home, "query", "--format", "csv", "SELECT COUNT(*) AS n FROM sky.RefObject r JOIN sky.RefMatch m "
                 "ON m.refId = r.refId JOIN sky.Object o ON o.id = m.objectId"))
    matches, sources = (pq.read_table(files / f"{name}.parquet").to_pandas() for name in ("matches", "sources"))
    assert out.split() == ['"n"', str(len(matches))]  # every match row's two directors exist
    out = ok(run(home, "query", "--format", "csv", "SELECT COUNT(*) AS n FROM sky.RefMatch m "
                 "JOIN sky.Object o ON o.id = m.objectId JOIN sky.Source s ON s.objectId = o.id"))
    assert out.split() == ['"n"', str(len(matches.merge(sources, on="objectId")))]
    bad = run(home, "table", "create", "sky.Bad", "--like", str(files / "matches.parquet"), "--kind", "match",
              "--director", "sky.RefObject", "--director-key", "refId", "--director2-key", "objectId")
    assert bad.returncode == 2 and "kind match needs --director DB.TABLE and --director2 DB.TABLE" in bad.stderr
    assert "Traceback" not in bad.stderr
    help_text = ok(run(home, "table", "create", "--help"))
    assert "--director-position" in help_text and "--director2-key" in help_text
