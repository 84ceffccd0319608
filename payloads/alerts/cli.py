"""`qserv alerts create|publish|import|export|get|search|schema`: the alert archive of a database
of the instance (qserv.payloads.alerts)."""

import sys

import click

FORMAT = click.option("--format", "output_format", type=click.Choice(["json", "avro"]), default="json",
                      show_default=True, help="json: one decoded packet per line; avro: wire format / Avro file.")


def _engine(context):
    from qserv.cli import _engine as open_engine

    return open_engine(context)


def _archive(engine, database):
    from qserv.payloads.alerts import AlertArchive

    return AlertArchive.open(engine, database)


@click.group("alerts")
def alerts_group():
    """Alert packets and the alert archive: by id, object, sky region, time window."""


@alerts_group.command("create")
@click.argument("database")
@click.option("--chunk-order", type=int, default=7, show_default=True)
@click.pass_context
def alerts_create(context, database, chunk_order):
    """Create the archive tables (Alert, AlertSchema) in a new database DATABASE."""
    from qserv.payloads.alerts import AlertArchive

    with _engine(context) as engine:
        AlertArchive.create(engine, database, chunk_order=chunk_order)
    click.echo(f"created alert archive {database}")


@alerts_group.command("publish")
@click.argument("database")
@click.option("--apdb", "apdb_database", default="apdb", show_default=True, help="Database of the APDB.")
@click.option("--visit", type=int, required=True)
@click.option("--detector", type=int, help="One detector (default: all of the visit).")
@click.option("--replace", is_flag=True, help="Replace alerts archived already (default: skip them).")
@click.pass_context
def alerts_publish(context, database, apdb_database, visit, detector, replace):
    """Build the alert packets of a visit from the APDB and archive them (one transaction)."""
    from qserv.payloads.alerts.build import visit_packets
    from qserv.payloads.apdb import Apdb

    with _engine(context) as engine:
        columns, packets, schema = visit_packets(Apdb.open(engine, apdb_database), visit, detector)
        result = _archive(engine, database).store_columns(columns, packets, {schema.schema_id: schema},
                                                          replace=replace)
    click.echo(_summary(result))


@alerts_group.command("import")
@click.argument("database")
@click.argument("files", nargs=-1, required=True)
@click.option("--replace", is_flag=True, help="Replace alerts archived already (default: skip them).")
@click.pass_context
def alerts_import(context, database, files, replace):
    """Archive the alerts of Avro container FILES (one transaction; idempotent by diaSourceId)."""
    from qserv.payloads.alerts.files import import_files

    with _engine(context) as engine:
        result = import_files(_archive(engine, database), files, replace=replace)
    click.echo(_summary(result))


@alerts_group.command("export")
@click.argument("database")
@click.option("--visit", type=int, required=True)
@click.argument("file")
@click.pass_context
def alerts_export(context, database, visit, file):
    """Write the archived alerts of a visit to FILE (Avro container file)."""
    from qserv.payloads.alerts.files import export_visit

    with _engine(context) as engine, open(file, "wb") as output:
        count = export_visit(_archive(engine, database), visit, output)
    click.echo(f"{count} alerts of visit {visit} written to {file}")


@alerts_group.command("get")
@click.argument("database")
@click.argument("alert_id", type=int)
@click.option("--format", "output_format", type=click.Choice(["avro", "json"]), default="avro", show_default=True,
              help="avro: the raw wire-format packet on stdout; json: the decoded packet.")
@click.pass_context
def alerts_get(context, database, alert_id, output_format):
    """One alert by its id (diaSourceId)."""
    from qserv.payloads.alerts.wire import record_json

    with _engine(context) as engine:
        archive = _archive(engine, database)
        packet = archive.get(alert_id)
        if output_format == "avro":
            sys.stdout.buffer.write(packet)
        else:
            click.echo(record_json(archive.decode(packet)))


@alerts_group.command("search")
@click.argument("database")
@click.option("--cone", help="RA,DEC,RADIUS_DEG (degrees).")
@click.option("--polygon", help="RA1,DEC1,RA2,DEC2,... (degrees, at least 3 corners).")
@click.option("--object", "object_id", type=int, help="diaObjectId.")
@click.option("--visit", type=int)
@click.option("--band", help="u, g, r, i, z or y.")
@click.option("--since", help="Earliest source midpoint: an MJD TAI or an ISO time (UTC).")
@click.option("--until", help="Source midpoints before this: an MJD TAI or an ISO time (UTC).")
@click.option("--cut", "cuts", multiple=True, help="COLUMN:LOW:HIGH on a searchable column (repeatable).")
@click.option("--limit", type=click.IntRange(min=0))
@FORMAT
@click.pass_context
def alerts_search(context, database, cone, polygon, object_id, visit, band, since, until, cuts, limit,
                  output_format):
    """Alerts in a cone or polygon, of an object or visit, in a time window, within field cuts."""
    from qserv.payloads.alerts import search as searches
    from qserv.payloads.alerts.files import write_packets
    from qserv.payloads.alerts.wire import record_json

    search = searches.Search(
        cone=searches.parse_cone(cone) if cone else None, polygon=searches.parse_polygon(polygon) if polygon else None,
        since_mjd_tai=searches.parse_time(since) if since else None,
        until_mjd_tai=searches.parse_time(until) if until else None, object_id=object_id, visit=visit, band=band,
        cuts=dict(searches.parse_cut(c) for c in cuts), limit=limit)
    with _engine(context) as engine:
        archive = _archive(engine, database)
        packets = archive.search(search)
        if output_format == "avro":
            write_packets(archive, packets, sys.stdout.buffer, "the search")
        else:
            for packet in packets:
                click.echo(record_json(archive.decode(packet)))


@alerts_group.command("schema")
@click.argument("database")
@click.argument("schema_id", type=int, required=False)
@click.pass_context
def alerts_schema(context, database, schema_id):
    """The Avro schema SCHEMA_ID (JSON; default: the latest of lsst-alert-packet)."""
    from qserv.payloads.alerts.wire import latest_schema

    with _engine(context) as engine:
        schema = _archive(engine, database).schema(schema_id) if schema_id is not None else latest_schema()
    click.echo(schema.text)


def _summary(result):
    text = f"{result.stored} alerts archived, {result.skipped} already archived (skipped)"
    if result.replaced:
        text += f", {result.replaced} replaced"
    return text + (f" (transaction {result.transaction_id})" if result.transaction_id is not None else "")
