"""The Data Backbone registry's REST API under /backbone/v1/<database> (JSON;
``register_backbone(app)``). Reads are open to whoever may query the TAP service; writes need an
administrator's bearer token.

- ``GET /dataset-types``, ``POST /dataset-types`` {name, dimensions: [...], storage_class}
- ``GET /collections``, ``POST /collections`` {name, type, children: [...]}
- ``POST /collections/<name>/associate`` {ids, remove}; ``POST /collections/<name>/certify``
  {ids, begin, end, remove} (MJD; null: unbounded)
- ``POST /datasets`` {run, site, datasets: [{dataset_type, dimensions..., uri, ...}]}: register
- ``GET /find?dataset_type=&collections=C1,C2&where=&time=``: first match per data id
- ``GET /datasets?dataset_type=&collections=&where=&time_range=MIN,MAX&circle=RA,DEC,R``
- ``GET /datasets/<id>/lineage?direction=up|down``; ``GET /plan``: replication plan
Bad input answers 400, unknown names 404, with {"error": message}."""

from flask import Blueprint, jsonify, request

from qserv.api.admin.requests import body, engine, field, require_admin
from qserv.api.tap.service import caller
from qserv.errors import QservError, UserError

PREFIX = "/backbone/v1/<database>"


def _backbone(database):
    from qserv.payloads.backbone import Backbone

    return Backbone.open(engine(), database)


def _read(database):
    caller()  # 401 when anonymous reads are off and no valid token was given
    return _backbone(database)


def _list(text):
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _numbers(name, count):
    text = request.args.get(name)
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"{name} must be {count} comma-separated numbers, got {text!r}") from None
    if len(values) != count:
        raise UserError(f"{name} must be {count} comma-separated numbers, got {text!r}")
    return values


def list_dataset_types(database):
    return jsonify(_read(database).dataset_types())


def add_dataset_type(database):
    require_admin()
    values = body()
    added = _backbone(database).add_dataset_type(
        field(values, "name", "string", required=True), field(values, "dimensions", "array", required=True),
        field(values, "storage_class", "string", "StructuredDataDict"))
    return jsonify({"added": added}), 201 if added else 200


def list_collections(database):
    found = _read(database).collections()
    return jsonify({name: {"type": kind, "children": children} for name, (kind, children) in found.items()})


def add_collection(database):
    require_admin()
    values = body()
    added = _backbone(database).add_collection(field(values, "name", "string", required=True),
                                               field(values, "type", "string", required=True),
                                               field(values, "children", "array", []))
    return jsonify({"added": added}), 201 if added else 200


def associate(database, name):
    require_admin()
    values = body()
    backbone, ids = _backbone(database), field(values, "ids", "array", required=True)
    count = (backbone.disassociate if field(values, "remove", "boolean", False) else backbone.associate)(name, ids)
    return jsonify({"count": count})


def certify(database, name):
    require_admin()
    values = body()
    backbone, ids = _backbone(database), field(values, "ids", "array", required=True)
    if field(values, "remove", "boolean", False):
        return jsonify({"count": backbone.decertify(name, ids)})
    return jsonify({"count": backbone.certify(name, ids, field(values, "begin", "number"),
                                              field(values, "end", "number"))})


def register(database):
    require_admin()
    values = body()
    datasets = field(values, "datasets", "array", required=True)
    if not all(isinstance(d, dict) for d in datasets):
        raise UserError("field 'datasets' must be an array of objects")
    result = _backbone(database).register(field(values, "run", "string", required=True), datasets,
                                          site=field(values, "site", "string", "local"))
    return jsonify(result), 201


def find(database):
    from qserv.payloads.backbone import find as find_datasets

    time = _numbers("time", 1)
    found = find_datasets(_read(database), request.args.get("dataset_type", ""),
                          _list(request.args.get("collections")), request.args.get("where"),
                          time[0] if time else None)
    return jsonify({"datasets": found})


def query(database):
    from qserv.payloads.backbone import query_datasets

    found = query_datasets(_read(database), request.args.get("dataset_type"),
                           _list(request.args.get("collections")) or None, request.args.get("where"),
                           _numbers("time_range", 2), _numbers("circle", 3))
    return jsonify({"datasets": found})


def lineage(database, dataset_id):
    from qserv.payloads.backbone import lineage as edges

    return jsonify({"edges": edges(_read(database), dataset_id, request.args.get("direction", "up"))})


def plan(database):
    return jsonify({"plan": _read(database).replication_plan()})


def _error(error):
    return jsonify({"error": str(error)}), error.http_status


def blueprint():
    found = Blueprint("backbone", __name__, url_prefix=PREFIX)
    found.add_url_rule("/dataset-types", "dataset_types", list_dataset_types)
    found.add_url_rule("/dataset-types", "add_dataset_type", add_dataset_type, methods=["POST"])
    found.add_url_rule("/collections", "collections", list_collections)
    found.add_url_rule("/collections", "add_collection", add_collection, methods=["POST"])
    found.add_url_rule("/collections/<path:name>/associate", "associate", associate, methods=["POST"])
    found.add_url_rule("/collections/<path:name>/certify", "certify", certify, methods=["POST"])
    found.add_url_rule("/datasets", "register", register, methods=["POST"])
    found.add_url_rule("/datasets", "datasets", query)
    found.add_url_rule("/find", "find", find)
    found.add_url_rule("/datasets/<dataset_id>/lineage", "lineage", lineage)
    found.add_url_rule("/plan", "plan", plan)
    found.register_error_handler(QservError, _error)
    return found


def register_backbone(app):
    app.register_blueprint(blueprint())
