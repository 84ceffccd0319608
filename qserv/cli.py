"""The command line (DESIGN.md section 5). Errors go to stderr: exit 2 for a user error, 1 for a
service error; no traceback unless QSERV_DEBUG is set."""

import getpass
import os
import sys
import time
from pathlib import Path

import click

from qserv.errors import QservError, UserError
from qserv.instance import BACKENDS, init_instance, resolve_home
from qserv.meta.kinds import KINDS
from qserv.output import BINARY_FORMATS, FORMATS


def _engine(context):
    if context.obj.get("url"):
        from qserv.cli_remote import RemoteEngine

        return RemoteEngine(context.obj["url"], os.environ.get("QSERV_TOKEN"))
    from qserv.engine import Engine

    return Engine(context.obj["home"])


@click.group()
@click.option("--home", envvar="QSERV_HOME", default=None, help="Instance directory (default ./qserv-home).")
@click.option("--url", envvar="QSERV_URL", default=None,
              help="Run DBA and ingest commands through a running `qserv serve` at URL (token: QSERV_TOKEN).")
@click.pass_context
def cli(context, home, url):
    """qserv: a spatially sharded catalog database for astronomy."""
    context.obj = {"home": resolve_home(home), "url": url}


@cli.command()
@click.option("--workers", type=int, default=None, help="Number of workers (default 4 for duckdb).")
@click.option("--backend", type=click.Choice(BACKENDS), default="duckdb", show_default=True)
@click.option("--worker-dsn", multiple=True, help="PostgreSQL DSN of a worker (repeat per worker).")
@click.option("--meta-url", default=None, help="SQLAlchemy URL of the central state (default: SQLite in the home).")
@click.pass_context
def init(context, workers, backend, worker_dsn, meta_url):
    """Create an instance."""
    home = init_instance(context.obj["home"], workers, backend, worker_dsn, meta_url)
    click.echo(f"initialised {home}")


@cli.group()
def db():
    """Databases."""


@db.command("create")
@click.argument("name")
@click.option("--chunk-order", type=int, default=None,
              help="HEALPix order of chunks (default 7, or chosen by --expected-rows).")
@click.option("--expected-rows", type=int, default=None,
              help="Rows expected in the largest table: chooses the chunk order (not with --chunk-order).")
@click.option("--subchunk-order", type=int, default=10, show_default=True, help="HEALPix order of sub-chunks.")
@click.option("--overlap-arcsec", type=float, default=60.0, show_default=True, help="Overlap radius.")
@click.option("--replication", type=int, default=1, show_default=True, help="Workers per chunk.")
@click.pass_context
def db_create(context, name, chunk_order, expected_rows, subchunk_order, overlap_arcsec, replication):
    """Create database NAME."""
    from qserv.sphere.chunking import DEFAULT_CHUNK_ORDER
    from qserv.sphere.sizing import chunk_order_for_rows

    chosen = ""
    if expected_rows is not None:
        if chunk_order is not None:
            raise UserError("give --chunk-order or --expected-rows, not both")
        chunk_order = chunk_order_for_rows(expected_rows)
        chosen = f" (chunk order {chunk_order} for {expected_rows:,} expected rows)"
    elif chunk_order is None:
        chunk_order = DEFAULT_CHUNK_ORDER
    with _engine(context) as engine:
        engine.create_database(name, chunk_order, subchunk_order, overlap_arcsec, replication)
    click.echo(f"created database {name}{chosen}")


def _dropped(report):
    """Echo a DropReport: the tables dropped; physical leftovers on stderr."""
    for leftover in report.leftovers:
        click.echo(f"warning: left on a worker (dropped when the name is created again): {leftover}", err=True)
    click.echo(f"dropped {', '.join(report.dropped) or 'no tables'}")


@db.command("drop")
@click.argument("name")
@click.option("--force", is_flag=True, help="Drop it even though it is published.")
@click.pass_context
def db_drop(context, name, force):
    """Drop database NAME, its tables and their rows on every worker (refused while it is
    published, unless --force)."""
    with _engine(context) as engine:
        report = engine.drop_database(name, force=force)
    _dropped(report)
    click.echo(f"dropped database {name}")


@cli.group()
def table():
    """Tables."""


