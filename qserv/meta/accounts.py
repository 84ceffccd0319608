"""The facade of TAP users and tokens (``Engine.users``): each call is one transaction of the
central state, so the CLI and the TAP service never hold a session (the rules: ``qserv.meta.users``)."""

from dataclasses import dataclass

from qserv.meta.users import active_tokens, add_user, create_token, list_users, remove_user, revoke_tokens, user_for_token


@dataclass(frozen=True)
class Account:
    name: str
    is_admin: bool
    active_tokens: int = 0


class Accounts:
    def __init__(self, store):
        self._store = store

    def add(self, name, is_admin=False):
        """Add user ``name`` (an existing name is a UserError)."""
        with self._store.session() as session:
            add_user(session, name, is_admin=is_admin)

    def list(self):
        """Every user as an Account (with its count of active tokens), by name."""
        with self._store.session() as session:
            return [Account(user.name, user.is_admin, len(active_tokens(user))) for user in list_users(session)]

    def remove(self, name):
        """Remove user ``name`` and its tokens; returns how many tokens were deleted."""
        with self._store.session() as session:
            return remove_user(session, name)

    def create_token(self, name, label=None):
        """A new token of user ``name``: the plaintext is returned here and never again."""
        with self._store.session() as session:
            return create_token(session, name, label=label)

    def revoke_tokens(self, name):
        """Revoke every token of user ``name``; returns how many were still active."""
        with self._store.session() as session:
            return revoke_tokens(session, name)

    def for_token(self, token):
        """The Account a valid token belongs to, or None for an unknown or revoked token (its last
        use is recorded as ``user_for_token`` does)."""
        with self._store.session() as session:
            user = user_for_token(session, token)
            return None if user is None else Account(user.name, user.is_admin)
