"""Users of the TAP service and their bearer tokens, in the central state.

Pure functions over a SQLAlchemy session (the caller owns the transaction). A token is
``secrets.token_urlsafe(32)``, returned once by :func:`create_token`; only its SHA-256 (hex) is
stored, so a token is found by hashing what the client sends (:func:`user_for_token`), which
records the token's last use at most once per ``LAST_USE_STEP`` (no write on most requests). The
user name ``anonymous`` is reserved: it owns the jobs of requests made without a token.
"""

from datetime import timedelta
import hashlib
import re
import secrets

from sqlalchemy import select

from qserv.errors import NotFoundError, UserError
from qserv.meta.models import Token, User, utc_now

ANONYMOUS = "anonymous"
USER_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
LAST_USE_STEP = timedelta(minutes=1)


def check_user_name(name):
    """A user name: 1 to 64 letters, digits, ``_``, ``-``, ``.`` or ``@``; not ``anonymous``."""
    if not isinstance(name, str) or not USER_NAME.fullmatch(name):
        raise UserError(f"invalid user name {name!r}: use 1 to 64 letters, digits, '_', '-', '.' or '@'")
    if name == ANONYMOUS:
        raise UserError(f"the user name {ANONYMOUS!r} is reserved for requests without a token")
    return name


def token_sha256(token):
    """The hex SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(session, name, is_admin=False):
    """A new user (flushed, not committed); an existing name is an error."""
    check_user_name(name)
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise UserError(f"user {name!r} already exists")
    user = User(name=name, is_admin=bool(is_admin), created_at=utc_now())
    session.add(user)
    session.flush()
    return user


def get_user(session, name):
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFoundError(f"no user {name!r}")
    return user


def list_users(session):
    """Every user, by name."""
    return list(session.scalars(select(User).order_by(User.name)))


def active_tokens(user):
    """The user's tokens that are not revoked."""
    return [token for token in user.tokens if not token.revoked]


def remove_user(session, name):
    """Delete a user and all of its tokens; returns how many tokens were deleted. The user's
    TAP jobs stay until they expire."""
    user = get_user(session, name)
    count = len(user.tokens)
    session.delete(user)  # the tokens go with it (cascade)
    session.flush()
    return count


def create_token(session, user_name, label=None):
    """A new token of user ``user_name``: the plaintext is returned here and never again."""
    user = get_user(session, user_name)
    token = secrets.token_urlsafe(32)
    session.add(Token(user=user, token_sha256=token_sha256(token), label=label, created_at=utc_now(),
                      revoked=False))
    session.flush()
    return token


def user_for_token(session, token):
    """The user a valid token belongs to, or None for an unknown or revoked token. The token's
    last use is written when the one stored is older than ``LAST_USE_STEP`` (or missing)."""
    if not isinstance(token, str) or not token:
        return None
    row = session.scalar(select(Token).where(Token.token_sha256 == token_sha256(token)))
    if row is None or row.revoked:
        return None
    now = utc_now()
    if row.last_used_at is None or not timedelta(0) <= now - row.last_used_at < LAST_USE_STEP:
        row.last_used_at = now
        session.flush()
    return row.user


def revoke_tokens(session, user_name):
    """Revoke every token of user ``user_name``; returns how many were still active."""
    tokens = active_tokens(get_user(session, user_name))
    for token in tokens:
        token.revoked = True
    session.flush()
    return len(tokens)
