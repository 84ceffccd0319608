"""Fetching an http(s) UPLOAD URL without reaching inside the server's network (SSRF).

Every hop (the URL, then each redirect, at most ``MAX_REDIRECTS``) is resolved once and every
address it resolves to must be public: loopback, private, shared, link-local, multicast, reserved
and unspecified addresses are refused unless the host name or the address is in the allow-list.
The server's own port on any address of this machine is refused even then. The connection goes
to the address that was checked (no second lookup a DNS answer could change), no proxy is used,
one deadline covers the whole fetch (a timer closes the socket when it passes) and the body is
read up to a byte limit.
Any failure is a :class:`FetchError` whose text is for the log only: callers show one generic
message, so answers do not tell open ports from closed ones.
"""

from dataclasses import dataclass
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
READ_BYTES = 1 << 16
DEFAULT_PORTS = {"http": 80, "https": 443}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(Exception):
    """Why a fetch failed (for the log; users see one generic text)."""


@dataclass(frozen=True)
class FetchPolicy:
    allowed_names: frozenset = frozenset()  # lower-case host names reachable although not public
    allowed_networks: tuple = ()  # ip networks reachable although not public
    own_ports: frozenset = frozenset()  # ports this server answers on
    max_bytes: int = 256 << 20
    timeout_s: float = 30.0


def allow_list(text):
    """(host names, ip networks) of a comma-separated allow-list setting."""
    names, networks = set(), []
    for entry in filter(None, (part.strip().lower() for part in (text or "").split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return frozenset(names), tuple(networks)


def is_public(address):
    """True for an address that is neither loopback, private, shared, link-local, multicast,
    reserved nor unspecified. An IPv6 address carrying an IPv4 one (mapped, 6to4, NAT64) is judged
    by the IPv4 address."""
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            address = embedded
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_loopback
                                      or address.is_link_local or address.is_unspecified)


def is_local(address):
    """True for an address of this machine: loopback, unspecified, or one a socket can bind to."""
    if address.is_loopback or address.is_unspecified:
        return True
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:
            return False
    return True


def check_target(host, address, port, policy):
    """Raise FetchError unless ``host`` at ``address``:``port`` may be fetched under ``policy``."""
    if port in policy.own_ports and is_local(address):
        raise FetchError(f"{host} ({address}) port {port} is this server")
    if is_public(address):
        return
    if host.lower().rstrip(".") in policy.allowed_names or any(address in net for net in policy.allowed_networks):
        return
    raise FetchError(f"{host} resolves to {address}, which is not a public address")


def fetch(url, policy):
    """The body of a 200 answer to GET ``url``, following redirects; FetchError otherwise."""
    deadline = time.monotonic() + policy.timeout_s
    for _ in range(MAX_REDIRECTS + 1):
        status, location, body = _get(url, policy, deadline)
        if status == 200:
            return body
        if status not in REDIRECTS or not location:
            raise FetchError(f"{url} answered HTTP {status}")
        url = urljoin(url, location)
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _get(url, policy, deadline):
    """(status, Location header, body of a 200) of one GET, without following redirects."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError as error:
        raise FetchError(f"bad URL {url!r}: {error}") from None
    if scheme not in DEFAULT_PORTS or not host:
        raise FetchError(f"not an http(s) URL: {url!r}")
    port = port or DEFAULT_PORTS[scheme]
    address = _resolve(host, port, policy)
    connection = _PinnedConnection(scheme, host, port, address, _remaining(deadline))
    watchdog = threading.Timer(_remaining(deadline), connection.close_socket)
    watchdog.start()
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path, headers={"Accept-Encoding": "identity", "User-Agent": "qserv-tap"})
        response = connection.getresponse()
        if response.status != 200:
            return response.status, response.getheader("Location"), None
        return 200, None, _body(response, policy.max_bytes, deadline)
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise FetchError(f"{url}: {error!r}") from None
    finally:
        watchdog.cancel()
        connection.close()


def _resolve(host, port, policy):
    """The first address of ``host``, every one of its addresses checked."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise FetchError(f"cannot resolve {host!r}: {error}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in found]
    if not addresses:
        raise FetchError(f"{host!r} has no address")
    for address in addresses:
        check_target(host, address, port, policy)
    return addresses[0]


def _remaining(deadline):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError("the time limit passed")
    return remaining


def _body(response, max_bytes, deadline):
    pieces, size = [], 0
    while True:
        _remaining(deadline)
        piece = response.read1(READ_BYTES)
        if not piece:
            _remaining(deadline)  # the deadline timer ends a read as if the body ended
            return b"".join(pieces)
        size += len(piece)
        if size > max_bytes:
            raise FetchError(f"larger than {max_bytes} bytes")
        pieces.append(piece)


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to ``host`` made to the address already checked; HTTPS verifies the
    certificate against ``host``."""

    def __init__(self, scheme, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address, self._tls = str(address), scheme == "https"
        self._lock = threading.Lock()

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        if self._tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        with self._lock:
            self.sock = sock

    def close_socket(self):
        """Stop any read or write in progress (called by the deadline timer)."""
        with self._lock:
            if self.sock is not None:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
