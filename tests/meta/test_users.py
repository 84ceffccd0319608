"""Users and bearer tokens in the central state: only token hashes are stored."""

import hashlib
import os
import re

import pytest
from sqlalchemy import text

from qserv.errors import NotFoundError, UserError
from qserv.meta.models import Token, User
from qserv.meta.users import (
    active_tokens, add_user, check_user_name, create_token, get_user, list_users, remove_user, revoke_tokens,
    token_sha256, user_for_token,
)


def test_add_get_and_list_users(store):
    with store.session() as session:
        add_user(session, "bob")
        add_user(session, "alice@example.org", is_admin=True)
    with store.session() as session:
        alice = get_user(session, "alice@example.org")
        assert (alice.name, alice.is_admin, alice.tokens) == ("alice@example.org", True, [])
        assert alice.created_at is not None
        assert get_user(session, "bob").is_admin is False
        assert [(u.name, u.is_admin) for u in list_users(session)] == [("alice@example.org", True), ("bob", False)]


def test_no_users(store):
    with store.session() as session:
        assert list_users(session) == []
        with pytest.raises(NotFoundError, match="no user 'carol'"):
            get_user(session, "carol")


def test_duplicate_user(store):
    with store.session() as session:
        add_user(session, "alice")
    with store.session() as session, pytest.raises(UserError, match="user 'alice' already exists"):
        add_user(session, "alice", is_admin=True)
    with store.session() as session:
        assert [u.name for u in list_users(session)] == ["alice"]


@pytest.mark.parametrize("name", ["a", "A.b-c_d@e", "0", "x" * 64])
def test_valid_user_names(name):
    assert check_user_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 65, "al ice", "alice!", "bob/..", "é", "a\nb", None, 7])
def test_invalid_user_names(store, name):
    message = "invalid user name " + repr(name) + ": use 1 to 64 letters, digits, '_', '-', '.' or '@'"
    with store.session() as session, pytest.raises(UserError, match=re.escape(message)):
        add_user(session, name)


def test_anonymous_is_reserved(store):
    with store.session() as session, pytest.raises(UserError, match="'anonymous' is reserved"):
        add_user(session, "anonymous")


def test_a_token_finds_its_user_and_records_its_use(store):
    with store.session() as session:
        add_user(session, "alice")
        add_user(session, "bob")
        token = create_token(session, "alice", label="laptop")
        bob_token = create_token(session, "bob")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token) and token != bob_token
    with store.session() as session:
        [row] = get_user(session, "alice").tokens
        assert (row.label, row.revoked, row.last_used_at) == ("laptop", False, None)
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest() == token_sha256(token)
        assert user_for_token(session, token).name == "alice"
        assert user_for_token(session, bob_token).name == "bob"
    with store.session() as session:
        assert get_user(session, "alice").tokens[0].last_used_at is not None
        assert get_user(session, "bob").tokens[0].last_used_at is not None


@pytest.mark.parametrize("token", ["", None, "not-a-token", "x" * 43])
def test_unknown_tokens(store, token):
    with store.session() as session:
        add_user(session, "alice")
        create_token(session, "alice")
    with store.session() as session:
        assert user_for_token(session, token) is None


def test_the_plaintext_token_is_stored_nowhere(store):
    with store.session() as session:
        add_user(session, "alice")
        token = create_token(session, "alice", label="ci")
        user_for_token(session, token)
    with store.engine.connect() as connection:
        for table in ("users", "tokens"):
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                assert not any(token in str(value) for value in row), (table, row)
        [stored] = connection.execute(text("SELECT token_sha256 FROM tokens")).scalars()
    assert stored == token_sha256(token) and len(stored) == 64
    # nor in the database file
    path = store.url.removeprefix("sqlite:///")
    data = b"".join(open(name, "rb").read() for name in (path, path + "-wal") if os.path.exists(name))
    assert token.encode() not in data and stored.encode() in data


def test_create_token_needs_a_user(store):
    with store.session() as session, pytest.raises(NotFoundError, match="no user 'carol'"):
        create_token(session, "carol")


def test_revoke_tokens(store):
    with store.session() as session:
        add_user(session, "alice")
        add_user(session, "bob")
        first, second = create_token(session, "alice"), create_token(session, "alice")
        bob_token = create_token(session, "bob")
    with store.session() as session:
        assert revoke_tokens(session, "alice") == 2
    with store.session() as session:
        assert user_for_token(session, first) is None and user_for_token(session, second) is None
        assert user_for_token(session, bob_token).name == "bob"
        alice = get_user(session, "alice")
        assert [t.revoked for t in alice.tokens] == [True, True] and active_tokens(alice) == []
        assert revoke_tokens(session, "alice") == 0  # nothing left to revoke
        third = create_token(session, "alice")  # a new token works again
        assert user_for_token(session, third).name == "alice"
        assert len(active_tokens(get_user(session, "alice"))) == 1
        with pytest.raises(NotFoundError, match="no user 'carol'"):
            revoke_tokens(session, "carol")


def test_remove_user_removes_its_tokens(store):
    with store.session() as session:
        add_user(session, "alice")
        add_user(session, "bob")
        token = create_token(session, "alice")
        create_token(session, "alice")
        create_token(session, "bob")
    with store.session() as session:
        assert remove_user(session, "alice") == 2
    with store.session() as session:
        assert [u.name for u in list_users(session)] == ["bob"]
        assert session.query(Token).count() == 1
        assert user_for_token(session, token) is None
        with pytest.raises(NotFoundError, match="no user 'alice'"):
            remove_user(session, "alice")
        add_user(session, "alice")  # the name can be used again; the old token stays invalid
    with store.session() as session:
        assert user_for_token(session, token) is None
        assert session.query(User).count() == 2
