"""The one table of admin routes: the blueprint is built from it and so is the OpenAPI document
(api/admin/openapi.py), so the two cannot drift apart."""

from dataclasses import dataclass, field

from qserv.api.admin import views_catalog as catalog, views_ingest as ingest, views_ops as ops


@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # Flask rule under /admin/v1
    view: object
    summary: str
    tag: str
    body: dict = field(default_factory=dict)  # JSON field -> (JSON type, required, description)
    query: dict = field(default_factory=dict)  # query parameter -> description
    status: int = 200  # 201 created, 202 a job was queued
    produces: str = "application/json"
    multipart: bool = False


DATABASE = {"name": ("string", True, "database name"),
            "chunk_order": ("integer", False, "HEALPix order of chunks (default 7)"),
            "subchunk_order": ("integer", False, "HEALPix order of sub-chunks (default 10)"),
            "overlap_arcsec": ("number", False, "overlap radius (default 60)"),
            "replication": ("integer", False, "replicas per chunk (default 1)")}
TABLE_HELP = {"kind": "director, child, replicated, time or hash",
              "columns": "objects: name, datatype, nullable, length, unit, ucd, description",
              "director": "child: its director DB.TABLE", "felis": "the table's Felis description"}
TABLE = {"table": ("string", True, "DB.TABLE"),
         **{name: (kind, name in ("kind", "columns"), TABLE_HELP.get(name, name.replace("_", " ")))
            for name, kind in catalog.SPEC_TYPES.items()}}  # the fields of qserv.meta.admin.TableSpec
CONTRIBUTION = {"table": ("string", True, "table name in the transaction's database"),
                "path": ("string", False, "a file on the server (JSON body), else upload 'file' (multipart), "
                                          "or send the file as an application/octet-stream body with these "
                                          "fields and 'filename' in the query string"),
                "format": ("string", False, "parquet, csv, tsv or mysql (default: from the extension)"),
                "null": ("string", False, "text meaning NULL in CSV/TSV"),
                "key": ("string", False, "contribution key (a retry with the same key is not loaded twice)")}

ROUTES = [
    Route("GET", "/databases", catalog.list_databases, "List databases", "databases"),
    Route("POST", "/databases", catalog.create_database, "Create a database", "databases", DATABASE, status=201),
    Route("DELETE", "/databases/<database>", catalog.drop_database,
          "Drop a database, its tables and their rows on every worker", "databases",
          query={"force": "true: drop it even though it is published"}),
    Route("DELETE", "/databases/<database>/tables/<table>", catalog.drop_table,
          "Drop a table and its rows on every worker", "tables",
          query={"force": "true: drop it even though its database is published"}),
    Route("POST", "/databases/<database>/publish", catalog.publish_database, "Publish a database to TAP",
          "databases"),
    Route("POST", "/databases/<database>/replicate", ops.replicate, "Set the replication level (job)", "replicas",
          {"level": ("integer", True, "replicas per chunk")}, status=202),
    Route("POST", "/databases/<database>/rebalance", ops.rebalance, "Even chunks over workers (job)", "replicas",
          status=202),
    Route("POST", "/databases/<database>/verify", ops.verify, "Verify every chunk replica (job)", "replicas",
          {"repair": ("boolean", False, "rebuild bad replicas from good ones")}, status=202),
    Route("POST", "/tables", catalog.create_table, "Create a table from columns JSON", "tables", TABLE, status=201),
    Route("GET", "/tables/<table>/stats", catalog.table_stats, "Rows, chunks and per-worker totals", "tables"),
    Route("GET", "/tables/<table>/chunks", catalog.table_chunks, "Every chunk: rows, overlap rows, workers",
          "tables"),
    Route("GET", "/tables/<table>/map.png", catalog.table_map, "All-sky maps of rows and replicas per chunk",
          "tables", produces="image/png"),
    Route("GET", "/tables/<table>/indexes", catalog.list_indexes, "Indexed columns and the workers with them",
          "indexes"),
    Route("POST", "/tables/<table>/indexes", catalog.create_index, "Index a column on every worker", "indexes",
          {"column": ("string", True, "column name")}, status=201),
    Route("DELETE", "/tables/<table>/indexes/<column>", catalog.drop_index, "Drop a column's index", "indexes"),
    Route("GET", "/transactions", ingest.list_transactions, "List transactions", "ingest",
          query={"database": "only this database"}),
    Route("POST", "/transactions", ingest.begin_transaction, "Begin a transaction", "ingest",
          {"database": ("string", True, "database name")}, status=201),
    Route("GET", "/transactions/<int:transaction_id>", ingest.get_transaction_status,
          "A transaction and its contributions", "ingest"),
    Route("POST", "/transactions/<int:transaction_id>/contributions", ingest.contribute,
          "Load a file (upload or server path) into the transaction", "ingest", CONTRIBUTION, status=201,
          query={name: f"raw body: {text}" for name, (_, _, text) in CONTRIBUTION.items() if name != "path"}
          | {"filename": "raw body: the file's name (its extension gives the format)"}, multipart=True),
    Route("POST", "/transactions/<int:transaction_id>/commit", ingest.commit_transaction,
          "Commit a transaction (job)", "ingest", status=202),
    Route("POST", "/transactions/<int:transaction_id>/abort", ingest.abort_transaction, "Abort a transaction",
          "ingest"),
    Route("GET", "/workers", ops.list_workers, "List workers", "workers"),
    Route("POST", "/workers", ops.add_worker, "Add a worker", "workers",
          {"name": ("string", True, "worker name"), "backend": ("string", False, "duckdb"),
           "dsn": ("string", False, "PostgreSQL DSN")}, status=201),
    Route("POST", "/workers/<name>/disable", ops.disable_worker, "Disable a worker", "workers"),
    Route("POST", "/workers/<name>/enable", ops.enable_worker, "Enable a worker", "workers"),
    Route("POST", "/workers/<name>/drain", ops.drain_worker, "Move every chunk off a worker (job)", "workers",
          status=202),
    Route("DELETE", "/workers/<name>", ops.remove_worker, "Remove a worker", "workers"),
    Route("GET", "/jobs", ops.list_jobs, "The newest jobs", "jobs"),
    Route("GET", "/jobs/<int:job_id>", ops.get_job, "A job: state, done of total, errors, result", "jobs"),
]


def endpoint(route):
    """The Flask endpoint name of a route (its view's name)."""
    return route.view.__name__
