"""`qserv chunks` / `table stats` summaries and sizing warnings, `db create --expected-rows`, and
the progress counters (issue 13, items 6, 10 and 11)."""

import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import qserv
from qserv.chunk_summary import size_warning, summarise
from qserv.progress import ChunkProgress, expected_rows
from qserv.sphere.sizing import chunk_order_for_rows, chunk_size_warning
from tests.cli_run import ok, run

ROWS = 4000


@pytest.fixture(scope="module")
def objects_file(tmp_path_factory):
    rng = np.random.default_rng(4)
    table = pa.table({"id": np.arange(ROWS, dtype=np.int64), "ra": rng.uniform(0, 360, ROWS),
                      "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, ROWS)))})
    path = tmp_path_factory.mktemp("data") / "objects.parquet"
    pq.write_table(table, path)
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory, objects_file):
    path = tmp_path_factory.mktemp("chunks") / "home"
    ok(run(path, "init", "--workers", "3"))
    ok(run(path, "db", "create", "sky", "--chunk-order", "5", "--subchunk-order", "8", "--replication", "2"))
    ok(run(path, "table", "create", "sky.Object", "--like", str(objects_file), "--kind", "director",
           "--id", "id", "--ra", "ra", "--dec", "dec"))
    ok(run(path, "ingest", "sky.Object", str(objects_file)))
    return path


def test_chunks_prints_a_summary_and_the_list_only_with_all(home):
    with qserv.open(home) as engine:
        truth = engine.chunks("sky.Object")
    result = run(home, "chunks", "sky.Object")
    lines = ok(result).splitlines()
    own = sorted(rows for _, rows, _, _ in truth if rows)
    assert lines[0] == "table sky.Object (director, chunk order 5)"
    assert lines[1] == f"chunks: {len(truth)} ({len(own)} with rows of their own)"
    assert lines[2] == f"rows: {ROWS} (+ {sum(o for _, _, o, _ in truth)} overlap copies)"
    assert lines[3] == f"rows per chunk: min {own[0]}, median {np.median(own):g}, max {own[-1]}"
    per_worker = {line.split("\t")[0]: line.split("\t")[1:] for line in lines[5:8]}
    assert lines[4] == "worker\tchunks\trows\toverlap_rows" and sorted(per_worker) == ["worker1", "worker2", "worker3"]
    for name, (chunks, rows, _) in per_worker.items():
        held = [r for r in truth if name in r[3]]
        assert (int(chunks), int(rows)) == (len(held), sum(r[1] for r in held))
    assert sum(int(rows) for _, rows, _ in per_worker.values()) == 2 * ROWS  # replication 2
    assert len(lines) == 9 and "--all" in lines[-1]
    # ~4 rows per chunk at order 5: far too small for the sizing rule
    advice = chunk_size_warning(np.median(own), 5)
    assert advice is not None and result.stderr.strip() == f"warning: {advice}"
    listed = ok(run(home, "chunks", "sky.Object", "--all")).splitlines()
    assert listed[:8] == lines[:8] and len(listed) == 9 + len(truth)
    assert ok(run(home, "table", "stats", "sky.Object")).splitlines() == lines[:8]


def test_expected_rows_chooses_the_chunk_order(home):
    out = ok(run(home, "db", "create", "big", "--expected-rows", "50000000"))
    order = chunk_order_for_rows(50_000_000)
    assert f"chunk order {order} for 50,000,000 expected rows" in out
    with qserv.open(home) as engine, engine.store.session() as session:
        from qserv.meta.catalog import get_database

        assert get_database(session, "big").chunk_order == order
    both = run(home, "db", "create", "other", "--expected-rows", "10", "--chunk-order", "5")
    assert both.returncode == 2 and "not both" in both.stderr
    negative = run(home, "db", "create", "other", "--expected-rows", "-1")
    assert negative.returncode == 2 and "expected rows" in negative.stderr and "Traceback" not in negative.stderr


def test_summary_of_no_chunks_and_warning_only_for_spatial_tables():
    empty = summarise([])
    assert (empty.chunks, empty.rows, empty.rows_per_chunk) == (0, 0, None)
    assert size_warning(empty, "director", 7) is None
    tiny = summarise([(1, 2, 0, ["w1"]), (2, 0, 5, ["w1", "w2"]), (3, 4, 1, ["w2"])])
    assert tiny.rows_per_chunk == (2, 3.0, 4) and tiny.workers == {"w1": (2, 2, 5), "w2": (2, 4, 6)}
    assert size_warning(tiny, "hash", 7) is None and size_warning(tiny, "child", 7) is not None


def test_query_progress_counts_every_chunk_read(home):
    seen = []
    progress = ChunkProgress(lambda done, total: seen.append((done, total)))
    with qserv.open(home) as engine:
        result = engine.query("SELECT COUNT(*) AS n, MAX(ra) AS m FROM sky.Object WHERE dec > 0", progress=progress)
        touched = engine.recent_queries(limit=1)[0].chunks
    assert result.column("n")[0].as_py() > 0
    assert progress.total == progress.finished == touched > 0
    assert seen[0] == (0, touched) and seen[-1] == (touched, touched)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_expected_rows_of_ingest_inputs(tmp_path, objects_file):
    assert expected_rows([objects_file, objects_file]) == 2 * ROWS
    csv = tmp_path / "a.csv"
    csv.write_text("id,ra\n" + "".join(f"{i},{i / 7:.6f}\n" for i in range(30_000)))
    assert expected_rows([csv]) == 30_000  # the whole file fits in the sample: exact
    big = tmp_path / "b.csv"
    big.write_text("id,ra\n" + "".join(f"{i % 1000:06d},1.5\n" for i in range(200_000)))  # 2.2 MB
    assert abs(expected_rows([big]) - 200_000) < 2_000
    assert expected_rows([tmp_path / "c.csv.gz"]) is None and expected_rows([tmp_path / "missing.csv"]) is None


def test_bars_draw_on_a_terminal_only(monkeypatch, objects_file):
    import io

    from qserv import progress as progress_module

    screen = io.StringIO()
    monkeypatch.setattr(sys, "stderr", screen)
    assert progress_module.query_bar()[0] is None and progress_module.ingest_bar("x", [objects_file])[0] is None
    monkeypatch.setattr(progress_module, "_terminal", lambda: True)
    rows, committing, close = progress_module.ingest_bar("sky.Object", [objects_file])
    rows(1000)
    rows(ROWS - 1000)
    committing()
    close()
    assert f"/{ROWS / 1000:.2f}k [" in screen.getvalue() and "100%" in screen.getvalue() and "committing" in screen.getvalue()
    monkeypatch.setattr(progress_module, "QUERY_BAR_DELAY_S", 3600.0)
    counter, close = progress_module.query_bar()
    shown = len(screen.getvalue())
    counter.planned(8)
    counter.done(8)
    close()
    assert len(screen.getvalue()) == shown  # a quick query draws nothing
    monkeypatch.setattr(progress_module, "QUERY_BAR_DELAY_S", 0.0)
    counter, close = progress_module.query_bar()
    counter.planned(8)
    counter.done(3)
    assert "3/8" in screen.getvalue()
    close()


def test_a_query_in_a_pipe_prints_nothing_on_stderr(home):
    result = run(home, "query", "SELECT COUNT(*) FROM sky.Object WHERE dec > 0")
    assert ok(result).splitlines()[0] == '"COUNT(*)"' and result.stderr == ""
