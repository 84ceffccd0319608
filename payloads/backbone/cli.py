"""`qserv backbone ...`: the Data Backbone registry of a database of the instance
(qserv.payloads.backbone). Found datasets are printed as one JSON object per line."""

import json
from pathlib import Path

import click

from qserv.errors import UserError


def _open(context, database):
    from qserv.cli import _engine
    from qserv.payloads.backbone import Backbone

    engine = _engine(context)
    return engine, Backbone.open(engine, database)


def _names(text):
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _emit(rows):
    for row in rows:
        click.echo(json.dumps(row, sort_keys=True))


def read_rows(path):
    """Input rows of a JSON lines or Parquet file, as dicts."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows = []
    with path.open() as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise UserError(f"{path}:{number}: not JSON ({error.msg})") from None
                if not isinstance(rows[-1], dict):
                    raise UserError(f"{path}:{number}: expected a JSON object")
    return rows


@click.group("backbone")
def backbone_group():
    """Data Backbone registry: dataset types, collections, datasets, replicas, ObsCore."""


@backbone_group.command("create")
@click.argument("database")
@click.option("--chunk-order", type=int, default=7, show_default=True)
@click.pass_context
def create(context, database, chunk_order):
    """Create a registry in a new database DB (and ivoa.ObsCore if missing)."""
    from qserv.cli import _engine
    from qserv.payloads.backbone import Backbone

    with _engine(context) as engine:
        Backbone.create(engine, database, chunk_order=chunk_order)
    click.echo(f"created Data Backbone registry {database}")


@backbone_group.group("dataset-type")
def dataset_type_group():
    """Dataset types."""


@dataset_type_group.command("add")
@click.argument("database")
@click.argument("name")
@click.option("--dimensions", required=True, help="Comma-separated dimensions, e.g. instrument,visit,detector.")
@click.option("--storage-class", default="StructuredDataDict", show_default=True)
@click.pass_context
def dataset_type_add(context, database, name, dimensions, storage_class):
    """Define dataset type NAME (again with the same definition: no change)."""
    engine, backbone = _open(context, database)
    with engine:
        added = backbone.add_dataset_type(name, _names(dimensions), storage_class)
    click.echo(f"{'added' if added else 'unchanged'} dataset type {name}")


@backbone_group.group("collection")
def collection_group():
    """Collections: run, tagged, chained, calibration."""


@collection_group.command("add")
@click.argument("database")
@click.argument("name")
@click.option("--type", "kind", required=True, type=click.Choice(["run", "tagged", "chained", "calibration"],
                                                               case_sensitive=False))
@click.option("--children", default=None, help="Chained: the collections searched, in order (comma-separated).")
@click.pass_context
def collection_add(context, database, name, kind, children):
    """Define collection NAME (a chained one may be given new children)."""
    engine, backbone = _open(context, database)
    with engine:
        added = backbone.add_collection(name, kind, _names(children))
    click.echo(f"{'defined' if added else 'unchanged'} {kind.lower()} collection {name}")


@backbone_group.command("register")
@click.argument("database")
@click.argument("file")
@click.option("--run", required=True, help="RUN collection of the datasets (created if missing).")
@click.option("--site", default="local", show_default=True, help="Site of the one replica recorded.")
@click.option("--batch-rows", type=int, default=100_000, show_default=True, help="Datasets per transaction.")
@click.pass_context
def register(context, database, file, run, site, batch_rows):
    """Register the datasets of FILE (JSON lines or Parquet, one dataset per row)."""
    rows = read_rows(file)
    engine, backbone = _open(context, database)
    with engine:
        result = backbone.register(run, rows, site=site, batch_rows=batch_rows)
    click.echo(f"registered {result['registered']} datasets in {run} ({result['existing']} already registered)")


@backbone_group.command("find")
@click.argument("database")
@click.argument("dataset_type")
@click.option("--collections", required=True, help="Search path, comma-separated (chains are expanded).")
@click.option("--where", default=None, help='Data id expression, e.g. "visit = 12 AND detector = 3".')
@click.option("--time", "time_mjd", type=float, default=None, help="Validity time (MJD) for calibration collections.")
@click.pass_context
def find_command(context, database, dataset_type, collections, where, time_mjd):
    """Find datasets by type and data id: the first match along the search path, per data id."""
    from qserv.payloads.backbone import find

    engine, backbone = _open(context, database)
    with engine:
        _emit(find(backbone, dataset_type, _names(collections), where, time_mjd))


@backbone_group.command("query")
@click.argument("database")
@click.option("--dataset-type", default=None)
@click.option("--collections", default=None)
@click.option("--where", default=None)
@click.option("--time-range", nargs=2, type=float, default=None, help="MJD_MIN MJD_MAX overlapping [t_min, t_max].")
@click.option("--circle", nargs=3, type=float, default=None, help="RA DEC RADIUS (degrees) the footprint overlaps.")
@click.pass_context
def query_command(context, database, dataset_type, collections, where, time_range, circle):
    """Every dataset matching the conditions."""
    from qserv.payloads.backbone import query_datasets

    engine, backbone = _open(context, database)
    with engine:
        _emit(query_datasets(backbone, dataset_type, _names(collections) or None, where, time_range, circle))


@backbone_group.command("associate")
@click.argument("database")
@click.argument("collection")
@click.argument("ids", nargs=-1, required=True)
@click.option("--remove", is_flag=True, help="Disassociate instead.")
@click.pass_context
def associate(context, database, collection, ids, remove):
    """Add (or remove) datasets IDS to a TAGGED collection."""
    engine, backbone = _open(context, database)
    with engine:
        count = (backbone.disassociate if remove else backbone.associate)(collection, ids)
    click.echo(f"{'removed' if remove else 'added'} {count} datasets")


@backbone_group.command("certify")
@click.argument("database")
@click.argument("collection")
@click.argument("ids", nargs=-1, required=True)
@click.option("--begin", type=float, default=None, help="Start of validity (MJD; none: unbounded).")
@click.option("--end", type=float, default=None, help="End of validity, excluded (MJD; none: unbounded).")
@click.option("--remove", is_flag=True, help="Decertify instead (every range of these datasets).")
@click.pass_context
def certify(context, database, collection, ids, begin, end, remove):
    """Certify calibration datasets IDS in a CALIBRATION collection for [begin, end)."""
    engine, backbone = _open(context, database)
    with engine:
        count = backbone.decertify(collection, ids) if remove else backbone.certify(collection, ids, begin, end)
    click.echo(f"{'decertified' if remove else 'certified'} {count} datasets")


@backbone_group.command("lineage")
@click.argument("database")
@click.argument("dataset_id")
@click.option("--down", is_flag=True, help="What was made from it (default: what it was made from).")
@click.pass_context
def lineage_command(context, database, dataset_id, down):
    """Provenance edges reached from DATASET_ID."""
    from qserv.payloads.backbone import lineage

    engine, backbone = _open(context, database)
    with engine:
        _emit(lineage(backbone, dataset_id, "down" if down else "up"))


@backbone_group.command("site")
@click.argument("database")
@click.argument("name")
@click.option("--description", default=None)
@click.pass_context
def site(context, database, name, description):
    """Add storage site NAME."""
    engine, backbone = _open(context, database)
    with engine:
        backbone.add_site(name, description)
    click.echo(f"site {name}")


@backbone_group.command("rule")
@click.argument("database")
@click.argument("name")
@click.option("--dataset-type", "dataset_type_pattern", default="*", show_default=True)
@click.option("--collection", "collection_pattern", default="*", show_default=True)
@click.option("--copies", type=int, required=True)
@click.option("--sites", "site_pattern", default="*", show_default=True)
@click.pass_context
def rule(context, database, name, dataset_type_pattern, collection_pattern, copies, site_pattern):
    """Define (or redefine) replication rule NAME."""
    engine, backbone = _open(context, database)
    with engine:
        backbone.add_rule(name, dataset_type_pattern, collection_pattern, copies, site_pattern)
    click.echo(f"rule {name}")


@backbone_group.command("plan")
@click.argument("database")
@click.pass_context
def plan(context, database):
    """Transfers and deletions the replication rules ask for (JSON lines)."""
    engine, backbone = _open(context, database)
    with engine:
        _emit(backbone.replication_plan())


@backbone_group.command("verify")
@click.argument("database")
@click.argument("dataset_id")
@click.argument("site_name")
@click.argument("state", type=click.Choice(["ok", "missing", "corrupt"]))
@click.pass_context
def verify(context, database, dataset_id, site_name, state):
    """Record a check of the copy of DATASET_ID at SITE_NAME."""
    engine, backbone = _open(context, database)
    with engine:
        backbone.record_verification([(dataset_id, site_name, state)])
    click.echo(f"recorded {state}")
