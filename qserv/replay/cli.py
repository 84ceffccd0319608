"""``qserv snapshot tag|list|release`` and ``qserv replay`` (registered in qserv/cli.py)."""

from pathlib import Path
import sys
import time

import click

from qserv.errors import UserError
from qserv.instance import INSTANCE_FILE, resolve_home
from qserv.replay import AS_OF_CHOICES, FORMATS


def _local_engine(context, command):
    if context.obj.get("url"):
        raise UserError(f"qserv {command} works on a local instance (run it on the server's host, without --url)")
    from qserv.engine import Engine

    return Engine(context.obj["home"])


@click.group("snapshot")
def snapshot_group():
    """Named states of the catalog that queries can be pinned to (qserv query --as-of NAME)."""


@snapshot_group.command("tag")
@click.argument("name")
@click.pass_context
def snapshot_tag(context, name):
    """Name the current state NAME (e.g. DR1): rows committed later stay invisible to it."""
    from qserv.meta.snapshots import tag

    with _local_engine(context, "snapshot tag") as engine, engine.store.session() as session:
        snapshot = tag(session, name)
        click.echo(f"snapshot {snapshot.name}: transactions up to {snapshot.visibility['newest']}"
                   + (f", without pending {snapshot.visibility['pending']}" if snapshot.visibility["pending"] else ""))


@snapshot_group.command("list")
@click.pass_context
def snapshot_list(context):
    """Snapshots: name, created, released, newest transaction, pending transactions."""
    from qserv.meta.snapshots import list_snapshots

    with _local_engine(context, "snapshot list") as engine, engine.store.session() as session:
        snapshots = list_snapshots(session)
        if not snapshots:
            click.echo("no snapshots (qserv snapshot tag NAME)")
            return
        click.echo("name\tcreated\treleased\tnewest_transaction\tpending")
        for s in snapshots:
            released = "-" if s.released_at is None else f"{s.released_at:%Y-%m-%dT%H:%M:%S}"
            pending = ",".join(map(str, s.visibility["pending"])) or "-"
            click.echo(f"{s.name}\t{s.created_at:%Y-%m-%dT%H:%M:%S}\t{released}\t{s.visibility['newest']}\t{pending}")


@snapshot_group.command("release")
@click.argument("name")
@click.pass_context
def snapshot_release(context, name):
    """Release NAME: queries can no longer be pinned to it; rows deleted since may be purged."""
    from qserv.meta.snapshots import release

    with _local_engine(context, "snapshot release") as engine, engine.store.session() as session:
        release(session, name)
    click.echo(f"snapshot {name} released")


def _entries(source, db):
    """(entries, home of the log or None) of a replay SOURCE."""
    from qserv.replay import sources

    path = Path(source)
    if not path.exists():
        raise UserError(f"no replay source {source} (a qserv home, an exported .jsonl log or a corpus directory)")
    if path.is_file():
        return sources.from_jsonl(path), None
    if (path / INSTANCE_FILE).exists():
        from qserv.engine import Engine

        with Engine(path, read_only=True) as engine:
            return sources.from_log(engine), resolve_home(path)
    return sources.from_corpus(path, db), None


@click.command("replay")
@click.argument("source")
@click.option("--against", default=None, help="Instance to replay on: a home, or the URL of a `qserv serve` "
              "(TAP, ADQL only). Default: --home.")
@click.option("--as-of", "as_of", type=click.Choice(AS_OF_CHOICES), default="current", show_default=True,
              help="Rows each query reads: as of the visibility it logged, or the rows of now.")
@click.option("--reference", default=None, help="Corpus SOURCE: a DuckDB file or PostgreSQL DSN holding the "
              "rows unsharded, for the expected answers of .sql files without a .parquet/.csv beside them.")
@click.option("--db", default=None, help="Corpus SOURCE: default database of queries that name none.")
@click.option("--format", "format_", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write the report to FILE (default: stdout).")
@click.option("--concurrency", type=click.IntRange(1, 256), default=1, show_default=True)
@click.option("--budget-s", type=click.FloatRange(min=0), default=None, help="Start no query after S seconds.")
@click.option("--slower-factor", type=click.FloatRange(min=1), default=2.0, show_default=True,
              help="A query is slower (faster) when its time grew (shrank) by this factor and by over 5 ms.")
@click.option("--show-same", is_flag=True, help="List unchanged queries too (text format).")
@click.pass_context
def replay_command(context, source, against, as_of, reference, db, format_, out, concurrency, budget_s,
                   slower_factor, show_same):
    """Re-run the queries of SOURCE (a home's query log, a `qserv history --export` file, or a
    corpus directory of .sql files) and classify each: same, different (first differing rows),
    new error, fixed error, slower, faster. Exit status 1 when any answer changed."""
    from qserv.engine import Engine
    from qserv.replay.compare import changed
    from qserv.replay.report import render, summary, text_report
    from qserv.replay.runner import EngineTarget, TapTarget, replay

    entries, log_home = _entries(source, db)
    if against and against.startswith(("http://", "https://")):
        target_engine, target = None, TapTarget(against)
    else:
        target_engine = Engine(resolve_home(against) if against else context.obj["home"])
        target = EngineTarget(target_engine)
    try:
        if reference:
            from qserv.replay.reference import fill_expected

            if target_engine is None:
                raise UserError("--reference needs a local instance to translate the queries (--against HOME)")
            fill_expected(entries, target_engine, reference)
        baseline = target_engine if target_engine and log_home == target_engine.home else None
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=len(entries), desc="replay", unit="query", file=sys.stderr, leave=False)
        started = time.monotonic()
        try:
            verdicts = replay(entries, target, as_of, concurrency, budget_s, slower_factor, baseline,
                              on_done=bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        elapsed = time.monotonic() - started
    finally:
        if target_engine:
            target_engine.close()
    report = render(verdicts, elapsed, format_) if format_ != "text" else text_report(verdicts, elapsed, show_same)
    if out:
        Path(out).write_text(report, encoding="utf-8")
        click.echo(summary(verdicts, elapsed))
    else:
        click.echo(report, nl=False)
    if changed(verdicts):
        sys.exit(1)
