"""The central state in PostgreSQL (--meta-url) instead of the default SQLite file."""

import numpy as np
import pyarrow as pa

import qserv
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column


def test_ingest_commit_abort_with_central_state_in_postgres(tmp_path, new_postgres_database):
    name = new_postgres_database().split("dbname=")[1]
    home = init_instance(tmp_path / "home", workers=2, meta_url=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}")
    rng = np.random.default_rng(3)
    objects = pa.table({"id": np.arange(5000), "ra": rng.uniform(0, 360, 5000), "dec": rng.uniform(-90, 90, 5000)})
    with qserv.open(home) as engine:
        engine.create_database("sky", 5, 8, 300, replication=2)
        engine.create_table("sky.Object", TableSpec(
            kind="director", columns=[Column("id", "long"), Column("ra", "double"), Column("dec", "double")],
            id_column="id", ra_column="ra", dec_column="dec"))
        engine.ingest("sky.Object", [objects.slice(0, 3000), objects.slice(3000)])
        aborted = engine.transactions.begin("sky")
        engine.transactions.contribute(aborted, "Object", objects.slice(0, 10).set_column(
            0, "id", pa.array(np.arange(10_000, 10_010))), key="extra")
        engine.transactions.abort(aborted)
    with qserv.open(home) as engine:
        chunks = engine.chunks("sky.Object")
        assert sum(rows for _, rows, _, _ in chunks) == 5000
        assert all(len(workers) == 2 for _, _, _, workers in chunks)
        assert sorted(engine.read_table("sky.Object")["id"].to_pylist()) == list(range(5000))
        assert [state for _, _, state, _, _ in engine.list_transactions("sky")] == ["committed", "aborted"]
