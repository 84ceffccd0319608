"""Classifying a re-run (pure): ``classify(entry, outcome, slower_factor, min_slower_s)``.

Kinds, regressions first (``ORDER``): ``different`` (both answered, the answers differ: columns,
row count or row checksum), ``new error`` (answered before, fails now), ``slower`` (beyond the
factor and by more than ``min_slower_s``), then ``fixed error`` (failed before, answers now),
``faster``, ``same``, and ``not run`` (the time budget ran out first). An answer ``changed``
when it is different, a new error or a fixed error (``qserv replay`` then exits 1).
"""

from dataclasses import dataclass, field

from qserv.fingerprint import unmatched_rows

ORDER = ("different", "new error", "slower", "fixed error", "faster", "same", "not run")
CHANGED = ("different", "new error", "fixed error")
SHOWN_ROWS = 5  # differing rows shown per side
MIN_SLOWER_S = 0.005


@dataclass
class Outcome:
    """A re-run: ``status`` ok or error (``error``), its answer's fingerprint, duration and
    (when ok) the answer itself."""

    status: str
    duration_s: float
    error: str | None = None
    rows: int | None = None
    result_columns: list | None = None
    checksum: str | None = None
    answer: object = field(default=None, repr=False)  # pyarrow.Table


@dataclass
class Verdict:
    entry: object  # qserv.replay.sources.Logged
    outcome: Outcome | None  # None: not run
    kind: str
    detail: str = ""
    missing: list = field(default_factory=list)  # rows of the old answer not in the new (dicts)
    extra: list = field(default_factory=list)  # rows of the new answer not in the old


def _names(columns):
    return [name for name, _ in columns or []]


def answer_difference(entry, outcome):
    """Why two ok answers differ ("" when they do not): columns, then rows and checksum."""
    if entry.result_columns is not None:
        if _names(entry.result_columns) != _names(outcome.result_columns):
            return f"columns {_names(entry.result_columns)} -> {_names(outcome.result_columns)}"
        if entry.expected is None and entry.result_columns != outcome.result_columns:
            return f"column types {entry.result_columns} -> {outcome.result_columns}"
    if entry.rows is not None and entry.rows != outcome.rows:
        return f"{entry.rows} rows -> {outcome.rows} rows"
    if entry.checksum is not None and entry.checksum != outcome.checksum:
        return f"same row count, row checksum {entry.checksum} -> {outcome.checksum}"
    return ""


def classify(entry, outcome, slower_factor=2.0, min_slower_s=MIN_SLOWER_S):
    """The Verdict of ``outcome`` (None: not run) against ``entry``."""
    if outcome is None:
        return Verdict(entry, None, "not run", "time budget spent")
    if entry.status == "error":
        if outcome.status == "error":
            return Verdict(entry, outcome, "same", "error both times")
        return Verdict(entry, outcome, "fixed error", f"was: {entry.error}")
    if outcome.status == "error":
        return Verdict(entry, outcome, "new error", outcome.error or "")
    difference = answer_difference(entry, outcome)
    if difference:
        verdict = Verdict(entry, outcome, "different", difference)
        if entry.expected is not None and outcome.answer is not None:
            with_rows(verdict, entry.expected, outcome.answer)
        return verdict
    before, now = entry.duration_s, outcome.duration_s
    if before is not None and now > before * slower_factor and now - before > min_slower_s:
        return Verdict(entry, outcome, "slower", f"{before * 1000:.1f} ms -> {now * 1000:.1f} ms")
    if before is not None and now * slower_factor < before and before - now > min_slower_s:
        return Verdict(entry, outcome, "faster", f"{before * 1000:.1f} ms -> {now * 1000:.1f} ms")
    return Verdict(entry, outcome, "same")


def with_rows(verdict, old, new, shown=SHOWN_ROWS):
    """Fill the first differing rows of a ``different`` verdict from the old and new answers."""
    if old.column_names != new.column_names:
        return verdict
    missing, extra = unmatched_rows(old, new)
    verdict.missing = old.take(missing[:shown]).to_pylist()
    verdict.extra = new.take(extra[:shown]).to_pylist()
    return verdict


def ordered(verdicts):
    """Regressions first (``ORDER``), then in replay order."""
    return sorted(verdicts, key=lambda v: ORDER.index(v.kind))


def changed(verdicts):
    return any(v.kind in CHANGED for v in verdicts)