@table.command("drop")
@click.argument("qualified_name", metavar="DB.TABLE")
@click.option("--force", is_flag=True, help="Drop it even though its database is published.")
@click.pass_context
def table_drop(context, qualified_name, force):
    """Drop DB.TABLE and its rows on every worker (refused for a director that other tables name,
    and while its database is published, unless --force)."""
    with _engine(context) as engine:
        _dropped(engine.drop_table(qualified_name, force=force))


@table.command("create")
@click.argument("qualified_name", metavar="DB.TABLE")
@click.option("--felis", "felis_file", help="Felis YAML file, or a bundled lsst-sdm-schemas name (apdb, dp02_dc2).")
@click.option("--felis-table", help="Table in the Felis file (default: the table named like TABLE).")
@click.option("--like", "like_file", type=click.Path(dir_okay=False), help="Take the columns of a Parquet file.")
@click.option("--kind", type=click.Choice(KINDS), required=True)
@click.option("--id", "id_column", help="Director: unique id column.")
@click.option("--ra", "ra_column", help="Director (or child with own position): RA column, degrees.")
@click.option("--dec", "dec_column", help="Director (or child with own position): Dec column, degrees.")
@click.option("--non-unique", is_flag=True, help="Director: allow repeated ids.")
@click.option("--director", help="Child: its director table, DB.TABLE. Match: the first director it relates.")
@click.option("--director-key", help="Child: column holding the director's id. Match: the first director's id.")
@click.option("--director2", help="Match: the second director table it relates, DB.TABLE.")
@click.option("--director2-key", help="Match: column holding the second director's id.")
@click.option("--director-position", is_flag=True,
              help="Child: --ra/--dec hold its director's position (Qserv's raObject/declObject), so rows "
                   "are stored with their director (checked at ingest) and director-key joins are chunk-local.")
@click.option("--time-column", help="Time table: timestamp or MJD column.")
@click.option("--bucket-days", type=float, help="Time table: days per chunk.")
@click.option("--hash-column", help="Hash table: key column.")
@click.option("--buckets", type=int, help="Hash table: number of chunks.")
@click.pass_context
def table_create(context, qualified_name, felis_file, felis_table, like_file, kind, id_column, ra_column,
                 dec_column, non_unique, director, director_key, director_position, director2, director2_key,
                 time_column, bucket_days, hash_column, buckets):
    """Create table DB.TABLE from a Felis schema or a Parquet file."""
    from qserv.meta.admin import TableSpec
    from qserv.meta.catalog import split_table_name

    _, table_name = split_table_name(qualified_name)
    if bool(felis_file) == bool(like_file):
        raise UserError("give exactly one of --felis FILE.yaml and --like FILE.parquet")
    if time_column and hash_column:
        raise UserError("give --time-column or --hash-column, not both")
    felis, description = None, None
    if felis_file:
        from qserv.schema.felis import load_felis_table, sdm_schema_path

        path = felis_file if Path(felis_file).exists() else sdm_schema_path(felis_file)
        loaded = load_felis_table(path, felis_table or table_name)
        columns, felis, description = loaded.columns, loaded.felis, loaded.description
    else:
        from qserv.schema.infer import columns_from_parquet

        columns = columns_from_parquet(like_file)
    spec = TableSpec(kind=kind, columns=columns, id_column=id_column, ra_column=ra_column,
                     dec_column=dec_column, non_unique=non_unique, director=director,
                     director_key=director_key, director_position=director_position, director2=director2,
                     director2_key=director2_key, partition_column=time_column or hash_column,
                     bucket_days=bucket_days, bucket_count=buckets, felis=felis, description=description)
    with _engine(context) as engine:
        engine.create_table(qualified_name, spec)
    click.echo(f"created {kind} table {qualified_name} ({len(columns)} columns)")


@cli.command()
@click.argument("qualified_name", metavar="DB.TABLE")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "format_", type=click.Choice(["parquet", "csv", "tsv", "mysql"]),
              help="Input format (default: from the file extension).")
@click.option("--null", "null", default=None, help="Text meaning NULL in CSV/TSV (e.g. '\\N').")
@click.pass_context
def ingest(context, qualified_name, files, format_, null):
    """Load FILES into DB.TABLE in one transaction (all or nothing)."""
    from qserv.progress import ingest_bar

    progress, committing, close = ingest_bar(qualified_name, files)
    try:
        with _engine(context) as engine:
            transaction_id, results = engine.ingest(qualified_name, list(files), format=format_,
                                                    null=null, progress=progress, committing=committing)
    finally:
        close()
    rows = sum(r.rows for r in results)
    overlap = sum(r.overlap_rows for r in results)
    click.echo(f"transaction {transaction_id} committed: {rows} rows ({overlap} overlap copies) "
               f"into {qualified_name} from {len(results)} file(s)")


