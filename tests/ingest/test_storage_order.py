"""Rows reach each worker ordered by chunk within a batch, so stored row groups cover few chunks
and a query reading some chunks can skip the rest by min/max (checked on the stored order)."""

import numpy as np
import pyarrow as pa

import qserv
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.meta.catalog import active_workers
from qserv.schema.columns import Column
from qserv.storage import physical_table_name


def test_each_worker_stores_a_batch_in_chunk_order(tmp_path):
    init_instance(tmp_path / "home", workers=2)
    rng = np.random.default_rng(8)
    count = 20_000
    rows = pa.table({"id": rng.permutation(count).astype(np.int64), "ra": rng.uniform(0, 360, count),
                     "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, count)))})
    with qserv.open(tmp_path / "home") as engine:
        engine.create_database("sky", chunk_order=3, subchunk_order=5, overlap_arcsec=60.0)
        engine.create_table("sky.T", TableSpec("director", [Column("id", "long", False), Column("ra", "double", False),
                                                            Column("decl", "double", False)],
                                                id_column="id", ra_column="ra", dec_column="decl"))
        engine.ingest("sky.T", [rows])
        with engine.store.session() as session:
            workers = active_workers(session)
        stored = 0
        for worker in workers:
            chunks = engine.pool.get(worker).query(
                f'SELECT _qserv_chunk FROM "{physical_table_name("sky", "T")}" ORDER BY rowid'
            ).column(0).to_numpy()
            assert len(chunks) > 0 and np.all(np.diff(chunks) >= 0)
            stored += int(np.count_nonzero(
                engine.pool.get(worker).query(f'SELECT NOT _qserv_overlap FROM "{physical_table_name("sky", "T")}"'
                                              ).column(0).to_numpy()))
        assert stored == count
