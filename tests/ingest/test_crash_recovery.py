"""A process killed at any point of a transaction leaves nothing visible; the next start
recovers (finishes aborts, removes rows of interrupted contributions)."""

from datetime import timedelta
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest

import qserv
from qserv.faults import CRASH_EXIT_CODE, FAULT_ENV
from qserv.ingest.owners import current_owner, owner_gone, process_start
from qserv.meta.admin import TableSpec
from qserv.meta.models import Transaction, utc_now
from qserv.schema.columns import Column

COLUMNS = [Column("id", "long", nullable=False), Column("ra", "double"), Column("dec", "double")]
ROWS = 5000

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import pyarrow as pa
    import qserv
    home, database, action = sys.argv[1:4]
    rng = np.random.default_rng(0)
    rows = pa.table({"id": np.arange(%d), "ra": rng.uniform(0, 360, %d), "dec": rng.uniform(-90, 90, %d)})
    with qserv.open(home) as engine:
        transactions = engine.transactions
        if action == "abort":
            transaction_id = int(sys.argv[4])
            transactions.abort(transaction_id)
        else:
            transaction_id = transactions.begin(database, detached=True)
            transactions.contribute(transaction_id, "Object", rows.slice(0, 3000), key="part-1")
            transactions.contribute(transaction_id, "Object", rows.slice(3000), key="part-2")
            transactions.commit(transaction_id)
""" % (ROWS, ROWS, ROWS))


def run_until_crash(home, database, fault, action="ingest", *extra):
    env = dict(os.environ, **{FAULT_ENV: fault})
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(home), database, action, *extra],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == CRASH_EXIT_CODE, result.stderr


def prepare(home, database):
    with qserv.open(home) as engine:
        engine.create_database(database, 4, 6, 600)
        engine.create_table(f"{database}.Object", TableSpec(kind="director", columns=COLUMNS, id_column="id",
                                                           ra_column="ra", dec_column="dec"))


def state_after_restart(home, database):
    with qserv.open(home) as engine:
        visible = len(engine.read_table(f"{database}.Object"))
        stored = len(engine.read_table(f"{database}.Object", include_overlap=True))
        transactions = [(t, state) for t, name, state, _, _ in engine.list_transactions(database)]
        counted = sum(rows for _, rows, _, _ in engine.chunks(f"{database}.Object"))
    return visible, stored, transactions, counted


@pytest.mark.parametrize("fault", ["contribution-partly-loaded", "contribution-loaded"])
def test_crash_while_loading_leaves_nothing_and_the_contribution_can_be_retried(home, database_name, fault):
    prepare(home, database_name)
    run_until_crash(home, database_name, fault)
    visible, stored, transactions, counted = state_after_restart(home, database_name)
    (transaction_id, state), = transactions
    assert (visible, counted, state) == (0, 0, "open")
    # The interrupted contribution's rows are gone, so a retry loads it once.
    assert stored == 0
    with qserv.open(home) as engine:
        rng = np.random.default_rng(0)
        rows = pa.table({"id": np.arange(ROWS), "ra": rng.uniform(0, 360, ROWS), "dec": rng.uniform(-90, 90, ROWS)})
        engine.transactions.contribute(transaction_id, "Object", rows.slice(0, 3000), key="part-1")
        engine.transactions.contribute(transaction_id, "Object", rows.slice(3000), key="part-2")
        engine.transactions.commit(transaction_id)
        assert len(engine.read_table(f"{database_name}.Object")) == ROWS


def test_crash_before_the_commit_point_leaves_nothing_visible(home, database_name):
    prepare(home, database_name)
    run_until_crash(home, database_name, "commit-before-state")
    visible, stored, transactions, counted = state_after_restart(home, database_name)
    (transaction_id, state), = transactions
    assert (visible, stored, counted, state) == (0, 0, 0, "open")
    # The transaction survived the crash with its contributions: committing it now completes it.
    with qserv.open(home) as engine:
        engine.transactions.commit(transaction_id)
    visible, _, transactions, counted = state_after_restart(home, database_name)
    assert (visible, counted, transactions) == (ROWS, ROWS, [(transaction_id, "committed")])


def test_crash_after_the_commit_point_keeps_everything(home, database_name):
    prepare(home, database_name)
    run_until_crash(home, database_name, "commit-after-state")
    visible, _, transactions, counted = state_after_restart(home, database_name)
    assert (visible, counted, transactions[0][1]) == (ROWS, ROWS, "committed")


def test_crash_during_abort_is_finished_at_the_next_start(home, database_name):
    prepare(home, database_name)
    run_until_crash(home, database_name, "commit-before-state")
    (transaction_id, _), = state_after_restart(home, database_name)[2]
    run_until_crash(home, database_name, "abort-mid", "abort", str(transaction_id))
    visible, stored, transactions, _ = state_after_restart(home, database_name)
    assert (visible, stored, transactions) == (0, 0, [(transaction_id, "aborted")])


KILLED_SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    import pyarrow as pa
    import qserv
    home, database = sys.argv[1:3]
    rows = pa.table({"id": np.arange(100), "ra": np.linspace(0, 359, 100), "dec": np.linspace(-80, 80, 100)})
    with qserv.open(home) as engine:
        transaction_id = engine.transactions.begin(database)
        engine.transactions.contribute(transaction_id, "Object", rows, key="part")
        print(transaction_id, flush=True)
        time.sleep(600)
""")


