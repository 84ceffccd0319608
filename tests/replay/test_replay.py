"""qserv replay (qserv.replay): a log replayed on the same instance is all same; after one row
changed (replace_rows), exactly the queries that read it (numpy decides which) differ and the
report names them with the old and new row; export/import of the log, the report formats, the
time budget, the CLI's exit code."""

import json
from xml.etree import ElementTree

import pyarrow as pa

import qserv
from qserv.errors import UserError
from qserv.replay import sources
from qserv.replay.compare import changed
from qserv.replay.report import render
from qserv.replay.runner import EngineTarget, replay

from tests.cli_run import ok, run


def _run_queries(engine, sky):
    found = sky.queries()
    for text, _, _ in found:
        engine.query(text)
    return found


def test_replay_of_the_log_is_all_same_then_names_the_queries_a_new_row_changes(sky_home, sky, tmp_path):
    home = sky_home()
    with qserv.open(home) as engine:
        asked = _run_queries(engine, sky)
        try:
            engine.query(f"SELECT nosuch FROM {sky.TABLE}")
        except UserError:
            pass
        entries = sources.from_log(engine)
        assert len(entries) == len(asked) + 1 and all(e.checksum for e in entries if e.status == "ok")
        verdicts = replay(entries, EngineTarget(engine), concurrency=3, slower_factor=1000)
        assert {v.kind for v in verdicts} == {"same"} and not changed(verdicts)

        objects = sky.rows(0, 2000, 1).to_pylist()
        _, kind, parameters = asked[0]  # a cone: change a row it reads
        row = next(r for r in objects if sky.reads(kind, parameters, r))
        changed_row = dict(row, mag=18.0 if row["mag"] >= 19 else 20.0)  # crosses the aggregate's mag < 19
        engine.replace_rows(sky.TABLE, "id", pa.Table.from_pylist([changed_row], sky.rows(0, 1, 0).schema))
        verdicts = replay(entries, EngineTarget(engine), slower_factor=1000, baseline=engine)
        differing = {v.entry.text for v in verdicts if v.kind == "different"}
        assert differing == {text for text, kind, parameters in asked if sky.reads(kind, parameters, row)}
        assert differing and changed(verdicts)
        shown = ("id", "ra", "dec", "mag")
        for verdict in verdicts:
            if verdict.kind == "different" and "id, ra, dec, mag" in verdict.entry.text:
                assert verdict.missing == [{k: row[k] for k in shown}]
                assert verdict.extra == [{k: changed_row[k] for k in shown}]
        report = render(verdicts, 1.0, "text")
        assert report.splitlines()[0].startswith("DIFFERENT") and f"'id': {row['id']}" in report
        assert report.splitlines()[-1].startswith(f"replayed {len(entries)} of {len(entries)} queries")

        pinned = replay(entries, EngineTarget(engine), as_of="logged", slower_factor=1000)
        assert {v.kind for v in pinned} == {"same"}

        suite = ElementTree.fromstring(render(verdicts, 1.0, "junit").split("?>", 1)[1])
        assert int(suite.find("testsuite").get("failures")) == len(differing)
        assert json.loads(render(verdicts, 1.0, "json"))["counts"]["different"] == len(differing)

        none = replay(entries, EngineTarget(engine), budget_s=0)
        assert {v.kind for v in none} == {"not run"}


def test_export_and_cli_replay_exit_codes(sky_home, sky, tmp_path):
    home = sky_home()
    with qserv.open(home) as engine:
        _run_queries(engine, sky)
    exported = tmp_path / "log.jsonl"
    assert "queries written" in ok(run(home, "history", "--export", str(exported)))
    entries = sources.from_jsonl(exported)
    assert len(entries) == len(sky.queries()) and entries[0].visibility == {"newest": 1, "pending": []}
    same = run(home, "replay", str(exported), "--slower-factor", "1000")
    assert same.returncode == 0, same.stderr
    assert f"{len(entries)} same" in same.stdout.splitlines()[-1]
    with qserv.open(home) as engine:
        engine.ingest(sky.TABLE, [sky.rows(9000, 50, 9)])
    junit = tmp_path / "replay.xml"
    changed_run = run(home, "replay", str(home), "--format", "junit", "--out", str(junit))
    assert changed_run.returncode == 1, changed_run.stderr
    assert "different" in changed_run.stdout
    assert ElementTree.parse(junit).getroot().find("testsuite").get("failures") != "0"
    logged = run(home, "replay", str(home), "--as-of", "logged", "--slower-factor", "1000")
    assert logged.returncode == 0, logged.stdout
