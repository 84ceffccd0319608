"""Admin views of workers, replicas and jobs. Drain, replicate, rebalance and verify run as jobs:
the answer is 202 with the job (Location: /admin/v1/jobs/{id})."""

import dataclasses

from flask import g, url_for

from qserv.api.admin.requests import admin_jobs, body, engine, field
from qserv.errors import UserError
from qserv.meta import jobs, workers as registry
from qserv.meta.catalog import get_database


def job_accepted(kind, target, operation):
    """Queue ``operation(progress)`` as a job: (its JSON, 202, Location)."""
    job_id = admin_jobs().submit(kind, target, g.admin.name, operation)
    return get_job(job_id), 202, {"Location": url_for("admin.get_job", job_id=job_id)}


def list_jobs():
    with engine().store.session() as session:
        return [jobs.job_json(job) for job in jobs.list_jobs(session)]


def get_job(job_id):
    with engine().store.session() as session:
        return jobs.job_json(jobs.get_job(session, job_id))


def list_workers():
    return [dataclasses.asdict(w) for w in engine().list_workers()]


def add_worker():
    values = body()
    name = field(values, "name", "string", required=True)
    backend, dsn = field(values, "backend", "string"), field(values, "dsn", "string")
    if (backend is None) == (dsn is None) or backend not in (None, "duckdb"):
        raise UserError("give \"backend\": \"duckdb\" or \"dsn\": DSN (one of them)")
    engine().add_worker(name, "postgres" if dsn else "duckdb", dsn)
    return _worker_json(name), 201


def _worker_json(name):
    return next(dataclasses.asdict(w) for w in engine().list_workers() if w.name == name)


def disable_worker(name):
    engine().set_worker_state(name, "disabled")
    return _worker_json(name)


def enable_worker(name):
    engine().set_worker_state(name, "active")
    return _worker_json(name)


def remove_worker(name):
    engine().remove_worker(name)
    return {"removed": name}


def drain_worker(name):
    running = engine()
    with running.store.session() as session:
        registry.get_worker(session, name)  # 404 now, not in the job
    return job_accepted("drain", name, lambda progress: {"steps": running.drain_worker(name, progress)})


def _database_job(kind, database, operation):
    with engine().store.session() as session:
        get_database(session, database)  # 404 now, not in the job
    return job_accepted(kind, database, operation)


def replicate(database):
    level = field(body(), "level", "integer", required=True)
    if level < 1:
        raise UserError(f"level must be at least 1, not {level}")
    running = engine()
    return _database_job("replicate", database,
                         lambda progress: {"steps": running.replicate(database, level, progress)})


def rebalance(database):
    running = engine()
    return _database_job("rebalance", database, lambda progress: {"steps": running.rebalance(database, progress)})


def verify(database):
    repair = field(body(), "repair", "boolean", False)
    running = engine()
    return _database_job("verify", database, lambda progress: dataclasses.asdict(
        running.verify(database, repair=repair, progress=progress)))