def test_transaction_of_a_killed_process_is_aborted_at_the_next_open(home, database_name):
    prepare(home, database_name)
    process = subprocess.Popen([sys.executable, "-c", KILLED_SCRIPT, str(home), database_name],
                               stdout=subprocess.PIPE, text=True)
    try:
        transaction_id = int(process.stdout.readline())
        host, pid, start = current_owner()
        assert not owner_gone(host, process.pid, process_start(process.pid))  # still running
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert owner_gone(host, process.pid, None)
    visible, stored, transactions, counted = state_after_restart(home, database_name)
    assert (visible, stored, counted, transactions) == (0, 0, 0, [(transaction_id, "aborted")])


def test_transaction_of_a_live_process_stays_open(home, database_name):
    prepare(home, database_name)
    with qserv.open(home) as engine:
        transaction_id = engine.transactions.begin(database_name)
    with qserv.open(home) as engine:  # this process owns it and runs: not abandoned
        assert engine.list_transactions(database_name)[0][:3] == (transaction_id, database_name, "open")
        engine.transactions.abort(transaction_id)


def test_transaction_older_than_the_setting_is_aborted(home, database_name):
    prepare(home, database_name)
    with qserv.open(home) as engine:
        transaction_id = engine.transactions.begin(database_name, detached=True)
        with engine.store.session() as session:  # begun long ago
            session.get(Transaction, transaction_id).started_at = utc_now() - timedelta(seconds=7200)
        engine.set_setting("transaction_abandon_s", 3600)
        recent = engine.transactions.begin(database_name, detached=True)
    try:
        listed = subprocess.run([sys.executable, "-m", "qserv.cli", "--home", str(home), "transaction", "list",
                                 "--db", database_name], capture_output=True, text=True, timeout=300)
        assert listed.returncode == 0, listed.stderr
        lines = [line.split("\t") for line in listed.stdout.splitlines()]
        assert lines[0] == ["id", "database", "state", "started", "ended", "age"]
        assert {int(r[0]): (r[2], r[5]) for r in lines[1:]} == {transaction_id: ("aborted", "2h00m"),
                                                                 recent: ("open", lines[2][5])}
        assert lines[2][5].endswith("s") and int(lines[2][5].rstrip("s")) < 300
    finally:
        with qserv.open(home) as engine:
            engine.set_setting("transaction_abandon_s", 86_400)
