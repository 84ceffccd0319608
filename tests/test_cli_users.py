"""`qserv user` and `qserv token` from the command line (run as a subprocess, like
tests/test_cli_history.py, so exit codes and messages are the real ones)."""

import re

import pytest

from qserv.instance import init_instance, read_instance
from qserv.meta.store import MetaStore
from qserv.meta.users import get_user, user_for_token
from tests.cli_run import ok, run, user_error as stated_user_error


def user_error(result, fragment):
    stated_user_error(result, fragment)
    assert result.stdout == ""


@pytest.fixture
def home(tmp_path):
    return init_instance(tmp_path / "home", workers=1)


def lookup(home, token):
    """(user name, is_admin) of a token, or None, read straight from the central state."""
    store = MetaStore(read_instance(home)["meta_url"])
    try:
        with store.session() as session:
            user = user_for_token(session, token)
            return None if user is None else (user.name, user.is_admin)
    finally:
        store.dispose()


def test_users_and_tokens_round_trip(home):
    assert ok(run(home, "user", "list")) == "no users\n"
    assert ok(run(home, "user", "add", "alice")) == "added user alice\n"
    assert ok(run(home, "user", "add", "root@lab", "--admin")) == "added admin root@lab\n"

    created = run(home, "token", "create", "alice", "--label", "laptop")
    token = ok(created)
    # only the token on stdout, so that TOKEN=$(qserv token create alice) works
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}\n", token) and created.stderr == ""
    token = token.strip()
    admin_token = ok(run(home, "token", "create", "root@lab")).strip()
    assert lookup(home, token) == ("alice", False)
    assert lookup(home, admin_token) == ("root@lab", True)
    store = MetaStore(read_instance(home)["meta_url"])
    with store.session() as session:
        assert get_user(session, "alice").tokens[0].label == "laptop"
    store.dispose()

    assert ok(run(home, "user", "list")).splitlines() == ["name\tadmin\ttokens", "alice\tno\t1", "root@lab\tyes\t1"]
    assert ok(run(home, "token", "revoke", "alice")) == "revoked 1 token(s) of alice\n"
    assert lookup(home, token) is None and lookup(home, admin_token) == ("root@lab", True)
    assert ok(run(home, "user", "list")).splitlines()[1] == "alice\tno\t0"

    assert ok(run(home, "user", "remove", "root@lab")) == "removed user root@lab and 1 token(s)\n"
    assert lookup(home, admin_token) is None
    assert ok(run(home, "user", "list")).splitlines() == ["name\tadmin\ttokens", "alice\tno\t0"]


def test_errors_exit_2_with_a_message(home):
    ok(run(home, "user", "add", "alice"))
    user_error(run(home, "user", "add", "alice"), "error: user 'alice' already exists")
    user_error(run(home, "user", "add", "al ice"), "error: invalid user name 'al ice'")
    user_error(run(home, "user", "add", "anonymous"), "reserved for requests without a token")
    user_error(run(home, "user", "remove", "bob"), "error: no user 'bob'")
    user_error(run(home, "token", "create", "bob"), "error: no user 'bob'")
    user_error(run(home, "token", "revoke", "bob"), "error: no user 'bob'")
    assert run(home, "token", "create").returncode == 2  # missing USER: a usage error
