"""An instance home: where the central state is, and the embedded workers' files.

Layout of a home directory:
    instance.json       {"meta_url": ...} — the central state (SQLite file here by default)
    meta.sqlite         the default central state
    workers/<name>.duckdb   embedded DuckDB workers
    index.duckdb        director indexes
"""

import json
import os
from pathlib import Path

from qserv.errors import UserError
from qserv.meta.models import Worker
from qserv.meta.store import MetaStore, sqlite_url

INSTANCE_FILE = "instance.json"
DEFAULT_HOME = "./qserv-home"
DEFAULT_WORKERS = 4
BACKENDS = ("duckdb", "postgres")


def resolve_home(home=None):
    return Path(home or os.environ.get("QSERV_HOME") or DEFAULT_HOME)


def init_instance(home, workers=None, backend="duckdb", worker_dsns=(), meta_url=None):
    """Create an instance: central state migrated to the latest revision, workers registered."""
    home = Path(home)
    if (home / INSTANCE_FILE).exists():
        raise UserError(f"{home} already holds a qserv instance ({INSTANCE_FILE} exists)")
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r} (expected one of {', '.join(BACKENDS)})")
    worker_dsns = list(worker_dsns)
    if backend == "postgres":
        if not worker_dsns:
            raise UserError("--backend postgres needs one --worker-dsn per worker")
        if workers is not None and workers != len(worker_dsns):
            raise UserError(f"--workers {workers} does not match the {len(worker_dsns)} --worker-dsn given")
        locations = worker_dsns
    else:
        if worker_dsns:
            raise UserError("--worker-dsn is only for --backend postgres")
        count = DEFAULT_WORKERS if workers is None else workers
        if count < 1:
            raise UserError(f"--workers must be at least 1, got {count}")
        locations = [str((home / "workers" / f"worker{i}.duckdb").resolve()) for i in range(1, count + 1)]
    home.mkdir(parents=True, exist_ok=True)
    (home / "workers").mkdir(exist_ok=True)
    url = meta_url or sqlite_url(home / "meta.sqlite")
    store = MetaStore(url)
    store.ensure_current()
    with store.session() as session:
        for index, location in enumerate(locations, start=1):
            session.add(Worker(name=f"worker{index}", backend=backend, location=location, state="active"))
    store.dispose()
    (home / INSTANCE_FILE).write_text(json.dumps({"meta_url": url}, indent=2) + "\n")
    return home


def read_instance(home):
    path = Path(home) / INSTANCE_FILE
    if not path.exists():
        raise UserError(f"{home} is not a qserv instance (no {INSTANCE_FILE}); run `qserv init` first")
    return json.loads(path.read_text())
