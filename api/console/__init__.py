"""The web console served at ``/`` by ``qserv serve``: a query page (ADQL editor, table browser,
results, sky view), the caller's async jobs and history, and the operations pages over the DBA
API. The page is static files under ``static/`` (plain JS and CSS, nothing fetched from
elsewhere) that talk to /tap and /admin/v1; this blueprint serves them with ETag and
Cache-Control, plus three JSON helpers under /console/api (catalogs with example queries, the
chunk grid of a table, explain). ``register_console(app)`` adds it to the app."""

import hashlib
from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy import select

from qserv.api.console.catalogs import catalogs_json, densest_centre, spatial_tables
from qserv.api.console.sky_grid import grid_json
from qserv.api.tap.service import caller, parameters, request_uploads, service
from qserv.errors import NotFoundError, QservError, TapParameterError
from qserv.meta.models import Database

STATIC = Path(__file__).parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
CACHE_S = 300  # assets are revalidated with their ETag after this
MAX_QUERY_CHARS = 100_000

blueprint = Blueprint("console", __name__)


def _static(name):
    path = STATIC / name
    if path.suffix not in TYPES or path.parent != STATIC or not path.is_file():
        abort(404)
    data = path.read_bytes()
    etag = hashlib.sha256(data).hexdigest()[:32]
    headers = {"ETag": f'"{etag}"', "Cache-Control": f"public, max-age={CACHE_S}, must-revalidate",
               "X-Content-Type-Options": "nosniff"}
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    return Response(data, content_type=TYPES[path.suffix], headers=headers)


@blueprint.get("/")
def index():
    return _static("index.html")


@blueprint.get("/console/static/<name>")
def asset(name):
    return _static(name)


def _databases(session):
    return session.scalars(select(Database).order_by(Database.name)).all()


@blueprint.get("/console/api/catalogs")
def catalogs():
    who = caller()
    engine = service().engine
    with engine.store.session() as session:
        tables = spatial_tables(_databases(session), who.is_admin)
    return jsonify(catalogs_json(tables, [densest_centre(engine.chunks(t.qualified), t.chunk_order) for t in tables]))


@blueprint.get("/console/api/chunk_grid")
def chunk_grid():
    """Boundaries of the chunks holding rows of ``table`` (DB.TABLE, a spatial table)."""
    who = caller()
    table = parameters().get("table", "")
    with service().engine.store.session() as session:
        found = {t.qualified: t for t in spatial_tables(_databases(session), who.is_admin)}
    if table not in found:
        raise NotFoundError(f"no spatial table {table!r} visible to you")
    return jsonify(grid_json(table, found[table].chunk_order, service().engine.chunks(table)))


@blueprint.post("/console/api/explain")
def explain():
    """{"explain": text} of QUERY (ADQL; UPLOAD as in /tap/sync) for the caller."""
    who = caller()
    values = parameters()
    text = values.get("query", "")
    if not text.strip() or len(text) > MAX_QUERY_CHARS:
        raise TapParameterError(f"QUERY is missing or longer than {MAX_QUERY_CHARS} characters")
    engine = service().engine
    plan = engine.explain(text, lang="adql", uploads=request_uploads(values.get("upload")),
                          include_unpublished=who.is_admin)
    return jsonify({"explain": plan})


@blueprint.errorhandler(QservError)
def _error(error):
    """Errors of /console/api as JSON (the page shows them; the static routes raise none)."""
    return jsonify({"error": str(error)}), error.http_status


def register_console(app):
    app.register_blueprint(blueprint)
