"""Transaction ids are never handed out twice, even after ``db drop`` deleted the newest one
(readers and pinned snapshots hide "every id above the newest they knew")."""

import qserv
from qserv.instance import init_instance


def test_a_dropped_databases_transaction_ids_are_not_reused(tmp_path):
    home = tmp_path / "home"
    init_instance(home, workers=1)
    with qserv.open(home) as engine:
        engine.create_database("first", chunk_order=2)
        ids = [engine.transactions.begin("first") for _ in range(3)]
        for transaction_id in ids:
            engine.transactions.commit(transaction_id)
        engine.drop_database("first", force=True)
        engine.create_database("second", chunk_order=2)
        assert engine.transactions.begin("second") > max(ids)
