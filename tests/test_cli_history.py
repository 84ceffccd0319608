"""`qserv history`: the query log from the command line (run as a subprocess, like tests/test_cli.py,
so exit codes and messages are the real ones)."""

import pytest

from qserv.instance import init_instance, read_instance
from qserv.meta.query_log import finish_query, start_query
from qserv.meta.store import MetaStore
from tests.cli_run import ok, run


@pytest.fixture
def home(tmp_path):
    return init_instance(tmp_path / "home", workers=1)


def log(home, *queries):
    """Insert (text, user, status, duration_s, rows, chunks, error) records; return their ids."""
    store = MetaStore(read_instance(home)["meta_url"])
    ids = []
    with store.session() as session:
        for text, user, status, duration_s, rows, chunks, error in queries:
            query_id = start_query(session, text, "adql", database="sky", user=user)
            if status != "running":
                finish_query(session, query_id, status, duration_s, rows=rows, chunks=chunks, error=error)
            ids.append(query_id)
    store.dispose()
    return ids


LONG = "SELECT objectId, ra, dec\n  FROM sky.Object\n WHERE " + " AND ".join(f"col{i} > {i}" for i in range(20))


def test_history_lists_logged_queries_newest_first(home):
    first, second, third = log(
        home,
        ("SELECT COUNT(*) FROM sky.Object", "alice", "ok", 0.5, 1, 12, None),
        ("SELECT nope\nFROM sky.Object", "bob", "error", 0.002, None, None, "no column 'nope'\nin sky.Object"),
        (LONG, None, "running", None, None, None, None),
    )
    lines = ok(run(home, "history")).splitlines()
    assert lines[0] == "id\tsubmitted\tstatus\tduration_ms\trows\tchunks\tuser\tquery"
    running, failed, error_line, done = lines[1:]
    fields = running.split("\t")
    assert fields[0] == str(third) and fields[2:7] == ["running", "-", "-", "-", "-"]
    assert len(fields[1]) == 19 and fields[1][10] == "T"  # ISO seconds
    assert fields[7] == " ".join(LONG.split())[:79] + "…" and len(fields[7]) == 80
    assert failed.split("\t")[0] == str(second)
    assert failed.split("\t")[2:] == ["error", "2.0", "-", "-", "bob", "SELECT nope FROM sky.Object"]
    assert error_line == "    error: no column 'nope' in sky.Object"
    assert done.split("\t")[0] == str(first)
    assert done.split("\t")[2:] == ["ok", "500.0", "1", "12", "alice", "SELECT COUNT(*) FROM sky.Object"]


def test_history_filters_and_limit(home):
    ids = log(home, *[(f"SELECT {i}", "alice" if i % 2 else "bob", "ok" if i < 3 else "cancelled", 0.1, 1, 1, None)
                      for i in range(5)])

    def listed(*args):
        return [int(line.split("\t")[0]) for line in ok(run(home, "history", *args)).splitlines()[1:]]

    assert listed("--limit", "2") == [ids[4], ids[3]]
    assert listed("--status", "ok") == [ids[2], ids[1], ids[0]]
    assert listed("--user", "alice") == [ids[3], ids[1]]
    assert listed("--status", "cancelled", "--user", "bob") == [ids[4]]
    assert ok(run(home, "history", "--user", "carol")).strip() == "no queries in the log match these filters"


def test_empty_log_says_so(home):
    assert ok(run(home, "history")).strip() == "no queries in the log"


@pytest.mark.parametrize("args, fragment", [
    (["--status", "done"], "unknown query status 'done' (expected one of running, ok, error, cancelled)"),
    (["--limit", "0"], "limit must be at least 1, got 0"),
])
def test_bad_options_exit_2(home, args, fragment):
    result = run(home, "history", *args)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and fragment in result.stderr
