"""Parser of the corpus files (``tests/slt/*.slt``); the format is described in README.md.

Records are separated by blank lines; ``#`` starts a comment line (outside a record, or between
the lines of one: comment lines are dropped). Two kinds of record::

    query <types> [rowsort|nosort] [lang=adql|qserv] [db=NAME] [tol=FLOAT]
    SELECT ...                      (one or more lines)

    error [lang=adql|qserv] [db=NAME]
    SELECT ...                      (one or more lines)
    ~ expected error substring

A malformed record raises ``SltFormatError`` naming the file and the line.
"""

import re
from dataclasses import dataclass
from pathlib import Path

TYPE_LETTERS = "IRTB"
LANGUAGES = ("adql", "qserv")
DEFAULTS = {"lang": "adql", "db": "sky", "tol": 1e-9}


class SltFormatError(ValueError):
    """A corpus file does not follow the record format."""

    def __init__(self, file, line, message):
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line = str(file), line


@dataclass(frozen=True)
class Record:
    kind: str  # "query" or "error"
    sql: str
    types: str | None  # one letter per result column (query records)
    sort: str | None  # "rowsort" or "nosort" (query records)
    lang: str
    db: str | None
    tol: float
    error_substring: str | None  # error records
    file: str
    line: int  # of the header

    @property
    def id(self):
        return f"{Path(self.file).name}:{self.line}"


def _options(words, allowed, file, line):
    options = dict(DEFAULTS)
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or key not in allowed:
            raise SltFormatError(file, line, f"unexpected word {word!r} in the record header "
                                             f"(options: {', '.join(f'{k}=' for k in allowed)})")
        if key == "lang":
            if value not in LANGUAGES:
                raise SltFormatError(file, line, f"lang must be one of {', '.join(LANGUAGES)}, got {value!r}")
            options["lang"] = value
        elif key == "db":
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|none", value):
                raise SltFormatError(file, line, f"bad database name {value!r}")
            options["db"] = None if value == "none" else value
        elif key == "tol":
            try:
                options["tol"] = float(value)
            except ValueError:
                raise SltFormatError(file, line, f"tol must be a number, got {value!r}") from None
            if not options["tol"] >= 0:
                raise SltFormatError(file, line, f"tol must be >= 0, got {value!r}")
    return options


def _record(block, file):
    """A Record from the non-comment lines of one block: [(line number, text)]."""
    header_line, header = block[0]
    words = header.split()
    body = block[1:]
    if words[0] == "query":
        if len(words) < 2 or not re.fullmatch(f"[{TYPE_LETTERS}]+", words[1]):
            raise SltFormatError(file, header_line, "a query header needs the result column types, one "
                                                    f"letter of {TYPE_LETTERS} per column, after 'query'")
        rest = words[2:]
        sort = "rowsort"
        if rest and rest[0] in ("rowsort", "nosort"):
            sort, rest = rest[0], rest[1:]
        options = _options(rest, ("lang", "db", "tol"), file, header_line)
        if not body:
            raise SltFormatError(file, header_line, "the query record has no query text")
        for number, text in body:
            if text.startswith("~ ") or text == "~":
                raise SltFormatError(file, number, "an expected error line in a query record "
                                                   "(use an 'error' record)")
        return Record("query", "\n".join(t for _, t in body), words[1], sort, options["lang"],
                      options["db"], options["tol"], None, str(file), header_line)
    if words[0] == "error":
        options = _options(words[1:], ("lang", "db"), file, header_line)
        if not body or not body[-1][1].startswith("~ ") or not body[-1][1][2:].strip():
            last = body[-1][0] if body else header_line
            raise SltFormatError(file, last, "an error record must end with a line '~ <expected error "
                                             "substring>'")
        if len(body) < 2:
            raise SltFormatError(file, header_line, "the error record has no query text")
        for number, text in body[:-1]:
            if text.startswith("~"):
                raise SltFormatError(file, number, "only the last line of an error record may start with '~'")
        return Record("error", "\n".join(t for _, t in body[:-1]), None, None, options["lang"],
                      options["db"], DEFAULTS["tol"], body[-1][1][2:].strip(), str(file), header_line)
    raise SltFormatError(file, header_line, f"a record starts with 'query' or 'error', got {words[0]!r}")


def parse_text(text, file="<string>"):
    """The records of one corpus file's text."""
    records, block = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip():
            if block:
                records.append(_record(block, file))
                block = []
        elif line.lstrip().startswith("#"):
            continue
        else:
            block.append((number, line))
    if block:
        records.append(_record(block, file))
    return records


def parse_file(path):
    path = Path(path)
    return parse_text(path.read_text(encoding="utf-8"), path)


def load_corpus(directory=None):
    """Every record of every ``*.slt`` file of ``directory`` (default: this folder), in file order."""
    directory = Path(directory or Path(__file__).parent)
    records = []
    for path in sorted(directory.glob("*.slt")):
        records.extend(parse_file(path))
    return records
