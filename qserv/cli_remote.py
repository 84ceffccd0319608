"""The DBA and ingest commands through a running `qserv serve` (`qserv --url URL ...` or
QSERV_URL; the admin token from QSERV_TOKEN): RemoteEngine has the methods of qserv.Engine that
those commands use, each one call of the REST API under /admin/v1. Long operations are jobs,
polled until they end, with a bar on a terminal."""

import dataclasses
from datetime import datetime
from pathlib import Path
import sys
import time

import requests

from qserv.errors import (AuthenticationError, ConflictError, NotFoundError, PermissionDeniedError,
                          ServiceError, UserError)
from qserv.drops import DropReport
from qserv.ingest.transactions import ContributionResult
from qserv.replication import ReplicaCheck, VerifyReport, WorkerStatus

ERRORS = {400: UserError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
          409: ConflictError}
POLL_S = 0.2
TIMEOUT_S = 3600


class RemoteEngine:
    def __init__(self, url, token):
        if not token:
            raise UserError("--url needs an administrator's token in QSERV_TOKEN (qserv token create USER)")
        self.base = url.rstrip("/") + "/admin/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.session.close()

    def __getattr__(self, name):
        raise UserError(f"this command does not work through --url (it needs {name!r} of a local instance); "
                        f"run it without --url on the server's host")

    # -- HTTP ---------------------------------------------------------------------------------
    def call(self, method, path, **options):
        try:
            response = self.session.request(method, self.base + path, timeout=TIMEOUT_S, **options)
        except requests.RequestException as exc:
            raise ServiceError(f"cannot reach {self.base}: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:500]
            raise ERRORS.get(response.status_code, ServiceError)(f"{message} (HTTP {response.status_code})")
        return response

    def json(self, method, path, **options):
        return self.call(method, path, **options).json()

    def job(self, method, path, progress=None, **options):
        """Start a job and wait for it: its result, or its error raised."""
        job = self.json(method, path, **options)
        shown = 0
        bar = _bar(job["kind"]) if progress is None else None
        while job["state"] not in ("done", "failed"):
            time.sleep(POLL_S)
            job = self.json("GET", f"/jobs/{job['id']}")
            if progress is not None and job["done"] > shown:
                progress(job["done"] - shown)
            elif bar is not None:
                bar.total = job["total"]
                bar.update(job["done"] - shown)
            shown = job["done"]
        if bar is not None:
            bar.close()
        if job["state"] == "failed":
            raise ServiceError(f"job {job['id']} ({job['kind']} {job['target']}) failed: {'; '.join(job['errors'])}")
        return job["result"]

    # -- databases and tables ----------------------------------------------------------------
    def create_database(self, name, chunk_order=7, subchunk_order=10, overlap_arcsec=60.0, replication=1):
        self.json("POST", "/databases", json={"name": name, "chunk_order": chunk_order, "subchunk_order":
                                              subchunk_order, "overlap_arcsec": overlap_arcsec,
                                              "replication": replication})

    def create_table(self, qualified_name, spec):
        fields = {k: v for k, v in dataclasses.asdict(spec).items() if v is not None and v is not False}
        fields["columns"] = [column.to_dict() for column in spec.columns]
        self.json("POST", "/tables", json={"table": qualified_name, **fields})

    def drop_table(self, qualified_name, force=False):
        from qserv.meta.catalog import split_table_name

        database_name, table_name = split_table_name(qualified_name)
        found = self.json("DELETE", f"/databases/{database_name}/tables/{table_name}",
                          params={"force": str(force).lower()})
        return DropReport(found["dropped"], found["leftovers"])

    def drop_database(self, database_name, force=False):
        found = self.json("DELETE", f"/databases/{database_name}", params={"force": str(force).lower()})
        return DropReport(found["dropped"], found["leftovers"])

    def publish(self, database_name):
        self.json("POST", f"/databases/{database_name}/publish")

    def chunks(self, qualified_name):
        return [(c["chunk"], c["rows"], c["overlap_rows"], c["workers"])
                for c in self.json("GET", f"/tables/{qualified_name}/chunks")]

    def table_layout(self, qualified_name):
        found = self.json("GET", f"/tables/{qualified_name}/stats")
        return found["kind"], found["chunk_order"]

    def create_index(self, qualified_name, column):
        return self.json("POST", f"/tables/{qualified_name}/indexes", json={"column": column})["workers"]

    def drop_index(self, qualified_name, column):
        return self.json("DELETE", f"/tables/{qualified_name}/indexes/{column}")["workers"]

    def indexes(self, qualified_name):
        return self.json("GET", f"/tables/{qualified_name}/indexes")["indexes"]

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, qualified_name, sources, format=None, null=None, progress=None, committing=None):
        """Send files (each streamed as one request body) into one transaction and commit it
        (aborted on any error)."""
        from qserv.meta.catalog import split_table_name

        database_name, table_name = split_table_name(qualified_name)
        transaction_id = self.json("POST", "/transactions", json={"database": database_name})["id"]
        try:
            results = []
            for source in sources:
                path = Path(source)
                fields = {k: v for k, v in {"table": table_name, "format": format, "null": null,
                                            "key": str(path), "filename": path.name}.items() if v is not None}
                with open(path, "rb") as data:  # streamed as the raw body
                    found = self.json("POST", f"/transactions/{transaction_id}/contributions", params=fields,
                                      data=data, headers={"Content-Type": "application/octet-stream"})
                results.append(ContributionResult(found["id"], found["key"], found["rows"],
                                                  found["overlap_rows"], found["reused"]))
                if progress is not None:
                    progress(found["rows"])
            if committing is not None:
                committing()
            self.job("POST", f"/transactions/{transaction_id}/commit", progress=lambda _: None)
        except BaseException:
            try:
                self.call("POST", f"/transactions/{transaction_id}/abort")
            except (UserError, ServiceError):
                pass  # the server aborts it when it is abandoned
            raise
        return transaction_id, results

    def list_transactions(self, database_name=None):
        return [(t["id"], t["database"], t["state"], _time(t["started"]), _time(t["ended"]))
                for t in self.json("GET", "/transactions", params={"database": database_name} if database_name else {})]

    # -- workers and replicas ----------------------------------------------------------------
    def add_worker(self, name, backend="duckdb", dsn=None):
        self.json("POST", "/workers", json={"name": name, "dsn": dsn} if dsn else {"name": name, "backend": backend})

    def list_workers(self):
        return [WorkerStatus(**w) for w in self.json("GET", "/workers")]

    def set_worker_state(self, name, state):
        self.json("POST", f"/workers/{name}/{'enable' if state == 'active' else 'disable'}")

    def drain_worker(self, name, progress=None):
        return self.job("POST", f"/workers/{name}/drain", progress)["steps"]

    def remove_worker(self, name):
        self.json("DELETE", f"/workers/{name}")

    def replicate(self, database_name, level, progress=None):
        return self.job("POST", f"/databases/{database_name}/replicate", progress, json={"level": level})["steps"]

    def rebalance(self, database_name, progress=None):
        return self.job("POST", f"/databases/{database_name}/rebalance", progress)["steps"]

    def verify(self, database_name, repair=False, progress=None):
        found = self.job("POST", f"/databases/{database_name}/verify", progress, json={"repair": repair})
        return VerifyReport(found["database"], found["chunks"], found["replicas"],
                            [ReplicaCheck(**p) for p in found["problems"]], found["copies"])


def _time(text):
    return None if text is None else datetime.fromisoformat(text.rstrip("Z"))


def _bar(kind):
    """A tqdm bar on stderr for a job, or None off a terminal."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(desc=kind, unit="step", file=sys.stderr, leave=False)
