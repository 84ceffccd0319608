"""The Data Backbone registry on the core: ``Backbone.create(engine, "bb")`` makes its tables in a
new database (and ``ivoa.ObsCore`` if the instance has none); ``Backbone.open`` reopens it.
Definitions (dataset types, collections, sites, rules), memberships (TAGGED, CALIBRATION) and
replica states are append-only rows (see ``tables``); reads: ``qserv.payloads.backbone.search``."""

import time

from qserv.errors import ConflictError, NotFoundError, UserError

from qserv.payloads.backbone import collections as chains
from qserv.payloads.backbone import obscore, rules
from qserv.payloads.backbone.model import COLLECTION_TYPES, check_dimensions, check_name, check_uuid
from qserv.payloads.backbone.registration import Registration
from qserv.payloads.backbone.store import SPECS, Store, literal, name_list

REPLICA_STATES = ("ok", "missing", "corrupt")


def now_mjd():
    return time.time() / 86400.0 + 40587.0


class Backbone(Registration):
    def __init__(self, engine, database):
        self.engine, self.database = engine, database
        self.store = Store(engine, database)

    @classmethod
    def create(cls, engine, database, chunk_order=7):
        check_name(database, "database")
        engine.create_database(database, chunk_order=chunk_order, overlap_arcsec=0.0)
        for name, spec in SPECS.items():
            engine.create_table(f"{database}.{name}", spec)
        backbone = cls(engine, database)
        if not backbone.store.exists(obscore.TABLE, obscore.DATABASE):
            try:
                engine.create_database(obscore.DATABASE, chunk_order=chunk_order, overlap_arcsec=0.0)
                engine.publish(obscore.DATABASE)
            except ConflictError:
                pass  # the database exists (created by hand, or the table was dropped)
            engine.create_table(f"{obscore.DATABASE}.{obscore.TABLE}", obscore.obscore_spec())
        return backbone

    @classmethod
    def open(cls, engine, database):
        backbone = cls(engine, database)
        if not backbone.store.exists("dataset_type"):
            raise NotFoundError(f"no Data Backbone registry in database {database!r}")
        return backbone

    # -- definitions ----------------------------------------------------------------------------
    def dataset_types(self):
        """name -> {"storage_class", "dimensions": [...]}."""
        return {r["name"]: {"storage_class": r["storage_class"],
                            "dimensions": [d for d in r["dimensions"].split(",") if d]}
                for r in self.store.rows("dataset_type")}

    def add_dataset_type(self, name, dimensions, storage_class="StructuredDataDict"):
        check_name(name, "dataset type")
        check_name(storage_class, "storage class")
        dimensions = check_dimensions(dimensions)
        known = self.dataset_types().get(name)
        wanted = {"storage_class": storage_class, "dimensions": dimensions}
        if known == wanted:
            return False
        if known is not None:
            raise ConflictError(f"dataset type {name!r} exists with dimensions {known['dimensions']} "
                                f"and storage class {known['storage_class']}")
        self.store.write(lambda v: {"dataset_type": [{"name": name, "storage_class": storage_class,
                                                       "dimensions": ",".join(dimensions), "version": v}]})
        return True

    def collections(self):
        """name -> (type, [children]) of the current definitions."""
        rows = chains.current([{**r, "removed": False} for r in self.store.rows("collection")], ["name"])
        return {r["name"]: (r["type"], [c for c in (r["children"] or "").split(",") if c]) for r in rows}

    def add_collection(self, name, kind, children=()):
        """Define a collection; a CHAINED one may be defined again with other children."""
        check_name(name, "collection")
        kind = kind.lower()
        if kind not in COLLECTION_TYPES:
            raise UserError(f"unknown collection type {kind!r} (expected one of {', '.join(COLLECTION_TYPES)})")
        children = [check_name(c, "collection") for c in children]
        if children and kind != "chained":
            raise UserError(f"only a chained collection has children ({name!r} is {kind})")
        known = self.collections()
        if name in known and known[name][0] != kind:
            raise ConflictError(f"collection {name!r} exists as a {known[name][0]} collection")
        if name in known and known[name] == (kind, children):
            return False
        if name in known and kind != "chained":
            return False
        if kind == "chained":
            chains.check_chain(known, name, children)
        self.store.write(lambda v: {"collection": [{"name": name, "type": kind, "children": ",".join(children),
                                                     "version": v}]})
        return True

    def add_site(self, name, description=None):
        check_name(name, "site")
        if any(r["name"] == name for r in self.store.rows("site")):
            return False
        self.store.write(lambda v: {"site": [{"name": name, "description": description, "version": v}]})
        return True

    def sites(self):
        return sorted({r["name"] for r in self.store.rows("site")})

    def add_rule(self, name, dataset_type_pattern, collection_pattern, copies, site_pattern):
        check_name(name, "rule")
        for pattern in (dataset_type_pattern, collection_pattern, site_pattern):
            if not pattern or "'" in pattern:
                raise UserError(f"invalid pattern {pattern!r}")
        if int(copies) < 1:
            raise UserError("a rule asks for at least 1 copy")
        row = {"name": name, "dataset_type_pattern": dataset_type_pattern, "collection_pattern": collection_pattern,
               "copies": int(copies), "site_pattern": site_pattern}
        self.store.write(lambda v: {"rule": [{**row, "version": v}]})

    def rules(self):
        return chains.current(self.store.rows("rule"), ["name"])

    # -- memberships -------------------------------------------------------------------------------
    def _collection_of(self, name, kind):
        known = self.collections()
        if name not in known:
            raise NotFoundError(f"no collection {name!r}")
        if known[name][0] != kind:
            raise UserError(f"collection {name!r} is {known[name][0]}, not {kind}")

    def _datasets(self, ids):
        ids = [check_uuid(i) for i in ids]
        found = {r["id"]: r for r in self.store.rows_of_ids("dataset", "id", ids,
                                                           columns="t.id, t.dataset_type, t.data_id_key")}
        missing = [i for i in ids if i not in found]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise NotFoundError(f"no dataset {missing[0]!r}{more}")
        return [found[i] for i in dict.fromkeys(ids)]

    def _members(self, table, collection):
        return chains.current(self.store.rows(table, f"collection = {literal(collection)}"),
                              ["collection", "dataset_id"] + (["t_begin", "t_end"] if table == "calib" else []))

    def associate(self, collection, ids):
        """Add datasets to a TAGGED collection (one dataset per type and data id in it)."""
        self._collection_of(collection, "tagged")
        datasets = self._datasets(ids)
        members = {(m["dataset_type"], m["data_id_key"]): m["dataset_id"] for m in self._members("tag", collection)}
        new = []
        for d in datasets:
            other = members.get((d["dataset_type"], d["data_id_key"]))
            if other is not None and other != d["id"]:
                raise ConflictError(f"{collection!r} holds dataset {other} of the same type and data id as {d['id']}")
            if other is None:
                members[(d["dataset_type"], d["data_id_key"])] = d["id"]
                new.append(d)
        self.store.write(lambda v: {"tag": [{"collection": collection, "dataset_id": d["id"], "dataset_type":
                                             d["dataset_type"], "data_id_key": d["data_id_key"], "removed": False,
                                             "version": v} for d in new]})
        return len(new)

    def disassociate(self, collection, ids):
        self._collection_of(collection, "tagged")
        wanted = {check_uuid(i) for i in ids}
        gone = [m for m in self._members("tag", collection) if m["dataset_id"] in wanted]
        self.store.write(lambda v: {"tag": [{**m, "removed": True, "version": v} for m in gone]})
        return len(gone)

    def certify(self, collection, ids, begin, end):
        """Certify datasets in a CALIBRATION collection for [begin, end) (MJD; None: unbounded);
        refused (nothing written) if a range overlaps one of the same type and data id."""
        self._collection_of(collection, "calibration")
        datasets = self._datasets(ids)
        existing = [((m["dataset_type"], m["data_id_key"]), m["t_begin"], m["t_end"])
                    for m in self._members("calib", collection)]
        chains.check_certifications(existing, [((d["dataset_type"], d["data_id_key"]), begin, end)
                                               for d in datasets])
        self.store.write(lambda v: {"calib": [{"collection": collection, "dataset_id": d["id"], "dataset_type":
                                               d["dataset_type"], "data_id_key": d["data_id_key"], "t_begin": begin,
                                               "t_end": end, "removed": False, "version": v} for d in datasets]})
        return len(datasets)

    def decertify(self, collection, ids):
        """End every certification of these datasets in a CALIBRATION collection."""
        self._collection_of(collection, "calibration")
        wanted = {check_uuid(i) for i in ids}
        gone = [m for m in self._members("calib", collection) if m["dataset_id"] in wanted]
        self.store.write(lambda v: {"calib": [{**m, "removed": True, "version": v} for m in gone]})
        return len(gone)

    # -- replicas -----------------------------------------------------------------------------------
    def replicas(self, ids=None):
        """dataset id -> {site: state} (the latest record of each copy)."""
        rows = (self.store.rows("replica") if ids is None else
                self.store.rows_of_ids("replica", "dataset_id", [check_uuid(i) for i in ids]))
        out = {}
        for r in chains.current(rows, ["dataset_id", "site"]):
            out.setdefault(r["dataset_id"], {})[r["site"]] = r["state"]
        return out

    def record_verification(self, records, mjd=None):
        """Record checks [(dataset id, site, state)] (state: ok, missing or corrupt)."""
        mjd = now_mjd() if mjd is None else mjd
        for dataset, site, state in records:
            if state not in REPLICA_STATES:
                raise UserError(f"replica state {state!r}: expected one of {', '.join(REPLICA_STATES)}")
            check_name(site, "site")
        self._datasets([r[0] for r in records])
        self.store.write(lambda v: {"replica": [{"dataset_id": d, "site": s, "state": st, "verified_mjd": mjd,
                                                 "version": v} for d, s, st in records]})

    def replication_plan(self, dataset_type=None, run=None):
        """Transfers and deletions the rules ask for (see ``rules.plan``)."""
        where = [f"dataset_type = {literal(check_name(dataset_type, 'dataset type'))}"] if dataset_type else []
        if run:
            where.append(f"run IN ({name_list([check_name(run, 'collection')])})")
        datasets = self.store.rows("dataset", " AND ".join(where) or None, columns="id, dataset_type, run")
        return rules.plan(self.rules(), datasets, self.replicas(), self.sites())