@cli.command()
@click.argument("name")
@click.pass_context
def publish(context, name):
    """Make database NAME visible to TAP clients."""
    with _engine(context) as engine:
        engine.publish(name)
    click.echo(f"published {name}")


def _table_summary(context, qualified_name):
    """(Engine.chunks rows, the summary lines) of a table; a sizing warning goes to stderr."""
    from qserv.chunk_summary import size_warning, summarise

    with _engine(context) as engine:
        rows = engine.chunks(qualified_name)
        kind, chunk_order = engine.table_layout(qualified_name)
    summary = summarise(rows)
    warning = size_warning(summary, kind, chunk_order)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    return rows, [f"table {qualified_name} ({kind}, chunk order {chunk_order})", *summary.lines()]


@table.command("stats")
@click.argument("qualified_name", metavar="DB.TABLE")
@click.pass_context
def table_stats(context, qualified_name):
    """Chunks, rows, overlap rows, rows per chunk and per-worker totals of DB.TABLE."""
    for line in _table_summary(context, qualified_name)[1]:
        click.echo(line)


@cli.command()
@click.argument("qualified_name", metavar="DB.TABLE")
@click.option("--all", "all_chunks", is_flag=True, help="Then one line per chunk: chunk, rows, overlap rows, workers.")
@click.option("--map", "map_file", type=click.Path(dir_okay=False),
              help="Write all-sky maps of rows, replicas and workers per chunk to this PNG file.")
@click.pass_context
def chunks(context, qualified_name, all_chunks, map_file):
    """The chunks of DB.TABLE: a summary (as `table stats`), and each chunk with --all."""
    if map_file:
        from qserv.chunk_maps import chunk_map_png

        with _engine(context) as engine:
            Path(map_file).write_bytes(chunk_map_png(engine, qualified_name))
        click.echo(f"wrote {map_file}", err=True)
    rows, lines = _table_summary(context, qualified_name)
    for line in lines:
        click.echo(line)
    if not all_chunks:
        click.echo(f"(one line per chunk: qserv chunks {qualified_name} --all)")
        return
    click.echo("chunk\trows\toverlap_rows\tworkers")
    for chunk, count, overlap, workers in rows:
        click.echo(f"{chunk}\t{count}\t{overlap}\t{','.join(workers)}")


@cli.group(invoke_without_command=True)
@click.pass_context
def settings(context):
    """Instance settings: list them, or `settings set NAME VALUE`."""
    if context.invoked_subcommand is None:
        from qserv.settings import SETTINGS

        with _engine(context) as engine:
            values = engine.settings
        click.echo("name\tvalue\tdefault\thelp")
        for spec in SETTINGS:
            click.echo(f"{spec.name}\t{values[spec.name]}\t{spec.default}\t{spec.help}")


@settings.command("set")
@click.argument("name")
@click.argument("value")
@click.pass_context
def settings_set(context, name, value):
    with _engine(context) as engine:
        stored = engine.set_setting(name, value)
    click.echo(f"{name} = {stored}")


@cli.group()
def transaction():
    """Super-transactions."""


@transaction.command("list")
@click.option("--db", "database", default=None, help="Only this database.")
@click.pass_context
def transaction_list(context, database):
    """One line per transaction: id, database, state, start and end (UTC) and age (time since
    its start; an open one older than the setting transaction_abandon_s is aborted at the next open)."""
    from datetime import timezone

    with _engine(context) as engine:
        rows = engine.list_transactions(database)
    click.echo("id\tdatabase\tstate\tstarted\tended\tage")
    for transaction_id, name, state, started, ended in rows:
        age = time.time() - started.replace(tzinfo=timezone.utc).timestamp()
        click.echo(f"{transaction_id}\t{name}\t{state}\t{started:%Y-%m-%dT%H:%M:%S}\t"
                   f"{ended.strftime('%Y-%m-%dT%H:%M:%S') if ended else ''}\t{_age(age)}")


def _age(seconds):
    """A duration as its two largest units: 45s, 12m05s, 3h07m, 2d04h."""
    seconds = max(0, int(seconds))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days}d{hours % 24:02d}h"
    if hours:
        return f"{hours}h{minutes % 60:02d}m"
    return f"{minutes}m{seconds % 60:02d}s" if minutes else f"{seconds}s"


