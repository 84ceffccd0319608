"""TAP request parameters (TAP 1.1 / DALI): names are case-insensitive, values are not; unknown
parameters are ignored. Pure functions over a plain {name: value} mapping."""

from dataclasses import dataclass

from qserv.errors import UserError

LANGUAGES = ("ADQL", "ADQL-2.0", "ADQL-2.1")


class TapParameterError(UserError):
    """A TAP parameter is missing or has a value the service does not accept."""


def lower_names(pairs):
    """{lower-cased name: value} of (name, value) pairs; for a repeated name the first value."""
    found = {}
    for name, value in pairs:
        found.setdefault(name.lower(), value)
    return found


@dataclass(frozen=True)
class QueryParameters:
    query: str
    response_format: str | None
    maxrec: int | None
    upload: str | None
    run_id: str | None


def query_parameters(params):
    """The QueryParameters of a sync request or an async job's parameters (lower-case names)."""
    request = params.get("request")
    if request is not None and request.lower() != "doquery":
        raise TapParameterError(f"REQUEST={request} is not supported (only doQuery)")
    lang = params.get("lang")
    if lang is None:
        raise TapParameterError("the LANG parameter is missing (use LANG=ADQL)")
    if lang.upper() not in LANGUAGES:
        raise TapParameterError(f"LANG={lang} is not supported (use one of {', '.join(LANGUAGES)})")
    query = params.get("query")
    if query is None or not query.strip():
        raise TapParameterError("the QUERY parameter is missing or empty")
    return QueryParameters(
        query=query,
        response_format=params.get("responseformat") or params.get("format"),
        maxrec=parse_maxrec(params.get("maxrec")),
        upload=params.get("upload"),
        run_id=params.get("runid"),
    )


def parse_maxrec(text):
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise TapParameterError(f"MAXREC must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise TapParameterError(f"MAXREC must be a non-negative integer, got {text!r}")
    return value


def effective_maxrec(requested, settings):
    """Rows the answer may hold: the request's MAXREC (else the default), never above the limit."""
    wanted = settings["tap_maxrec_default"] if requested is None else requested
    return min(wanted, settings["tap_maxrec_limit"])
