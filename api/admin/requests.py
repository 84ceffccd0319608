"""What the admin views share: the engine and job runner, the admin caller check, the JSON body
and its fields (a missing or mistyped field is a UserError naming it: HTTP 400)."""

from flask import current_app, g, request

from qserv.api.tap.auth import caller_of
from qserv.errors import PermissionDeniedError, UserError

TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list,
         "object": dict}


def engine():
    return current_app.extensions["qserv"].engine


def admin_jobs():
    return current_app.extensions["qserv_admin"]


def require_admin():
    """The admin Caller of this request: 401 without a valid token, 403 for a non-admin."""
    caller = caller_of(engine(), request.headers.get("Authorization"), anonymous_allowed=False)
    if not caller.is_admin:
        raise PermissionDeniedError(f"user {caller.name!r} is not an administrator "
                                    f"(qserv user add NAME --admin)")
    g.admin = caller
    return caller


def body():
    """The request's JSON object (an empty one without a body)."""
    if not request.get_data(cache=True):
        return {}
    found = request.get_json(silent=True)
    if not isinstance(found, dict):
        raise UserError("the request body must be a JSON object (Content-Type: application/json)")
    return found


def field(values, name, kind, default=None, required=False):
    """``values[name]`` checked to be of JSON type ``kind``; ``default`` when absent."""
    if name not in values or values[name] is None:
        if required:
            raise UserError(f"missing field {name!r} ({kind})")
        return default
    value = values[name]
    wanted = TYPES[kind]
    if not isinstance(value, wanted) or (kind in ("integer", "number") and isinstance(value, bool)):
        raise UserError(f"field {name!r} must be a JSON {kind}, not {type(value).__name__}")
    return value