@transaction.command("abort")
@click.argument("transaction_id", type=int)
@click.pass_context
def transaction_abort(context, transaction_id):
    with _engine(context) as engine:
        engine.transactions.abort(transaction_id)
    click.echo(f"transaction {transaction_id} aborted")


HISTORY_TEXT_WIDTH = 80


def _one_line(text, width=HISTORY_TEXT_WIDTH):
    """Whitespace collapsed to single spaces, cut to ``width`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


@cli.command()
@click.option("--limit", type=int, default=20, show_default=True, help="Number of queries to show.")
@click.option("--status", default=None, help="Only queries with this status: running, ok, error or cancelled.")
@click.option("--user", default=None, help="Only queries of this user.")
@click.option("--export", "export_file", type=click.Path(dir_okay=False),
              help="Write the whole log with fingerprints to FILE as JSON lines (for qserv replay).")
@click.pass_context
def history(context, limit, status, user, export_file):
    """The query log, newest first: id, submitted, status, duration_ms, rows, chunks, user, query."""
    def dash(value):
        return "-" if value is None else str(value)

    if export_file:
        from qserv.replay.sources import export_log

        with _engine(context) as engine:
            click.echo(f"{export_log(engine, export_file)} queries written to {export_file}")
        return

    lines = []
    with _engine(context) as engine:
        for record in engine.recent_queries(limit=limit, status=status, user=user):
            duration = "-" if record.duration_s is None else f"{record.duration_s * 1000:.1f}"
            lines.append(f"{record.id}\t{record.submitted_at:%Y-%m-%dT%H:%M:%S}\t{record.status}\t"
                         f"{duration}\t{dash(record.rows)}\t{dash(record.chunks)}\t{dash(record.user)}\t"
                         f"{_one_line(record.text)}")
            if record.error:
                lines.append(f"    error: {' '.join(record.error.split())}")
    if not lines:
        click.echo("no queries in the log" if status is None and user is None
                   else "no queries in the log match these filters")
        return
    click.echo("id\tsubmitted\tstatus\tduration_ms\trows\tchunks\tuser\tquery")
    for line in lines:
        click.echo(line)


@cli.group("user")
def user_group():
    """Users of the TAP service (their tokens: `qserv token`)."""


@user_group.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="The user may see and manage every user's TAP jobs.")
@click.pass_context
def user_add(context, name, admin):
    """Add user NAME."""
    with _engine(context) as engine:
        engine.users.add(name, is_admin=admin)
    click.echo(f"added {'admin' if admin else 'user'} {name}")


@user_group.command("list")
@click.pass_context
def user_list(context):
    """Users: name, admin (yes/no), active tokens."""
    with _engine(context) as engine:
        rows = [(u.name, "yes" if u.is_admin else "no", u.active_tokens) for u in engine.users.list()]
    if not rows:
        click.echo("no users")
        return
    click.echo("name\tadmin\ttokens")
    for name, admin, tokens in rows:
        click.echo(f"{name}\t{admin}\t{tokens}")


@user_group.command("remove")
@click.argument("name")
@click.pass_context
def user_remove(context, name):
    """Remove user NAME and its tokens (its TAP jobs stay until they expire)."""
    with _engine(context) as engine:
        count = engine.users.remove(name)
    click.echo(f"removed user {name} and {count} token(s)")


@cli.group("token")
def token_group():
    """Bearer tokens of TAP users (only their SHA-256 is stored)."""


@token_group.command("create")
@click.argument("user_name", metavar="USER")
@click.option("--label", default=None, help="A note on what the token is for.")
@click.pass_context
def token_create(context, user_name, label):
    """Create a token for USER and print it (only it, on stdout: it is not shown again)."""
    with _engine(context) as engine:
        token = engine.users.create_token(user_name, label=label)
    click.echo(token)


@token_group.command("revoke")
@click.argument("user_name", metavar="USER")
@click.pass_context
def token_revoke(context, user_name):
    """Revoke every token of USER."""
    with _engine(context) as engine:
        count = engine.users.revoke_tokens(user_name)
    click.echo(f"revoked {count} token(s) of {user_name}")


def _query_options(function):
    function = click.option("--db", help="Database of unqualified table names (as USE DB).")(function)
    function = click.option("--lang", type=click.Choice(["adql", "qserv"]), default="adql", show_default=True,
                            help="Query language: ADQL 2.1 or Qserv SQL (MySQL flavour).")(function)
    return click.argument("text", metavar="QUERY")(function)


@cli.command()
@_query_options
@click.option("--format", "format_", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write the result to FILE (default: stdout).")
@click.option("--timeout", "timeout_s", type=float, default=None, help="Seconds before the query is cancelled.")
@click.option("--timing", is_flag=True, help="Print rows and elapsed time on stderr.")
@click.option("--as-of", "as_of", default=None, help="Read the rows of snapshot NAME (qserv snapshot tag).")
@click.pass_context
def query(context, text, db, lang, format_, out, timeout_s, timing, as_of):
    """Run QUERY and write its result."""
    from qserv.output import render
    from qserv.progress import query_bar

    started = time.monotonic()
    progress, close = query_bar()
    try:
        with _engine(context) as engine:
            result = engine.query(text, lang=lang, db=db, user=getpass.getuser(), timeout_s=timeout_s,
                                  progress=progress, as_of=as_of)
    finally:
        close()
    data = render(result, format_)
    if out:
        Path(out).write_bytes(data)
    elif format_ in BINARY_FORMATS and sys.stdout.isatty():
        raise UserError(f"--format {format_} is binary: write it with --out FILE")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if timing:
        click.echo(f"{result.num_rows} rows in {time.monotonic() - started:.3f} s", err=True)


@cli.command()
@_query_options
@click.pass_context
def explain(context, text, db, lang):
    """Show how QUERY runs: the chunks it reads, the worker SQL and the merge SQL."""
    with _engine(context) as engine:
        click.echo(engine.explain(text, lang=lang, db=db))


@cli.command()
@click.option("--keep", is_flag=True, help="Build the demo in --home and keep it (default: a temporary home).")
@click.pass_context
def demo(context, keep):
    """Load the bundled Gaia DR3 and Hipparcos catalogs and run example queries."""
    from qserv.demo import run_demo

    run_demo(context.obj["home"] if keep else None, echo=click.echo)


@cli.command("sample-files")
@click.argument("folder", type=click.Path(file_okay=False), default=".")
def sample_files(folder):
    """Write the quick start's input files (from the bundled Gaia DR3 stars) into FOLDER."""
    from qserv.sample_files import write_sample_files

    for path in write_sample_files(folder):
        click.echo(f"wrote {path}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True, help="TCP port.")
@click.option("--threads", type=int, default=16, show_default=True, help="Requests served at the same time.")
@click.option("--processes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Serving processes sharing the port, each with --threads (above 1: PostgreSQL workers only).")
@click.pass_context
def serve(context, host, port, threads, processes):
    """Serve TAP 1.1 at http://HOST:PORT/tap (waitress, a production WSGI server)."""
    from qserv.api.serving import listen, serve as serve_tap

    try:
        sock = listen(host, port)
    except OSError as error:
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    click.echo(f"qserv TAP service at http://{host}:{sock.getsockname()[1]}/tap, {processes} process(es) "
               f"(Ctrl-C stops it)", err=True)
    with sock:
        status = serve_tap(context.obj["home"], sock, threads, processes)
    if status:
        sys.exit(status)


@cli.group("worker")
def worker_group():
    """Workers: add, list, disable, enable, drain, remove."""


@worker_group.command("add")
@click.argument("name")
@click.option("--backend", type=click.Choice(["duckdb"]), default=None,
              help="An embedded DuckDB worker (a file under the home's workers/).")
@click.option("--dsn", default=None, help="A PostgreSQL worker: its DSN or URL (checked before it is added).")
@click.pass_context
def worker_add(context, name, backend, dsn):
    """Add worker NAME (give --backend duckdb or --dsn DSN)."""
    if (backend is None) == (dsn is None):
        raise UserError("give --backend duckdb or --dsn DSN (one of them)")
    with _engine(context) as engine:
        engine.add_worker(name, "postgres" if dsn else "duckdb", dsn)
    click.echo(f"added worker {name}")


@worker_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of objects.")
@click.pass_context
def worker_list(context, as_json):
    """Workers: state, chunk replicas, committed rows, bytes on the worker, error if unreachable."""
    import dataclasses
    import json

    with _engine(context) as engine:
        workers = engine.list_workers()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(w) for w in workers], indent=2))
        return
    click.echo("name\tbackend\tstate\tchunks\trows\tbytes\tlocation\terror")
    for w in workers:
        click.echo(f"{w.name}\t{w.backend}\t{w.state}\t{w.chunks}\t{w.rows}\t"
                   f"{'' if w.bytes is None else w.bytes}\t{w.location}\t{w.error or ''}")


