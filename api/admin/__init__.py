"""The DBA REST API under /admin/v1 (JSON; an administrator's bearer token): databases, tables,
ingest transactions, workers, replicas, indexes and jobs. ``register_admin(app, engine)`` adds it
to the Flask app of ``qserv serve``."""

from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException

from qserv.api.admin.openapi import openapi_document
from qserv.api.admin.requests import require_admin
from qserv.api.admin.routes import ROUTES, endpoint
from qserv.api.admin.runner import AdminJobs
from qserv.errors import QservError

PREFIX = "/admin/v1"


def _as_json(view):
    def answer(**arguments):
        require_admin()
        found = view(**arguments)
        if isinstance(found, tuple):
            return (jsonify(found[0]), *found[1:])
        return found if hasattr(found, "status_code") else jsonify(found)

    answer.__name__ = view.__name__
    return answer


def _error(error):
    if isinstance(error, HTTPException):
        return jsonify({"error": error.description}), error.code
    if isinstance(error, QservError):
        return jsonify({"error": str(error)}), error.http_status
    raise error  # the app's handler logs it and answers 500


def blueprint():
    found = Blueprint("admin", __name__, url_prefix=PREFIX)
    for route in ROUTES:
        found.add_url_rule(route.rule, endpoint(route), _as_json(route.view), methods=[route.method])
    found.add_url_rule("/openapi.json", "openapi", lambda: jsonify(openapi_document()))
    found.register_error_handler(QservError, _error)
    found.register_error_handler(HTTPException, _error)
    return found


def register_admin(app, engine):
    app.extensions["qserv_admin"] = AdminJobs(engine)
    app.register_blueprint(blueprint())
