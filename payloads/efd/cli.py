"""`qserv efd create|ingest|exposures|transform|status`: the transformed EFD in a database of the
instance (qserv.payloads.efd)."""

import click


def _engine(context):
    from qserv.cli import _engine as open_engine

    return open_engine(context)


def _time(value, what):
    from qserv.payloads.efd.times import parse_time

    return None if value is None else parse_time(value, what)


@click.group("efd")
def efd_group():
    """Engineering telemetry (EFD topics) summarised per exposure from a YAML configuration."""


@efd_group.command("create")
@click.argument("database")
@click.pass_context
def efd_create(context, database):
    """Create an EFD in a new database DATABASE (topics, exposures and task tables)."""
    from qserv.payloads.efd import Efd

    with _engine(context) as engine:
        Efd.create(engine, database)
    click.echo(f"created EFD {database}")


@efd_group.command("ingest")
@click.argument("database")
@click.argument("topic")
@click.argument("files", nargs=-1, required=True)
@click.pass_context
def efd_ingest(context, database, topic, files):
    """Load telemetry FILES (Parquet or CSV: a `time` column, TAI timestamp or MJD, the fields and an
    optional salIndex) into TOPIC in one transaction; the topic is created from the first file when
    new; windows the samples fall in are re-opened."""
    from qserv.payloads.efd import Efd

    with _engine(context) as engine:
        efd = Efd.open(engine, database)
        rows = efd.ingest(topic, list(files))
        table = efd.topics()[topic]
    click.echo(f"{rows} rows loaded into {topic} (table {database}.{table})")


@efd_group.command("exposures")
@click.argument("database")
@click.argument("files", nargs=-1, required=True)
@click.pass_context
def efd_exposures(context, database, files):
    """Add exposures from FILES (day_obs, seq_num, exposure_id, obs_start, obs_end; optional band,
    ra, dec); an exposure given again is replaced. Each gets a pending transform window."""
    from qserv.payloads.efd import Efd

    with _engine(context) as engine:
        count = Efd.open(engine, database).load_exposures(list(files))
    click.echo(f"{count} exposures loaded")


@efd_group.command("transform")
@click.argument("database")
@click.option("--config", "config_file", required=True, help="The transform configuration (YAML).")
@click.option("--since", help="Only windows starting at or after this time (MJD or TAI ISO 8601).")
@click.option("--until", help="Only windows starting at or before this time (MJD or TAI ISO 8601).")
@click.option("--rerun", is_flag=True, help="Re-open the windows in [since, until] first (recompute them).")
@click.pass_context
def efd_transform(context, database, config_file, since, until, rerun):
    """Compute the due windows (pending, or failed fewer than 3 times and 1 then 2 minutes ago) into
    DATABASE.exposure_efd and DATABASE.exposure_efd_unpivoted; exit 1 when a window failed (see
    `qserv efd status`)."""
    from qserv.errors import ServiceError
    from qserv.payloads.efd import Efd

    low, high = _time(since, "--since"), _time(until, "--until")
    with _engine(context) as engine:
        efd = Efd.open(engine, database)
        config = efd.load_config(config_file)
        if rerun:
            efd.tasks.reopen(float("-inf") if low is None else low, float("inf") if high is None else high)
        counts = efd.transform(config, low, high)
    click.echo(f"{counts['completed']} windows completed, {counts['failed']} failed")
    if counts["failed"]:
        raise ServiceError(f"{counts['failed']} windows failed (qserv efd status {database} shows why)")


@efd_group.command("status")
@click.argument("database")
@click.option("--all", "show_all", is_flag=True, help="List every window, not only those not completed.")
@click.pass_context
def efd_status(context, database, show_all):
    """Windows per state, then the windows not completed (state, attempts, error)."""
    from qserv.payloads.efd import Efd

    with _engine(context) as engine:
        efd = Efd.open(engine, database)
        counts = efd.tasks.counts()
        rows = efd.tasks.read()
    click.echo(", ".join(f"{state} {count}" for state, count in counts.items()))
    for row in rows.to_pylist():
        if show_all or row["state"] != "completed":
            error = f"\t{row['error']}" if row["error"] else ""
            click.echo(f"{row['exposure_id']}\t{row['window_start_mjd_tai']:.6f}\t{row['state']}\t"
                       f"{row['attempts']}{error}")