def _worker_state_command(state, verb, help_text):
    @click.argument("name")
    @click.pass_context
    def command(context, name):
        with _engine(context) as engine:
            engine.set_worker_state(name, state)
        click.echo(f"{verb} worker {name}")

    command.__doc__ = help_text
    worker_group.command(verb.rstrip("d"))(command)


_worker_state_command("disabled", "disabled", "Disable worker NAME: no queries, no new chunks (its replicas stay).")
_worker_state_command("active", "enabled", "Enable worker NAME again (also a drained one).")


@worker_group.command("drain")
@click.argument("name")
@click.pass_context
def worker_drain(context, name):
    """Move every chunk of worker NAME to other active workers, then mark it drained."""
    with _engine(context) as engine:
        steps = engine.drain_worker(name)
    click.echo(f"drained worker {name} ({steps} chunk replica(s) moved or dropped)")


@worker_group.command("remove")
@click.argument("name")
@click.pass_context
def worker_remove(context, name):
    """Remove worker NAME (refused while it holds the only replica of a chunk). Its data stays."""
    with _engine(context) as engine:
        engine.remove_worker(name)
    click.echo(f"removed worker {name}")


@cli.command()
@click.argument("database")
@click.option("--level", type=int, required=True, help="Replicas per chunk (1 to the active workers).")
@click.pass_context
def replicate(context, database, level):
    """Give every chunk of DATABASE --level replicas (adds or drops replicas)."""
    with _engine(context) as engine:
        steps = engine.replicate(database, level)
    click.echo(f"database {database}: replication {level} ({steps} replica(s) added or dropped)")


