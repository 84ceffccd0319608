"""TAP routes other than async: the root page, /sync, VOSI (/capabilities, /availability,
/tables) and /history (the caller's query log)."""

from html import escape

from flask import Blueprint, Response, jsonify

from qserv.api.tap.execute import run_query
from qserv.api.tap.formats import output_format, result_chunks
from qserv.api.tap.params import parse_whole, query_parameters
from qserv.api.tap.service import base_url, caller, parameters, request_uploads, service
from qserv.api.tap.vosi import availability_xml, capabilities_xml, table_xml, tables_xml
from qserv.errors import AuthenticationError, TapParameterError
from qserv.meta.users import ANONYMOUS

blueprint = Blueprint("tap", __name__, url_prefix="/tap")
XML = "text/xml"
HISTORY_MAX = 10_000
SYNC_HINT = "queries running longer than the /sync limit must be submitted to {base}/async"


@blueprint.get("/", strict_slashes=False)
def root():
    who = caller()
    base = base_url()
    schema = service().engine.tap_schema(include_unpublished=who.is_admin)
    tables = [name for name in schema["tables"].column("table_name").to_pylist()
              if not name.upper().startswith("TAP_SCHEMA.")]
    items = "".join(f"<li><code>{escape(name)}</code></li>" for name in tables) or "<li>(none yet)</li>"
    example = f"{base}/sync?LANG=ADQL&amp;FORMAT=csv&amp;QUERY=SELECT+TOP+5+*+FROM+TAP_SCHEMA.tables"
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>qserv TAP service</title></head>
<body><h1>qserv TAP 1.1 service</h1>
<p>ADQL 2.1 queries over a spatially sharded catalog. Use a TAP client (TOPCAT, pyvo, astroquery) with
the URL <code>{escape(base)}</code>.</p>
<ul><li><a href="{base}/sync">{base}/sync</a>: synchronous queries (LANG=ADQL, QUERY, RESPONSEFORMAT,
MAXREC, UPLOAD, and <code>AS_OF=NAME</code>: the rows of snapshot NAME, tagged by <code>qserv snapshot
tag NAME</code>, so that a published query keeps its answer after later ingests)</li><li><a href="{base}/async">{base}/async</a>: asynchronous jobs (UWS 1.1)</li>
<li><a href="{base}/tables">{base}/tables</a>, <a href="{base}/capabilities">{base}/capabilities</a>,
<a href="{base}/availability">{base}/availability</a></li>
<li><a href="{base}/history">{base}/history</a>: your recent queries</li></ul>
<h2>Tables</h2><ul>{items}</ul>
<p>Try: <a href="{example}">{example}</a></p></body></html>"""
    return Response(page, mimetype="text/html")


@blueprint.route("/sync", methods=["GET", "POST"])
def sync():
    who = caller()
    query = query_parameters(parameters())
    output = output_format(query.response_format)
    engine = service().engine
    uploads = request_uploads(query.upload)
    table, overflow = run_query(engine, query, who, uploads, engine.settings["tap_sync_timeout_s"],
                                timeout_hint=SYNC_HINT.format(base=base_url()))
    return Response(result_chunks(table, output, overflow), mimetype=None, content_type=output.mime)


@blueprint.get("/capabilities")
def capabilities():
    from qserv.payloads.backbone.obscore import served_data_models

    engine = service().engine
    return Response(capabilities_xml(base_url(), engine.settings, served_data_models(engine)), mimetype=XML)


@blueprint.get("/availability")
def availability():
    engine = service().engine
    try:
        engine.tap_schema(include_unpublished=False)
        available, note = True, "the service is accepting queries"
    except Exception as error:  # the answer is the report
        available, note = False, f"the central state cannot be read: {error}"
    return Response(availability_xml(available, note), mimetype=XML)


@blueprint.get("/tables")
def tables():
    who = caller()
    detail = parameters().get("detail", "max").lower()
    if detail not in ("min", "max"):
        raise TapParameterError(f"detail={detail} is not supported (use min or max)")
    schema = service().engine.tap_schema(include_unpublished=who.is_admin)
    return Response(tables_xml(schema, detail=detail), mimetype=XML)


@blueprint.get("/tables/<path:name>")
def table(name):
    who = caller()
    schema = service().engine.tap_schema(include_unpublished=who.is_admin)
    return Response(table_xml(schema, name), mimetype=XML)


@blueprint.get("/history")
def history():
    who = caller()
    if who.name == ANONYMOUS:  # every request without a token is "anonymous": no shared history
        raise AuthenticationError("the query history needs a bearer token (Authorization: Bearer <token>)")
    limit = parse_whole(parameters().get("limit", "50"), "limit", 1, HISTORY_MAX)
    records = service().engine.recent_queries(limit=limit, user=None if who.is_admin else who.name)
    rows = [{"id": r.id, "user": r.user, "lang": r.lang, "query": r.text, "status": r.status,
             "submitted": r.submitted_at.isoformat() + "Z", "duration_s": r.duration_s, "rows": r.rows,
             "chunks": r.chunks, "error": r.error} for r in records]
    return jsonify({"user": who.name, "queries": rows})
