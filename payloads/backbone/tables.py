"""The registry's tables on the core (pure: TableSpecs only).

Small, rarely written tables (dataset types, collections, sites, rules) are replicated; the big
ones are hash-partitioned: datasets on ``lookup_key`` (a digest of dataset type and data id, see
``model.lookup_key``: a find by a full data id reads one of 64 buckets), artifacts, replicas and
provenance on the dataset id, TAGGED and CALIBRATION memberships on the
collection; dataset footprints are a director table
(``region``: one row per dataset with sky coverage, at its centre), so sky searches use the
core's chunking. Every table is append-only: a later ``version`` (the id of the ingest transaction
that wrote the row) supersedes an earlier row of the same key, and ``removed`` rows end a
membership (see ``collections.current``)."""

from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column

from qserv.payloads.backbone.model import DIMENSIONS

HASH_BUCKETS = 16
DATASET_BUCKETS = 64  # the dataset table: a find by full data id reads one of them


def _c(name, datatype, nullable=True, description=None, unit=None, ucd=None):
    return Column(name, datatype, nullable=nullable, description=description, unit=unit, ucd=ucd)


VERSION = _c("version", "long", False, "id of the transaction that wrote the row")
REMOVED = _c("removed", "boolean", True, "true: this row ends the membership of its key")


def _replicated(columns, description):
    return TableSpec(kind="replicated", columns=[*columns, VERSION], description=description)


def _hash(columns, column, description, buckets=HASH_BUCKETS):
    return TableSpec(kind="hash", columns=columns, partition_column=column, bucket_count=buckets,
                     description=description)


def dataset_columns():
    return [_c("id", "string", False, "UUID5 of dataset type, data id and run"),
            _c("dataset_type", "string", False), _c("run", "string", False),
            _c("data_id_key", "string", False, "canonical JSON of the data id"),
            _c("lookup_key", "string", False, "partition key: digest of dataset type and data id"),
            *[_c(name, datatype) for name, datatype in DIMENSIONS.items()],
            _c("t_min", "double", unit="d", description="start of the observation (MJD)"),
            _c("t_max", "double", unit="d", description="end of the observation (MJD)"),
            _c("ingest_mjd", "double", False, unit="d"), _c("task", "string")]


def table_specs():
    """name -> TableSpec of every registry table."""
    membership = [_c("collection", "string", False), _c("dataset_id", "string", False),
                  _c("dataset_type", "string", False), _c("data_id_key", "string", False)]
    return {
        "dataset_type": _replicated([_c("name", "string", False), _c("storage_class", "string", False),
                                     _c("dimensions", "string", False, "comma-separated")],
                                    "dataset types"),
        "collection": _replicated([_c("name", "string", False), _c("type", "string", False),
                                   _c("children", "string", True, "CHAINED: comma-separated, in order")],
                                  "collections (RUN, TAGGED, CHAINED, CALIBRATION)"),
        "site": _replicated([_c("name", "string", False), _c("description", "string")], "storage sites"),
        "rule": _replicated([_c("name", "string", False), _c("dataset_type_pattern", "string", False),
                             _c("collection_pattern", "string", False), _c("copies", "int", False),
                             _c("site_pattern", "string", False), REMOVED],
                            "replication rules: N copies at sites matching a pattern"),
        "region_bound": _replicated([_c("max_radius_deg", "double", False)],
                                    "the largest dataset footprint radius of each registration batch"),
        "dataset": _hash(dataset_columns(), "lookup_key", "datasets", DATASET_BUCKETS),
        "artifact": _hash([_c("dataset_id", "string", False), _c("uri", "string", False),
                           _c("size", "long"), _c("checksum", "string"), _c("format", "string")],
                          "dataset_id", "files of datasets"),
        "replica": _hash([_c("dataset_id", "string", False), _c("site", "string", False),
                          _c("state", "string", False, "ok, missing or corrupt"),
                          _c("verified_mjd", "double", unit="d"), VERSION],
                         "dataset_id", "copies of artifacts at sites (the latest version wins)"),
        "tag": _hash([*membership, REMOVED, VERSION], "collection", "TAGGED collection memberships"),
        "calib": _hash([*membership, _c("t_begin", "double", unit="d"), _c("t_end", "double", unit="d"),
                        REMOVED, VERSION], "collection", "CALIBRATION certifications [t_begin, t_end)"),
        "provenance": _hash([_c("output_id", "string", False), _c("input_id", "string", False),
                             _c("task", "string")], "output_id", "inputs of each output dataset"),
        "region": TableSpec(kind="director", columns=[
            _c("id", "string", False), _c("ra", "double", False, unit="deg", ucd="pos.eq.ra"),
            _c("dec", "double", False, unit="deg", ucd="pos.eq.dec"),
            _c("radius_deg", "double", False, unit="deg"), _c("dataset_type", "string", False),
            _c("run", "string", False)], id_column="id", ra_column="ra", dec_column="dec",
            description="sky footprints of datasets (circle around the centre)"),
    }
