"""TAP request parameters (TAP 1.1 / DALI): names are case-insensitive, values are not; unknown
parameters are ignored. Pure functions over a plain {name: value} mapping."""

from dataclasses import dataclass
import math

from qserv.errors import TapParameterError

LANGUAGES = ("ADQL", "ADQL-2.0", "ADQL-2.1")


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
    as_of: str | None = None  # AS_OF: a snapshot name (qserv snapshot tag): the rows of then


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
        as_of=params.get("as_of") or None,
    )


def parse_maxrec(text):
    if text is None or text == "":
        return None
    return parse_whole(text, "MAXREC", 0)


def parse_whole(text, name, minimum, maximum=None):
    """A whole number parameter in [minimum, maximum] (no maximum: any larger value is kept)."""
    value = _number(text, name, int, "a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise TapParameterError(f"{name} must be a whole number {bounds}, got {_shown(text)}")
    return value


def parse_execution_duration(text):
    """EXECUTIONDURATION: a positive whole number of seconds."""
    return parse_whole(text, "EXECUTIONDURATION", 1)


def parse_wait(text, maximum_s):
    """Seconds a job GET may block (UWS WAIT): none without WAIT, the maximum for a negative WAIT
    (UWS: as long as the service allows), else the value cut to the maximum. A value that is not
    a finite number is an error."""
    if text is None or text == "":
        return 0.0
    value = _number(text, "WAIT", float, "a number of seconds")
    if not math.isfinite(value):
        raise TapParameterError(f"WAIT must be a finite number of seconds, got {text!r}")
    return float(maximum_s) if value < 0 else min(value, float(maximum_s))


def _number(text, name, kind, what):
    try:
        return kind(str(text).strip())
    except (TypeError, ValueError):  # int() of over 4300 digits is a ValueError too
        raise TapParameterError(f"{name} must be {what}, got {_shown(text)}") from None


def _shown(text):
    text = repr(text)
    return text if len(text) <= 40 else text[:37] + "..."


def effective_maxrec(requested, settings):
    """Rows the answer may hold: the request's MAXREC (else the default), never above the limit."""
    wanted = settings["tap_maxrec_default"] if requested is None else requested
    return min(wanted, settings["tap_maxrec_limit"])
