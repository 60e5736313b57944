"""Where webhook deliveries may go: the allow-list and the checks that keep deliveries off internal addresses.

A delivery is judged twice. `check_url` judges what the URL alone shows, before a request is made.
`CheckingResolver` judges each address a hostname resolves to, inside aiohttp's connector, so the address
checked is the address connected to and a DNS answer that changes between check and connect (DNS rebinding)
cannot slip through.

aiohttp never calls the resolver for IP literal hosts: it connects to them directly. `check_url` is therefore
the only check an IP literal gets, so it must run before every request, and the session must not follow
redirects (a redirect to an IP literal would be connected to unchecked) nor go through a proxy (the resolver
would then judge the proxy, not the destination).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_exceptions import ClientConnectorError
from aiohttp.resolver import DefaultResolver
from yarl import URL

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_LIST_SETTING = "READINESS_WEBHOOK_ALLOWED_DESTINATIONS"
ALLOW_HTTP_SETTING = "READINESS_WEBHOOK_ALLOW_HTTP"

# Instance metadata services hand out cloud credentials; the IPv4 ones not already link-local are listed here.
METADATA_ADDRESSES: frozenset[Address] = frozenset(
    {
        ipaddress.IPv4Address("169.254.169.254"),
        ipaddress.IPv6Address("fd00:ec2::254"),
        ipaddress.IPv4Address("100.100.100.200"),
    }
)
LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")

# Underscores are not valid in DNS hostnames but do appear in internal names, so they are accepted.
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


class DestinationRefused(Exception):
    """A webhook destination that the allow-list or the address rules forbid."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AllowList:
    """The destinations an operator allows: exact hostnames, `*.domain` wildcards, IP addresses and CIDRs."""

    hostnames: frozenset[str] = frozenset()
    wildcard_domains: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """Parse the comma-separated setting; raises ValueError naming the first invalid entry."""
        hostnames: set[str] = set()
        wildcard_domains: set[str] = set()
        networks: list[Network] = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            network = _network_or_none(entry)
            if network is not None:
                networks.append(network)
                continue
            wildcard = entry.startswith("*.")
            hostname = _normalized_hostname(entry.removeprefix("*."))
            if hostname is None:
                raise ValueError(
                    f"invalid entry {entry!r} in {ALLOW_LIST_SETTING}: "
                    "expected a hostname, *.domain, IP address or CIDR"
                )
            (wildcard_domains if wildcard else hostnames).add(hostname)
        return cls(frozenset(hostnames), frozenset(wildcard_domains), tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.hostnames or self.wildcard_domains or self.networks)

    def names(self, host: str) -> bool:
        """Whether a hostname or wildcard entry matches `host`; wildcards match subdomains only."""
        name = _normalized_host(host)
        return name in self.hostnames or any(name.endswith("." + domain) for domain in self.wildcard_domains)

    def contains(self, address: Address) -> bool:
        return any(address in network for network in self.networks)

    def names_loopback(self, host: str, address: Address) -> bool:
        """Whether loopback is allowed on purpose, not merely inside a wide CIDR such as 0.0.0.0/0."""
        if _normalized_host(host) == "localhost" and "localhost" in self.hostnames:
            return True
        return any(
            address in network and network.network_address.is_loopback and network.broadcast_address.is_loopback
            for network in self.networks
        )


