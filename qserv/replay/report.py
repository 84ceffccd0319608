"""Replay reports: ``text`` (one line per query, regressions first, differing rows indented,
a summary line last), ``json`` (one document) and ``junit`` (JUnit XML: a testcase per query, a
failure for each changed answer, so CI systems show them)."""

import json
from xml.etree import ElementTree

from qserv.replay.compare import CHANGED, ORDER, ordered
TEXT_WIDTH = 100


def counts(verdicts):
    found = {kind: 0 for kind in ORDER}
    for verdict in verdicts:
        found[verdict.kind] += 1
    return found


def summary(verdicts, elapsed_s):
    """The last line: how many queries of each kind, and the replay rate."""
    found = counts(verdicts)
    run = len(verdicts) - found["not run"]
    parts = ", ".join(f"{n} {kind}" for kind, n in found.items() if n)
    rate = f"{run / elapsed_s:.1f} queries/s" if elapsed_s > 0 else "-"
    return f"replayed {run} of {len(verdicts)} queries in {elapsed_s:.2f} s ({rate}): {parts or 'nothing'}"


def _one_line(text, width=TEXT_WIDTH):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def text_report(verdicts, elapsed_s, show_same=False):
    lines = []
    for verdict in ordered(verdicts):
        if verdict.kind == "same" and not show_same:
            continue
        detail = f" ({verdict.detail})" if verdict.detail else ""
        lines.append(f"{verdict.kind.upper()}\t{verdict.entry.name}\t{_one_line(verdict.entry.text)}{detail}")
        lines.extend(f"    - {row}" for row in verdict.missing)
        lines.extend(f"    + {row}" for row in verdict.extra)
    lines.append(summary(verdicts, elapsed_s))
    return "\n".join(lines) + "\n"


def _verdict_json(verdict):
    outcome = verdict.outcome
    return {"name": verdict.entry.name, "kind": verdict.kind, "detail": verdict.detail, "query": verdict.entry.text,
            "before": {"status": verdict.entry.status, "rows": verdict.entry.rows,
                       "checksum": verdict.entry.checksum, "duration_s": verdict.entry.duration_s},
            "after": None if outcome is None else {"status": outcome.status, "rows": outcome.rows,
                                                   "checksum": outcome.checksum, "duration_s": outcome.duration_s,
                                                   "error": outcome.error},
            "missing_rows": verdict.missing, "extra_rows": verdict.extra}


def json_report(verdicts, elapsed_s):
    return json.dumps({"verdicts": [_verdict_json(v) for v in ordered(verdicts)], "counts": counts(verdicts),
                       "elapsed_s": elapsed_s, "summary": summary(verdicts, elapsed_s)}, default=str, indent=1) + "\n"


def junit_report(verdicts, elapsed_s, suite="qserv-replay"):
    found = counts(verdicts)
    root = ElementTree.Element("testsuites")
    element = ElementTree.SubElement(root, "testsuite", name=suite, tests=str(len(verdicts)),
                                     failures=str(sum(found[k] for k in CHANGED)),
                                     skipped=str(found["not run"]), time=f"{elapsed_s:.3f}")
    for verdict in verdicts:
        case = ElementTree.SubElement(element, "testcase", classname=suite, name=verdict.entry.name,
                                      time=f"{verdict.outcome.duration_s if verdict.outcome else 0:.3f}")
        body = "\n".join([verdict.entry.text, *(f"- {r}" for r in verdict.missing),
                          *(f"+ {r}" for r in verdict.extra)])
        if verdict.kind in CHANGED:
            ElementTree.SubElement(case, "failure", type=verdict.kind,
                                   message=f"{verdict.kind}: {verdict.detail}").text = body
        elif verdict.kind == "not run":
            ElementTree.SubElement(case, "skipped", message=verdict.detail)
        elif verdict.kind != "same":
            ElementTree.SubElement(case, "system-out").text = f"{verdict.kind}: {verdict.detail}"
    ElementTree.SubElement(element, "system-out").text = summary(verdicts, elapsed_s)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def render(verdicts, elapsed_s, format_="text"):
    return {"text": text_report, "json": json_report, "junit": junit_report}[format_](verdicts, elapsed_s)
