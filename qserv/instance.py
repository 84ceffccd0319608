"""An instance home: where the central state is, and the embedded workers' files.

Layout of a home directory:
    instance.json       {"meta_sqlite": "meta.sqlite"} (the default central state, a path relative
                        to the home) or {"meta_url": URL} (a central state elsewhere)
    meta.sqlite         the default central state
    workers/<name>.duckdb   embedded DuckDB workers (registered by paths relative to the home)
    index.duckdb        director indexes

Everything inside the home is named relative to it, so a copied home is a separate instance.
The home itself is made absolute once, when resolved.
"""

import json
import os
from pathlib import Path

from qserv.errors import UserError

INSTANCE_FILE = "instance.json"
DEFAULT_HOME = "./qserv-home"
DEFAULT_WORKERS = 4
DEFAULT_META_SQLITE = "meta.sqlite"
BACKENDS = ("duckdb", "postgres")


def resolve_home(home=None):
    """The absolute path of ``home`` (default: $QSERV_HOME or ./qserv-home): relative paths are
    taken against the current directory once, here, so nothing later depends on it."""
    return Path(home or os.environ.get("QSERV_HOME") or DEFAULT_HOME).expanduser().resolve()


def init_instance(home, workers=None, backend="duckdb", worker_dsns=(), meta_url=None):
    """Create an instance: central state migrated to the latest revision, workers registered."""
    from qserv.meta.models import Worker  # here: SQLAlchemy is not needed to start the CLI
    from qserv.meta.store import MetaStore, sqlite_url

    home = resolve_home(home)
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
        check_postgres_workers(worker_dsns)
        locations = worker_dsns
    else:
        if worker_dsns:
            raise UserError("--worker-dsn is only for --backend postgres")
        count = DEFAULT_WORKERS if workers is None else workers
        if count < 1:
            raise UserError(f"--workers must be at least 1, got {count}")
        locations = [f"workers/worker{i}.duckdb" for i in range(1, count + 1)]
    home.mkdir(parents=True, exist_ok=True)
    (home / "workers").mkdir(exist_ok=True)
    described = {"meta_url": meta_url} if meta_url else {"meta_sqlite": DEFAULT_META_SQLITE}
    store = MetaStore(meta_url or sqlite_url(home / DEFAULT_META_SQLITE))
    store.ensure_current()
    with store.session() as session:
        for index, location in enumerate(locations, start=1):
            session.add(Worker(name=f"worker{index}", backend=backend, location=location, state="active"))
    store.dispose()
    (home / INSTANCE_FILE).write_text(json.dumps(described, indent=2) + "\n")
    return home


def check_postgres_workers(dsns):
    """Connect to every worker DSN once; a UserError naming each one that cannot be used."""
    from qserv.errors import WorkerUnavailableError
    from qserv.exec.backends import open_worker

    problems = []
    for index, dsn in enumerate(dsns, start=1):
        try:
            open_worker(f"worker{index}", "postgres", dsn).close()
        except WorkerUnavailableError as error:
            problems.append(str(error))
    if problems:
        raise UserError("cannot use every --worker-dsn:\n  " + "\n  ".join(problems))


def read_instance(home):
    """The instance description of ``home``: ``meta_url`` is the central state's URL."""
    from qserv.meta.store import sqlite_url

    home = resolve_home(home)
    path = home / INSTANCE_FILE
    if not path.exists():
        raise UserError(f"{home} is not a qserv instance (no {INSTANCE_FILE}); run `qserv init` first")
    described = json.loads(path.read_text())
    if "meta_sqlite" in described:
        return {**described, "meta_url": sqlite_url(home / described["meta_sqlite"])}
    return described
