"""The OpenAPI 3 document of /admin/v1, built from the route table (api/admin/routes.py)."""

import re

import qserv
from qserv.api.admin.routes import ROUTES

PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")
ERRORS = {"400": "bad request (JSON {\"error\": message})", "401": "no valid bearer token",
          "403": "not an administrator", "404": "no such database, table, worker, transaction or job",
          "503": "a worker or the central state does not answer"}


def openapi_path(rule):
    """A Flask rule as an OpenAPI path: ``/jobs/<int:job_id>`` -> ``/jobs/{job_id}``."""
    return PARAMETER.sub(lambda m: "{" + m.group(2) + "}", rule)


def _parameters(route):
    found = [{"name": name, "in": "path", "required": True,
              "schema": {"type": "integer" if converter == "int" else "string"}}
             for converter, name in PARAMETER.findall(route.rule)]
    found += [{"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
              for name, text in route.query.items()]
    return found


def _body(route):
    schema = {"type": "object",
              "properties": {name: {"type": kind, "description": text} for name, (kind, _, text) in route.body.items()},
              "required": [name for name, (_, required, _) in route.body.items() if required]}
    if not schema["required"]:
        del schema["required"]
    content = {"application/json": {"schema": schema}}
    if route.multipart:
        upload = {**schema, "properties": {**schema["properties"], "file": {"type": "string", "format": "binary"}}}
        content["multipart/form-data"] = {"schema": upload}
        content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    return {"required": "required" in schema, "content": content}


def _operation(route):
    success = {"description": {201: "created", 202: "job queued (Location: the job)"}.get(route.status, "ok"),
               "content": {route.produces: {"schema": {"type": "string", "format": "binary"}
                                            if route.produces == "image/png" else {}}}}
    operation = {"operationId": route.view.__name__, "summary": route.summary, "tags": [route.tag],
                 "parameters": _parameters(route),
                 "responses": {str(route.status): success,
                               **{code: {"description": text} for code, text in ERRORS.items()}}}
    if route.body:
        operation["requestBody"] = _body(route)
    return operation


def openapi_document():
    paths = {}
    for route in ROUTES:
        paths.setdefault(openapi_path(route.rule), {})[route.method.lower()] = _operation(route)
    paths["/openapi.json"] = {"get": {"operationId": "openapi", "summary": "This document", "security": [],
                                      "tags": ["meta"], "responses": {"200": {"description": "ok"}}}}
    return {"openapi": "3.0.3",
            "info": {"title": "qserv DBA API", "version": getattr(qserv, "__version__", "0.1.0"),
                     "description": "Databases, tables, ingest, workers, replicas and jobs of a qserv instance. "
                                    "Every call but this document needs an administrator's bearer token."},
            "servers": [{"url": "/admin/v1"}],
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
            "paths": paths}
