"""The director index's chunk lookup: the literal IN list (few integer keys) and the join (many
keys, or string keys) give the same chunks, hide invisible transactions and ignore unknown ids."""

import numpy as np
import pyarrow as pa

from qserv.ingest.director_index import LITERAL_KEYS, DirectorIndex, describe_duplicates


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


def test_duplicates_lists_the_first_ids_and_counts_them_all(tmp_path):
    index = DirectorIndex(tmp_path / "index.duckdb")
    try:
        index.ensure("db", "Obj", "BIGINT")
        committed = np.arange(0, 1000, dtype=np.int64)
        index.add("db", "Obj", pa.array(committed), np.zeros(1000), np.zeros(1000), transaction_id=1, contribution_id=1)
        # Transaction 2 repeats 30 committed ids (500..529) and writes 7 of its own ids twice.
        mine = np.concatenate([np.arange(500, 530), np.arange(5000, 5050), np.arange(5000, 5007)]).astype(np.int64)
        index.add("db", "Obj", pa.array(mine), np.zeros(len(mine)), np.zeros(len(mine)),
                  transaction_id=2, contribution_id=2)
        truth = sorted(set(range(500, 530)) | set(range(5000, 5007)))
        ids, total = index.duplicates("db", "Obj", 2, set())
        assert (ids, total) == (truth[:10], len(truth))
        ids, total = index.duplicates("db", "Obj", 2, set(), within=False, limit=50)
        assert (ids, total) == (list(range(500, 530)), 30)
        assert index.duplicates("db", "Obj", 2, {1}, within=False) == ([], 0)  # transaction 1 hidden
        assert describe_duplicates(ids[:10], 30) == "30 ids, the first 10: " + ", ".join(map(str, range(500, 510)))
        assert describe_duplicates([9, 10], 2) == "9, 10"
    finally:
        index.close()