def check_url(url: str, allowed: AllowList, *, allow_http: bool) -> None:
    """Refuse what the URL alone shows to be forbidden; hostnames are judged again once resolved."""
    try:
        parsed = URL(url)
    except ValueError as error:
        raise DestinationRefused(f"{url!r} is not a valid URL: {error}") from error
    scheme = parsed.scheme.lower()
    if scheme == "http" and not allow_http:
        raise DestinationRefused(f"http is not allowed ({ALLOW_HTTP_SETTING}=false)")
    if scheme not in ("https", "http"):
        raise DestinationRefused(f"scheme {scheme or '(none)'!r} is not allowed; use https")
    if parsed.user is not None or parsed.password is not None:
        raise DestinationRefused("URLs with credentials (user:password@) are not allowed")
    # raw_host, because it is the host aiohttp connects to: an IDN is judged in its punycode form.
    host = parsed.raw_host
    if not host:
        raise DestinationRefused(f"{url!r} has no host")
    if not allowed:
        raise DestinationRefused(f"no destination is allowed: {ALLOW_LIST_SETTING} is empty")
    address = _address_or_none(host)
    if address is not None:
        check_address(host, address, allowed)
    elif host.replace(".", "").isdigit():
        # Legacy forms such as 2130706433 or 127.1 mean an address to the socket layer, and some aiohttp
        # versions connect to them as literals without resolving, so they would never be checked.
        raise DestinationRefused(f"{host} is not a canonical IP address")
    elif not allowed.names(host) and not allowed.networks:
        raise DestinationRefused(f"host {host} is not in {ALLOW_LIST_SETTING}")


def check_address(host: str, address: Address, allowed: AllowList) -> None:
    """Refuse `address`, one address `host` resolved to (or `host` itself, for an IP literal), if forbidden."""
    address = _unmapped(address)
    if address.is_link_local or address in METADATA_ADDRESSES:
        raise DestinationRefused(f"{address} is a link-local or cloud metadata address")
    if address.is_unspecified or address.is_multicast or address == LIMITED_BROADCAST:
        raise DestinationRefused(f"{address} is an unspecified, multicast or broadcast address")
    if address.is_loopback and not allowed.names_loopback(host, address):
        raise DestinationRefused(f"{address} is a loopback address and {ALLOW_LIST_SETTING} does not name it")
    if allowed.names(host) or allowed.contains(address):
        return
    if _address_or_none(host) is not None:
        raise DestinationRefused(f"{address} is not in {ALLOW_LIST_SETTING}")
    raise DestinationRefused(f"host {host} is not in {ALLOW_LIST_SETTING}, nor is its address {address}")


class CheckingResolver(AbstractResolver):
    """aiohttp's default resolver, keeping only the addresses `check_address` allows.

    Never consulted for IP literal hosts; see the module docstring.
    """

    def __init__(self, allowed: AllowList, *, resolver: AbstractResolver | None = None) -> None:
        self._allowed = allowed
        self._resolver = resolver if resolver is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        allowed_results: list[ResolveResult] = []
        refusals: list[DestinationRefused] = []
        for result in results:
            try:
                check_address(host, ipaddress.ip_address(result["host"]), self._allowed)
            except DestinationRefused as refusal:
                refusals.append(refusal)
            else:
                allowed_results.append(result)
        if refusals and not allowed_results:
            raise refusals[0]
        return allowed_results

    async def close(self) -> None:
        await self._resolver.close()


def refusal_of(error: BaseException) -> DestinationRefused | None:
    """The DestinationRefused behind an aiohttp error, however aiohttp wrapped it, or None."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DestinationRefused):
            return current
        pending.extend(_wrapped(current))
    return None


def _wrapped(error: BaseException) -> Iterable[BaseException]:
    if isinstance(error, ClientConnectorError):
        yield error.os_error
    if error.__cause__ is not None:
        yield error.__cause__
    if error.__context__ is not None:
        yield error.__context__


def _normalized_host(host: str) -> str:
    # aiohttp resolves "name." as "name"'s fully qualified form, so both are the same destination.
    return host.lower().rstrip(".")


def _normalized_hostname(text: str) -> str | None:
    name = _normalized_host(text)
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    # An all-numeric last label would read as an IPv4 address, never as a hostname.
    if labels[-1].isdigit():
        return None
    return name


def _network_or_none(entry: str) -> Network | None:
    try:
        network = ipaddress.ip_network(entry)
    except ValueError:
        return None
    # Mapped addresses are judged as IPv4, so a mapped entry has to be IPv4 too to ever match.
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(IPV4_MAPPED):
        mapped_base = network.network_address.ipv4_mapped
        assert mapped_base is not None
        return ipaddress.IPv4Network((mapped_base, network.prefixlen - IPV4_MAPPED.prefixlen))
    return network


def _address_or_none(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _unmapped(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
