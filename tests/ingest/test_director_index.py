"""The director index's chunk lookup: the literal IN list (few integer keys) and the join (many
keys, or string keys) give the same chunks, hide invisible transactions and ignore unknown ids."""

import numpy as np
import pyarrow as pa

from qserv.ingest.director_index import LITERAL_KEYS, DirectorIndex


def _index(tmp_path, id_type="BIGINT", ids=None):
    index = DirectorIndex(tmp_path / "index.duckdb")
    index.ensure("db", "Obj", id_type)
    rng = np.random.default_rng(2)
    ids = np.arange(50_000, dtype=np.int64) if ids is None else ids
    chunks = rng.integers(0, 500, len(ids))
    index.add("db", "Obj", pa.array(ids), chunks, chunks * 4, transaction_id=1, contribution_id=1)
    hidden = np.arange(100_000, 100_010, dtype=np.int64)  # written by transaction 2
    index.add("db", "Obj", pa.array(hidden), np.full(10, 999), np.full(10, 3996), transaction_id=2, contribution_id=2)
    return index, dict(zip(ids.tolist(), chunks.tolist()))


def test_few_and_many_integer_keys_agree_with_the_truth(tmp_path):
    index, truth = _index(tmp_path)
    try:
        rng = np.random.default_rng(3)
        for count in (1, 7, LITERAL_KEYS, LITERAL_KEYS + 1, 5000):
            keys = rng.choice(60_000, count, replace=False)  # some unknown
            expected = sorted({truth[k] for k in keys.tolist() if k in truth})
            got = index.chunks_holding("db", "Obj", pa.array(keys, pa.int64()), set())
            assert got.tolist() == expected
        hidden_key = pa.array([100_003, 5], pa.int64())
        assert index.chunks_holding("db", "Obj", hidden_key, {2}).tolist() == [truth[5]]
        assert index.chunks_holding("db", "Obj", hidden_key, set()).tolist() == sorted({truth[5], 999})
        assert index.chunks_holding("db", "Obj", pa.array([None], pa.int64()), set()).tolist() == []
    finally:
        index.close()
