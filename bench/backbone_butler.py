"""The peer of the Data Backbone benchmark: lsst-daf-butler's own registry (SQLite, PostgreSQL) doing
the same registrations and lookups as ``bench.backbone_bench``, registry only (no datastore).

Dimension records first (instrument, physical_filter, day_obs, detectors, visits), then
``insertDatasets`` of calexp data ids (instrument, visit, detector) into RUN ``run/a`` in the same
batch sizes (ids: UUID5 of type, data id and run, ``DatasetIdGenEnum.DATAID_TYPE_RUN``, as ours;
``expand=False``: the data ids are complete and valid, the cheapest path the Butler offers), then
``findDataset`` by data id through c3 -> c2 -> c1 -> [run/b, run/a]. The PostgreSQL registry lives in
a database of its own, created (with btree_gist, which the Butler requires) and dropped here."""

import statistics
import tempfile
import time
import uuid

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
INSTRUMENT, FILTER, DAY_OBS = "LSSTCam", "r_57", 20250101


def _admin(statement):
    import psycopg2

    connection = psycopg2.connect(f"{PG_SERVER}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def _make_butler(root, db_url):
    from lsst.daf.butler import Butler, Config

    config = Config({"registry": {"db": db_url}}) if db_url else None
    Butler.makeRepo(root, config=config)
    return Butler.from_config(root, writeable=True)


def _dimension_records(registry, visits, detectors):
    registry.insertDimensionData("instrument", {"name": INSTRUMENT, "visit_max": 10**8, "exposure_max": 10**8,
                                                "detector_max": 1000, "class_name": "bench.Camera"})
    registry.insertDimensionData("physical_filter", {"instrument": INSTRUMENT, "name": FILTER, "band": "r"})
    registry.insertDimensionData("day_obs", {"instrument": INSTRUMENT, "id": DAY_OBS})
    registry.insertDimensionData("detector", *[{"instrument": INSTRUMENT, "id": d, "full_name": f"D{d:03d}"}
                                               for d in range(detectors)])
    registry.insertDimensionData("visit", *[{"instrument": INSTRUMENT, "id": v, "name": f"v{v}",
                                             "physical_filter": FILTER, "day_obs": DAY_OBS} for v in range(visits)])


def run_butler(db_url, data_ids, batch, lookups, detectors, first_run_rows):
    """Register ``data_ids`` ((visit, detector) pairs) in batches of ``batch``, then find each of
    ``lookups`` through the 3-deep chain. -> {"register_s", "datasets_per_s", "find_p50_ms",
    "found": [run or None per lookup]}."""
    from lsst.daf.butler import CollectionType, DatasetIdGenEnum, DatasetType

    with tempfile.TemporaryDirectory(prefix="backbone-butler-") as root:
        butler = _make_butler(root, db_url)
        try:
            registry = butler.registry
            _dimension_records(registry, max(v for v, _ in data_ids) + 1, detectors)
            registry.registerDatasetType(DatasetType("calexp", ["instrument", "visit", "detector"], "ExposureF",
                                                     universe=registry.dimensions))
            registry.registerCollection("run/a", CollectionType.RUN)
            ids = [{"instrument": INSTRUMENT, "visit": v, "detector": d} for v, d in data_ids]
            started = time.perf_counter()
            for start in range(0, len(ids), batch):
                registry.insertDatasets("calexp", ids[start:start + batch], run="run/a", expand=False,
                                        idGenerationMode=DatasetIdGenEnum.DATAID_TYPE_RUN)
            register_s = time.perf_counter() - started
            registry.registerCollection("run/b", CollectionType.RUN)
            registry.insertDatasets("calexp", ids[:first_run_rows], run="run/b", expand=False,
                                    idGenerationMode=DatasetIdGenEnum.DATAID_TYPE_RUN)
            for parent, children in (("c1", ["run/b", "run/a"]), ("c2", ["c1"]), ("c3", ["c2"])):
                registry.registerCollection(parent, CollectionType.CHAINED)
                registry.setCollectionChain(parent, children)
            times, found = [], []
            for visit, detector in lookups:
                started = time.perf_counter()
                ref = registry.findDataset("calexp", instrument=INSTRUMENT, visit=visit, detector=detector,
                                           collections=["c3"])
                times.append(time.perf_counter() - started)
                found.append(None if ref is None else ref.run)
        finally:
            butler.close()
    return {"register_s": register_s, "datasets_per_s": len(ids) / register_s,
            "find_p50_ms": statistics.median(times) * 1000, "found": found}


def run_sqlite(*args):
    return run_butler(None, *args)


def run_postgres(*args):
    """The same on PostgreSQL, in a database created for this run and dropped after."""
    name = f"bench_butler_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        import psycopg2

        connection = psycopg2.connect(f"{PG_SERVER}/{name}")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        connection.close()
        return run_butler(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}", *args)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
