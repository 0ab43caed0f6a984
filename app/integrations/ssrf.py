"""Where webhooks may go: the public internet only (a guard against server-side request
forgery), unless RIGHTSDESK_WEBHOOK_ALLOW_PRIVATE says otherwise (tests, on-premises receivers).

A URL registered by the CPO is checked at registration, and again at every delivery: its host
is resolved when the connection is made, every address it resolves to is checked, and the
connection goes to one of those checked addresses. So a host whose DNS answer changes after
registration (DNS rebinding: a public address first, 127.0.0.1 or 169.254.169.254 later) is
caught at the moment it matters. The request keeps the URL's host name: the Host header, the
TLS server name (SNI) and the certificate's host-name check are the original name's.

Refused: loopback, private (RFC 1918, unique-local fc00::/7), link-local (169.254.0.0/16 and
the cloud metadata service on it, fe80::/10), shared address space (CGNAT, 100.64.0.0/10),
multicast, unspecified, reserved and any other non-global address, for IPv4 and IPv6 — an
IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, 6to4, NAT64) is judged by
the IPv4 address it carries. Plain `http://` is refused in production.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from dataclasses import dataclass

import httpcore
import httpx

from app.core.config import Environment, Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the last 32 bits are IPv4
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use prefix (RFC 8215)


class Refused(Exception):
    """A destination the policy refuses. `code` and `reason` are short, name no person and
    may be stored (a delivery's last_error) and logged."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def address_problem(address: str | IPAddress) -> str | None:
    """Why an address is refused ("loopback", "private", …), or None for a public one."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:  # fe80::1%eth0: a zone only makes sense on this host's links
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        carried = ip.ipv4_mapped or ip.sixtofour
        if carried is None and ip in _NAT64:
            carried = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if carried is not None:
            return address_problem(carried)
        if ip in _NAT64_LOCAL:
            return "reserved"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (CGNAT)"
    if any(ip in network for network in _PRIVATE):
        return "private"
    if ip.is_reserved or ip.is_private or not ip.is_global:
        return "reserved"  # documentation, benchmarking and other special-purpose ranges
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address of `host` (A and AAAA), in the system resolver's order. A module-level
    function so that a test can stand in for DNS, an edge we do not own."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Policy:
    allow_private: bool = False
    require_https: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            allow_private=settings.webhook_allow_private,
            require_https=settings.env is Environment.production
            and not settings.webhook_allow_private,
        )

    def check_url(self, url: str) -> httpx.URL:
        """The URL's shape: http(s), a host, no user:password; https in production."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise Refused("invalid_url", "not a valid URL") from None
        if parsed.scheme not in ("http", "https"):
            raise Refused("scheme", "must be an http or https URL")
        if not parsed.host:
            raise Refused("invalid_url", "must name a host")
        if parsed.userinfo:
            # It would be stored and logged as part of the URL; receivers authenticate us by
            # the signature instead.
            raise Refused("credentials", "must not carry a user name or password")
        if self.require_https and parsed.scheme != "https":
            raise Refused("https_required", "must be https in production")
        return parsed

    def check_addresses(self, addresses: typing.Iterable[str]) -> None:
        """Every address must be public: a host with one private address among public ones is
        refused (the connection might go to any of them)."""
        if self.allow_private:
            return
        for address in addresses:
            problem = address_problem(address)
            if problem is not None:
                raise Refused("address_refused", f"resolves to a {problem} address")

    def check_destination(self, url: str) -> httpx.URL:
        """At registration: the URL's shape, then the addresses its host resolves to now."""
        parsed = self.check_url(url)
        if self.allow_private:
            return parsed
        literal = _literal(parsed.host)
        if literal is not None:
            self.check_addresses([str(literal)])
            return parsed
        try:
            addresses = resolve(
                parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)
            )
        except (OSError, UnicodeError):
            raise Refused("unresolvable", "the host name does not resolve") from None
        if not addresses:
            raise Refused("unresolvable", "the host name does not resolve")
        self.check_addresses(addresses)
        return parsed


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, with the check at connect time: resolve the host, check
    every address, connect to a checked one. httpcore then speaks TLS over that socket with
    the URL's host name as server name, so SNI and the certificate check are unchanged."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            raise httpcore.ConnectError("name resolution failed") from None
        if not addresses:
            raise httpcore.ConnectError("name resolution failed")
        self.policy.check_addresses(addresses)
        error: Exception | None = None
        for address in addresses:  # as socket.create_connection does: the first that answers
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over the guarded backend; no proxies from the environment (a proxy
    would make the connection, and the check, somewhere else)."""

    def __init__(self, policy: Policy, *, verify: bool | typing.Any = True) -> None:
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx offers no argument for the network backend: replace the pool it built with
        # the same one on ours (what HTTPTransport.__init__ does, minus proxies and UDS).
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=5)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(policy),
        )


def client(policy: Policy, *, timeout: float, verify: bool | typing.Any = True) -> httpx.Client:
    """An HTTP client for webhooks: guarded, `timeout` for connect, each read and each write,
    redirects not followed, TLS verified, nothing taken from the environment."""
    return httpx.Client(
        transport=GuardedTransport(policy, verify=verify),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )
