"""`qserv apdb create|store|read|stats`: the Alert Production database of a database of the
instance (qserv.payloads.apdb)."""

from pathlib import Path

import click

from qserv.errors import UserError

DATABASE = click.option("--db", "database", default="apdb", show_default=True, help="Database of the APDB.")
TABLES = {"objects": "DiaObject", "sources": "DiaSource", "forced-sources": "DiaForcedSource"}


def _engine(context):
    from qserv.cli import _engine as open_engine

    return open_engine(context)


def _time(mjd_tai):
    from astropy.time import Time

    return Time(mjd_tai, format="mjd", scale="tai")


def _read_parquet(path):
    import pyarrow.parquet as pq

    if path is None:
        return None
    if not Path(path).is_file():
        raise UserError(f"no such file: {path}")
    return pq.read_table(path)


@click.group("apdb")
def apdb_group():
    """Alert Production database: DiaObjects, DiaSources, DiaForcedSources per visit."""


@apdb_group.command("create")
@DATABASE
@click.option("--schema", "schema_file", default="apdb", show_default=True,
              help="Felis file, or a bundled lsst-sdm-schemas name.")
@click.option("--months", type=int, default=12, show_default=True, help="DiaSource history read, in months.")
@click.option("--forced-months", type=int, default=12, show_default=True,
              help="DiaForcedSource history read, in months.")
@click.option("--replica", is_flag=True, help="Tag stored rows with replica chunks (for a PPDB).")
@click.option("--chunk-order", type=int, default=7, show_default=True)
@click.pass_context
def apdb_create(context, database, schema_file, months, forced_months, replica, chunk_order):
    """Create an APDB in a new database DB."""
    from qserv.payloads.apdb import Apdb, ApdbSettings

    settings = ApdbSettings(schema_file=schema_file, read_sources_months=months,
                            read_forced_sources_months=forced_months, enable_replica=replica)
    with _engine(context) as engine:
        apdb = Apdb.create(engine, database, settings, chunk_order=chunk_order)
    click.echo(f"created APDB {database} ({', '.join(apdb.tables)})")


@apdb_group.command("store")
@DATABASE
@click.option("--visit-time", "visit_mjd", type=float, required=True, help="Visit time, MJD TAI.")
@click.option("--objects", "objects_file", required=True, help="DiaObjects (Parquet).")
@click.option("--sources", "sources_file", help="DiaSources (Parquet).")
@click.option("--forced-sources", "forced_file", help="DiaForcedSources (Parquet).")
@click.pass_context
def apdb_store(context, database, visit_mjd, objects_file, sources_file, forced_file):
    """Store one visit in one transaction (a retry of the same store does nothing)."""
    from qserv.payloads.apdb import Apdb

    rows = [_read_parquet(path) for path in (objects_file, sources_file, forced_file)]
    with _engine(context) as engine:
        transaction = Apdb.open(engine, database).store(_time(visit_mjd), *rows)
    counts = ", ".join(f"{r.num_rows} {name}" for r, name in zip(rows, TABLES.values()) if r is not None)
    click.echo(f"already stored: nothing done ({counts})" if transaction is None
               else f"transaction {transaction} committed: {counts}")


@apdb_group.command("read")
@click.argument("what", type=click.Choice(list(TABLES)))
@DATABASE
@click.option("--ra", type=float, required=True, help="Field centre, degrees.")
@click.option("--dec", type=float, required=True, help="Field centre, degrees.")
@click.option("--radius", type=float, required=True, help="Field radius, degrees.")
@click.option("--visit-time", "visit_mjd", type=float, help="Visit time (MJD TAI) of a history read.")
@click.option("--output", "output", help="Write the rows to this Parquet file (default: CSV on stdout).")
@click.pass_context
def apdb_read(context, what, database, ra, dec, radius, visit_mjd, output):
    """Read the current DiaObjects of a field, or its DiaSource / DiaForcedSource history."""
    from qserv.output import render
    from qserv.payloads.apdb import Apdb
    from qserv.sphere import Circle

    if what != "objects" and visit_mjd is None:
        raise UserError(f"reading {what} needs --visit-time (the history window ends there)")
    region = Circle(ra, dec, radius)
    with _engine(context) as engine:
        apdb = Apdb.open(engine, database)
        if what == "objects":
            rows = apdb.get_diaobjects(region)
        else:
            read = apdb.get_diasources if what == "sources" else apdb.get_diaforcedsources
            rows = read(region, None, _time(visit_mjd))
    if rows is None:
        raise UserError(f"the APDB reads no {what} history (its months setting is 0)")
    if output:
        import pyarrow.parquet as pq

        pq.write_table(rows, output)
        click.echo(f"{rows.num_rows} {TABLES[what]} rows written to {output}")
    else:
        click.echo(render(rows, "csv").decode(), nl=False)


@apdb_group.command("stats")
@DATABASE
@click.pass_context
def apdb_stats(context, database):
    """Rows stored per table (every version; DiaObjectLast: the latest), visits stored,
    unassociated DiaObjects."""
    from qserv.payloads.apdb import Apdb
    from qserv.payloads.apdb.tables import LATEST_TABLE, VISIT_DETECTOR_TABLE

    with _engine(context) as engine:
        apdb = Apdb.open(engine, database)
        for name in [*apdb.tables, LATEST_TABLE, VISIT_DETECTOR_TABLE]:
            rows = sum(count for _, count, _, _ in engine.chunks(f"{database}.{name}"))
            click.echo(f"{name}\t{rows}")
        click.echo(f"unassociated DiaObjects\t{apdb.count_unassociated_objects()}")


@apdb_group.command("associate")
@DATABASE
@click.option("--visit", type=int, required=True)
@click.option("--detector", type=int, required=True)
@click.option("--visit-time", "visit_mjd", type=float, required=True, help="Visit time, MJD TAI.")
@click.option("--sources", "sources_file", required=True, help="The visit's DiaSources (Parquet).")
@click.option("--radius", "radius_arcsec", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Association radius, arcsec.")
@click.pass_context
def apdb_associate(context, database, visit, detector, visit_mjd, sources_file, radius_arcsec):
    """Associate one visit/detector's DiaSources with the DiaObjects of its field and store the
    sources and the new DiaObject versions in one transaction (a retry does nothing)."""
    from qserv.payloads.apdb import Apdb
    from qserv.payloads.apdb.visit import associate_visit

    sources = _read_parquet(sources_file)
    with _engine(context) as engine:
        result = associate_visit(Apdb.open(engine, database), visit, detector, sources, _time(visit_mjd),
                                 radius_arcsec)
    if result is None:
        click.echo(f"visit {visit} detector {detector} already stored: nothing done")
    else:
        click.echo(f"{result.sources.num_rows} DiaSources: {len(result.matches.source_index)} matched, "
                   f"{len(result.matches.unmatched_source_index)} new DiaObjects")
