"""Who is asking: a bearer token names a user; without one the request is ``anonymous`` when the
instance allows anonymous reads (setting ``tap_anonymous_read``)."""

from dataclasses import dataclass

from qserv.errors import AuthenticationError
from qserv.meta.users import ANONYMOUS


@dataclass(frozen=True)
class Caller:
    name: str
    is_admin: bool = False


def caller_of(engine, authorization, anonymous_allowed):
    """The Caller of a request with this ``Authorization`` header value (or None)."""
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        account = engine.users.for_token(token.strip())
        if account is None:
            raise AuthenticationError("the bearer token is unknown or revoked")
        return Caller(account.name, account.is_admin)
    if not anonymous_allowed:
        raise AuthenticationError("this service needs a bearer token (Authorization: Bearer <token>); "
                                  "ask an administrator for one (qserv token create USER)")
    return Caller(ANONYMOUS)
