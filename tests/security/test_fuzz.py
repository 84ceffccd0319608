"""Property-based fuzzing of the query front end (issue 14): random and mutated queries, built
from the tokens of the slt corpus (tests/slt), through Engine.explain / Engine.query and through
/sync (Flask's test client). Whatever the text, the answer is a result or a user error (a
UserError, an HTTP status below 500) with a message, never a crash, a 5xx or a traceback.

Bounded for CI: derandomized (the same examples every run), ``EXAMPLES`` examples per property,
each query under a 5 s time limit, a small DuckDB instance holding the slt dataset.
"""

from pathlib import Path
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pytest

import qserv
from qserv.errors import QservError
from qserv.instance import init_instance
from qserv.sql.adql import DIALECTS

SLT = Path(__file__).resolve().parents[1] / "slt"
sys.path.insert(0, str(SLT))  # tests run with --import-mode=importlib
from dataset import build_sharded  # noqa: E402
from slt_format import load_corpus  # noqa: E402

EXAMPLES = 1500  # per property: about 20 s for the whole module on 2 cores
TIME_LIMIT_S = 5
CORPUS = sorted({(record.lang, record.sql) for record in load_corpus(SLT)})
# Extra material the corpus lacks: deep nesting, odd literals and names, other statements.
EXTRA_TOKENS = ["(", ")", "NOT", "-", "TOP", "LIMIT", "OFFSET", "1.5", "1e-400", "0", "-1",
                "99999999999999999999999", "..", ".", "'", '"', "`", ";", "CAST", "AS", "INTEGER",
                "UNION", "WITH", "RECURSIVE", "CASE", "END", "NULL", "*", "/", "%", "||", "DROP",
                "INSERT", "COPY", "TAP_UPLOAD.t", "TAP_SCHEMA.tables", "'nan'", "1e309", "\\", "\n"]


def _tokens(lang, text):
    """The token texts of a query as written (strings keep their quotes), or None."""
    try:
        tokens = DIALECTS[lang]().tokenize(text)
    except Exception:  # an unterminated string of the error corpus
        return None
    return [text[token.start:token.end + 1] for token in tokens]


SEEDS = [(lang, tokens) for lang, text in CORPUS if (tokens := _tokens(lang, text))]
POOL = sorted({token for _, tokens in SEEDS for token in tokens} | set(EXTRA_TOKENS))


@st.composite
def mutated(draw):
    """A corpus query with a few tokens deleted, repeated, replaced or inserted."""
    lang, tokens = draw(st.sampled_from(SEEDS))
    tokens = list(tokens)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(tokens)))
        action = draw(st.sampled_from(["delete", "repeat", "replace", "insert"]))
        if action == "insert" or not tokens or position == len(tokens):
            tokens.insert(position, draw(st.sampled_from(POOL)))
        elif action == "delete":
            del tokens[position]
        elif action == "repeat":
            tokens[position:position] = [tokens[position]] * draw(st.integers(1, 60))
        else:
            tokens[position] = draw(st.sampled_from(POOL))
    return lang, " ".join(tokens)


@st.composite
def random_tokens(draw):
    """SELECT followed by random corpus tokens (grammar-ish: mostly nonsense, sometimes valid)."""
    lang = draw(st.sampled_from(sorted(DIALECTS)))
    body = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=30))
    return lang, " ".join(["SELECT", *body])


QUERIES = st.one_of(mutated(), random_tokens(), st.tuples(st.sampled_from(sorted(DIALECTS)), st.text(max_size=80)))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    home = tmp_path_factory.mktemp("fuzz") / "home"
    init_instance(home, workers=2)
    with qserv.open(home) as opened:
        build_sharded(opened)
        opened.publish("sky")
        opened.settings["tap_sync_timeout_s"] = TIME_LIMIT_S
        yield opened




def _answered_or_refused(call):
    """Run ``call``; a QservError must be the user's (status below 500) and say something."""
    try:
        call()
    except QservError as error:
        assert error.http_status < 500, f"{type(error).__name__} ({error.http_status}): {error}"
        assert str(error).strip()


def test_corpus_seeds_are_many():
    assert len(SEEDS) > 200 and len(POOL) > 300


@FUZZ
@given(QUERIES)
def test_front_end_refuses_bad_queries_cleanly(engine, query):
    lang, text = query
    _answered_or_refused(lambda: engine.explain(text, lang=lang))


@FUZZ
@given(mutated())
def test_engine_answers_or_refuses_mutated_queries(engine, query):
    lang, text = query
    _answered_or_refused(lambda: engine.query(text, lang=lang, timeout_s=TIME_LIMIT_S))


@FUZZ
@given(st.one_of(mutated().filter(lambda q: q[0] == "adql"), random_tokens()))
def test_sync_never_answers_5xx_or_a_traceback(client, query):
    _, text = query
    response = client.post("/tap/sync", data={"LANG": "ADQL", "FORMAT": "csv", "QUERY": text})
    assert response.status_code < 500, (text, response.data[:500])
    assert b"Traceback" not in response.data and b"internal error" not in response.data, text
