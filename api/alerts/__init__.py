"""The alert archive's REST API under /alerts/v1 (``register_alerts(app, engine)``), serving the
archive in the database named by the setting ``alerts_database``:

- ``GET /alerts/v1/alerts/<diaSourceId>``: the wire-format packet (``?format=json``: decoded);
- ``GET /alerts/v1/schemas/<id>``: the Avro schema (JSON);
- ``GET /alerts/v1/objects/<diaObjectId>``: all alerts of the object;
- ``GET /alerts/v1/search``: ``cone=RA,DEC,RADIUS_DEG`` or ``polygon=RA1,DEC1,...``, ``since``,
  ``until`` (MJD TAI or ISO time), ``object``, ``visit``, ``band``, ``cut=COLUMN:LOW:HIGH``
  (repeatable), ``limit``.

Lists answer an Avro container file (``?format=avro``, the default) or JSON (``?format=json``:
``{"alerts": [...]}``). Bad input is 400, an unknown alert, object or schema id 404. Callers are
identified as by TAP: a bearer token, or anonymous when ``tap_anonymous_read`` allows (else 401)."""

import io

from flask import Blueprint, Response, current_app, jsonify, request

from qserv.errors import QservError, UserError

PREFIX = "/alerts/v1"
AVRO_MIME = "application/avro"
WIRE_MIME = "application/vnd.lsst.alert+avro"  # Confluent wire format: header + Avro body
JSON_MIME = "application/json"


def _archive():
    from qserv.payloads.alerts import AlertArchive

    engine = current_app.extensions["qserv_alerts"]
    return AlertArchive.open(engine, engine.settings["alerts_database"])


def _integer(text, what):
    try:
        return int(text)
    except ValueError:
        raise UserError(f"{what} must be an integer, got {text!r}") from None


def _format(allowed, default):
    chosen = request.args.get("format", default)
    if chosen not in allowed:
        raise UserError(f"format must be one of {', '.join(allowed)}, got {chosen!r}")
    return chosen


def _packets_response(archive, packets, what):
    from qserv.payloads.alerts.files import write_packets
    from qserv.payloads.alerts.wire import record_json

    if _format(("avro", "json"), "avro") == "json":
        body = '{"alerts": [' + ", ".join(record_json(archive.decode(p)) for p in packets) + "]}"
        return Response(body, content_type=JSON_MIME)
    output = io.BytesIO()
    write_packets(archive, packets, output, what)
    return Response(output.getvalue(), content_type=AVRO_MIME)


def get_alert(alert_id):
    from qserv.payloads.alerts.wire import record_json

    archive = _archive()
    packet = archive.get(_integer(alert_id, "an alert id"))
    if _format(("avro", "json"), "avro") == "json":
        return Response(record_json(archive.decode(packet)), content_type=JSON_MIME)
    return Response(packet, content_type=WIRE_MIME)


def get_schema(schema_id):
    return Response(_archive().schema(_integer(schema_id, "a schema id")).text, content_type=JSON_MIME)


def get_object(object_id):
    from qserv.errors import NotFoundError

    archive = _archive()
    object_id = _integer(object_id, "a diaObjectId")
    packets = archive.object_alerts(object_id)
    if not packets:
        raise NotFoundError(f"no alerts of DiaObject {object_id} in archive {archive.database}")
    return _packets_response(archive, packets, f"DiaObject {object_id}")


def search():
    from qserv.payloads.alerts import search as searches

    args = request.args
    unknown = set(args) - {"cone", "polygon", "since", "until", "object", "visit", "band", "cut", "limit", "format"}
    if unknown:
        raise UserError(f"unknown search parameter(s): {', '.join(sorted(unknown))}")
    found = searches.Search(
        cone=searches.parse_cone(args["cone"]) if "cone" in args else None,
        polygon=searches.parse_polygon(args["polygon"]) if "polygon" in args else None,
        since_mjd_tai=searches.parse_time(args["since"]) if "since" in args else None,
        until_mjd_tai=searches.parse_time(args["until"]) if "until" in args else None,
        object_id=_integer(args["object"], "object") if "object" in args else None,
        visit=_integer(args["visit"], "visit") if "visit" in args else None, band=args.get("band"),
        cuts=dict(searches.parse_cut(c) for c in args.getlist("cut")),
        limit=_integer(args["limit"], "limit") if "limit" in args else None)
    archive = _archive()
    return _packets_response(archive, archive.search(found), "the search")


def _check_caller():
    from qserv.api.tap.auth import caller_of

    engine = current_app.extensions["qserv_alerts"]
    caller_of(engine, request.headers.get("Authorization"), bool(engine.settings["tap_anonymous_read"]))


def _error(error):
    return jsonify({"error": str(error)}), error.http_status


def blueprint():
    found = Blueprint("alerts", __name__, url_prefix=PREFIX)
    found.add_url_rule("/alerts/<alert_id>", "alert", get_alert)
    found.add_url_rule("/schemas/<schema_id>", "schema", get_schema)
    found.add_url_rule("/objects/<object_id>", "object", get_object)
    found.add_url_rule("/search", "search", search)
    found.before_request(_check_caller)
    found.register_error_handler(QservError, _error)
    return found


def register_alerts(app, engine):
    app.extensions["qserv_alerts"] = engine
    app.register_blueprint(blueprint())