@cli.command()
@click.argument("database")
@click.pass_context
def rebalance(context, database):
    """Even the chunks and rows of DATABASE over the active workers (few moves)."""
    with _engine(context) as engine:
        steps = engine.rebalance(database)
    click.echo(f"database {database}: {steps} chunk(s) moved")


@cli.command()
@click.argument("database")
@click.option("--repair", is_flag=True, help="Rebuild each bad replica from a good one.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_context
def verify(context, database, repair, as_json):
    """Check every chunk replica of DATABASE (rows and a checksum of its visible rows); exit 1 when
    a replica disagrees with the others and was not repaired."""
    import dataclasses
    import json

    from qserv.errors import ServiceError

    with _engine(context) as engine:
        report = engine.verify(database, repair=repair)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(report), indent=2))
    else:
        click.echo(f"database {database}: {report.chunks} chunk(s), {report.replicas} replica(s), "
                   f"{report.copies} replicated table cop(ies), {len(report.problems)} problem(s)")
        for p in report.problems:
            where = f"table {p.table}" if p.table else f"chunk {p.chunk}"
            click.echo(f"{where}\tworker {p.worker}\t{p.status}\trows {'' if p.rows is None else p.rows}"
                       f"{chr(9) + 'repaired' if p.repaired else ''}")
    left = [p for p in report.problems if not p.repaired]
    if left:
        raise ServiceError(f"{len(left)} replica(s) of {database} are bad"
                           + ("" if repair else " (qserv verify --repair rebuilds them)"))


from qserv.cli_index import index_group  # noqa: E402  (it opens engines with _engine above)

cli.add_command(index_group)

from qserv.payloads.apdb.cli import apdb_group  # noqa: E402  (`qserv apdb ...`; association adds `associate`)

cli.add_command(apdb_group)

from qserv.payloads.alerts.cli import alerts_group  # noqa: E402  (`qserv alerts ...`)

cli.add_command(alerts_group)

from qserv.payloads.efd.cli import efd_group  # noqa: E402  (`qserv efd ...`)

cli.add_command(efd_group)

from qserv.payloads.backbone.cli import backbone_group  # noqa: E402  (`qserv backbone ...`)

cli.add_command(backbone_group)

from qserv.replay.cli import replay_command, snapshot_group  # noqa: E402  (`qserv replay`, `qserv snapshot`)

cli.add_command(snapshot_group)
cli.add_command(replay_command)


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="qserv", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except QservError as exc:
        if os.environ.get("QSERV_DEBUG"):
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug or an environment failure we did not anticipate
        if os.environ.get("QSERV_DEBUG"):
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc} (QSERV_DEBUG=1 shows the traceback)", err=True)
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    main()
