import asyncio
import ipaddress
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ConnectionKey

from app.core.destinations import (
    AllowList,
    CheckingResolver,
    DestinationRefused,
    check_address,
    check_url,
    refusal_of,
)

EVERYWHERE = "0.0.0.0/0, ::/0"


def refusal_reason(url: str, allowed: str, *, allow_http: bool = True) -> str:
    with pytest.raises(DestinationRefused) as refused:
        check_url(url, AllowList.parse(allowed), allow_http=allow_http)
    return refused.value.reason


# Parsing the allow-list


def test_allow_list_parses_hostnames_wildcards_addresses_and_cidrs() -> None:
    allowed = AllowList.parse(" Hooks.Example. , *.Partner.example,10.0.0.0/8 , 192.0.2.7, 2001:db8::/32,::1")

    assert allowed.hostnames == {"hooks.example"}
    assert allowed.wildcard_domains == {"partner.example"}
    assert allowed.networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.7/32"),
        ipaddress.ip_network("2001:db8::/32"),
        ipaddress.ip_network("::1/128"),
    )


@pytest.mark.parametrize("text", ["", "  ", " , ,,"])
def test_an_empty_allow_list_allows_nothing(text: str) -> None:
    allowed = AllowList.parse(text)

    assert not allowed
    with pytest.raises(DestinationRefused, match="READINESS_WEBHOOK_ALLOWED_DESTINATIONS is empty"):
        check_url("https://hooks.example/", allowed, allow_http=False)


@pytest.mark.parametrize("text", ["hooks.example", "*.hooks.example", "10.0.0.1", "::/0"])
def test_an_allow_list_with_an_entry_is_true(text: str) -> None:
    assert AllowList.parse(text)


@pytest.mark.parametrize(
    "entry",
    [
        "*.",
        "*",
        "*.*.example",
        "10.0.0.0/33",
        "10.0.0.1/8",
        "exa mple",
        "http://x",
        "hooks.example:443",
        "[::1]",
        "-hooks.example",
        "hooks..example",
        "hooks.123",
        "a" * 64 + ".example",
    ],
)
def test_an_invalid_entry_is_refused_by_name(entry: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(entry))):
        AllowList.parse(f"hooks.example, {entry}")


def test_an_ipv4_mapped_entry_allows_its_ipv4_addresses() -> None:
    check_address("10.1.2.3", ipaddress.ip_address("10.1.2.3"), AllowList.parse("::ffff:10.0.0.0/104"))


# Judging URLs before any DNS


@pytest.mark.parametrize(
    "url",
    ["ftp://hooks.example/", "file:///etc/passwd", "gopher://hooks.example/", "ws://hooks.example/", "hooks.example/x"],
)
def test_schemes_other_than_https_and_http_are_refused(url: str) -> None:
    assert "is not allowed" in refusal_reason(url, "hooks.example")


def test_http_is_refused_unless_allowed() -> None:
    reason = refusal_reason("http://hooks.example/", "hooks.example", allow_http=False)

    assert reason == "http is not allowed (READINESS_WEBHOOK_ALLOW_HTTP=false)"
    check_url("http://hooks.example/", AllowList.parse("hooks.example"), allow_http=True)


@pytest.mark.parametrize("allow_http", [False, True])
def test_https_to_an_allowed_host_on_any_port_is_accepted(allow_http: bool) -> None:
    check_url("https://hooks.example:8443/deliveries?x=1", AllowList.parse("hooks.example"), allow_http=allow_http)


@pytest.mark.parametrize(
    "url", ["https://user:secret@hooks.example/", "https://user@hooks.example/", "https://:secret@hooks.example/"]
)
def test_urls_with_credentials_are_refused(url: str) -> None:
    assert "credentials" in refusal_reason(url, "hooks.example")


@pytest.mark.parametrize("url", ["https://", "https:///deliveries"])
def test_urls_without_a_host_are_refused(url: str) -> None:
    assert "has no host" in refusal_reason(url, EVERYWHERE)


def test_a_url_aiohttp_cannot_parse_is_refused() -> None:
    assert "is not a valid URL" in refusal_reason("https://hooks.example\\@evil.example/", "hooks.example")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.1.1/",
        "https://100.100.100.200/",
        "https://[fd00:ec2::254]/",
        "https://[fe80::1]/",
        "https://[fe80::1%25eth0]/",
        "https://[::ffff:169.254.169.254]/",
    ],
)
def test_link_local_and_metadata_literals_are_refused_even_when_every_address_is_allowed(url: str) -> None:
    assert "is a link-local or cloud metadata address" in refusal_reason(url, EVERYWHERE)


@pytest.mark.parametrize(
    "url",
    ["https://0.0.0.0/", "https://[::]/", "https://224.0.0.1/", "https://[ff02::1]/", "https://255.255.255.255/"],
)
def test_unspecified_multicast_and_broadcast_literals_are_refused_even_when_every_address_is_allowed(url: str) -> None:
    assert "unspecified, multicast or broadcast" in refusal_reason(url, EVERYWHERE)


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/", "https://127.5.5.5/", "https://[::1]/", "https://[::ffff:127.0.0.1]/"]
)
def test_loopback_literals_are_refused_when_only_a_wide_cidr_contains_them(url: str) -> None:
    assert "is a loopback address" in refusal_reason(url, EVERYWHERE)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://127.0.0.1/", "127.0.0.1"),
        ("https://127.5.5.5/", "127.0.0.0/8"),
        ("https://[::1]:8080/", "::1"),
        ("https://[::ffff:127.0.0.1]/", "127.0.0.1"),
    ],
)
def test_loopback_literals_are_accepted_when_the_allow_list_names_loopback(url: str, allowed: str) -> None:
    check_url(url, AllowList.parse(allowed), allow_http=False)


@pytest.mark.parametrize("url", ["https://2130706433/", "https://127.1/", "https://0177.0.0.1/", "https://10.1/"])
def test_legacy_numeric_addresses_are_refused(url: str) -> None:
    assert "is not a canonical IP address" in refusal_reason(url, EVERYWHERE)


def test_ip_literals_outside_the_allowed_cidrs_are_refused() -> None:
    allowed = AllowList.parse("192.0.2.0/24, 2001:db8::/32")

    check_url("https://192.0.2.9/", allowed, allow_http=False)
    check_url("https://[2001:db8::9]/", allowed, allow_http=False)
    with pytest.raises(DestinationRefused, match="10.0.0.1 is not in READINESS_WEBHOOK_ALLOWED_DESTINATIONS"):
        check_url("https://10.0.0.1/", allowed, allow_http=False)


def test_a_host_outside_a_list_of_hostnames_is_refused() -> None:
    reason = refusal_reason("https://evil.example/", "hooks.example, *.partner.example")

    assert reason == "host evil.example is not in READINESS_WEBHOOK_ALLOWED_DESTINATIONS"


def test_a_host_outside_the_hostnames_is_left_for_resolution_when_cidrs_are_allowed() -> None:
    check_url("https://db.internal/", AllowList.parse("hooks.example, 10.0.0.0/8"), allow_http=False)


@pytest.mark.parametrize("host", ["a.partner.example", "a.b.c.partner.example", "A.Partner.Example."])
def test_a_wildcard_matches_subdomains_at_any_depth(host: str) -> None:
    check_url(f"https://{host}/", AllowList.parse("*.partner.example"), allow_http=False)


@pytest.mark.parametrize("host", ["partner.example", "evilpartner.example", "partner.example.evil.test"])
def test_a_wildcard_matches_neither_its_bare_domain_nor_lookalikes(host: str) -> None:
    assert "is not in" in refusal_reason(f"https://{host}/", "*.partner.example")


@pytest.mark.parametrize("host", ["hooks.example", "HOOKS.example", "hooks.example.", "Hooks.Example."])
def test_hostnames_match_whatever_their_case_and_trailing_dot(host: str) -> None:
    check_url(f"https://{host}/", AllowList.parse("Hooks.EXAMPLE."), allow_http=False)


def test_an_internationalized_host_matches_its_punycode_entry() -> None:
    check_url("https://bücher.example/", AllowList.parse("xn--bcher-kva.example"), allow_http=False)


# Judging resolved addresses


@pytest.mark.parametrize(
    ("host", "address", "allowed"),
    [
        ("hooks.example", "203.0.113.5", "hooks.example"),
        ("hooks.example", "10.1.2.3", "hooks.example"),
        ("a.partner.example", "2001:db8::5", "*.partner.example"),
        ("db.internal", "10.1.2.3", "10.0.0.0/8"),
        ("db.internal", "::ffff:10.1.2.3", "10.0.0.0/8"),
        ("localhost", "127.0.0.1", "localhost"),
        ("localhost.", "::1", "localhost"),
        ("loop.example", "127.0.0.1", "loop.example, 127.0.0.1"),
    ],
)
def test_allowed_resolved_addresses(host: str, address: str, allowed: str) -> None:
    check_address(host, ipaddress.ip_address(address), AllowList.parse(allowed))


@pytest.mark.parametrize(
    ("host", "address", "allowed", "reason"),
    [
        ("hooks.example", "169.254.169.254", "hooks.example", "169.254.169.254 is a link-local or cloud metadata"),
        ("hooks.example", "fd00:ec2::254", "hooks.example, ::/0", "fd00:ec2::254 is a link-local or cloud metadata"),
        ("hooks.example", "::ffff:169.254.169.254", "hooks.example", "169.254.169.254 is a link-local"),
        ("hooks.example", "fe80::1", "hooks.example", "fe80::1 is a link-local"),
        ("hooks.example", "0.0.0.0", "hooks.example", "0.0.0.0 is an unspecified"),
        ("hooks.example", "127.0.0.1", "hooks.example", "127.0.0.1 is a loopback address"),
        ("hooks.example", "::ffff:127.0.0.1", "hooks.example", "127.0.0.1 is a loopback address"),
        ("hooks.example", "::1", "hooks.example, ::/0", "::1 is a loopback address"),
        ("other.example", "127.0.0.1", "localhost, other.example", "127.0.0.1 is a loopback address"),
        ("evil.example", "10.1.2.3", "hooks.example", "host evil.example is not in"),
        ("db.internal", "192.0.2.1", "10.0.0.0/8", "host db.internal is not in"),
    ],
)
def test_refused_resolved_addresses(host: str, address: str, allowed: str, reason: str) -> None:
    with pytest.raises(DestinationRefused) as refused:
        check_address(host, ipaddress.ip_address(address), AllowList.parse(allowed))

    assert refused.value.reason.startswith(reason)


def test_a_refusal_names_both_the_host_and_the_address_it_resolved_to() -> None:
    with pytest.raises(DestinationRefused) as refused:
        check_address("db.internal", ipaddress.ip_address("192.0.2.1"), AllowList.parse("10.0.0.0/8"))

    assert refused.value.reason == (
        "host db.internal is not in READINESS_WEBHOOK_ALLOWED_DESTINATIONS, nor is its address 192.0.2.1"
    )


# The resolver inside aiohttp's connector


class FixedResolver(AbstractResolver):
    """Answers every lookup with the same addresses, as a DNS server under an attacker's control might."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in self.addresses
        ]

    async def close(self) -> None:
        self.closed = True


def resolved_addresses(resolver: CheckingResolver, host: str) -> list[str]:
    return [result["host"] for result in asyncio.run(resolver.resolve(host, 443))]


def test_the_resolver_drops_refused_addresses_and_keeps_the_rest() -> None:
    inner = FixedResolver("169.254.169.254", "203.0.113.5", "::1", "2001:db8::5")
    resolver = CheckingResolver(AllowList.parse("hooks.example"), resolver=inner)

    assert resolved_addresses(resolver, "hooks.example") == ["203.0.113.5", "2001:db8::5"]


def test_the_resolver_refuses_with_the_first_reason_when_no_address_is_left() -> None:
    inner = FixedResolver("169.254.169.254", "127.0.0.1")
    resolver = CheckingResolver(AllowList.parse("hooks.example"), resolver=inner)

    with pytest.raises(DestinationRefused, match="169.254.169.254 is a link-local or cloud metadata address"):
        resolved_addresses(resolver, "hooks.example")


def test_the_resolver_closes_the_resolver_it_wraps() -> None:
    inner = FixedResolver()

    asyncio.run(CheckingResolver(AllowList.parse("hooks.example"), resolver=inner).close())

    assert inner.closed


def test_refusal_of_finds_a_refusal_wherever_aiohttp_wrapped_it() -> None:
    refusal = DestinationRefused("127.0.0.1 is a loopback address")
    connection_key = ConnectionKey("hooks.example", 443, True, True, None, None, None)
    as_cause = aiohttp.ClientConnectorDNSError(connection_key, OSError("lookup failed"))
    as_cause.__cause__ = refusal
    failed_lookup = OSError("lookup failed")
    failed_lookup.__cause__ = refusal
    behind_os_error = aiohttp.ClientConnectorError(connection_key, failed_lookup)
    in_context = RuntimeError("delivery failed")
    in_context.__context__ = as_cause

    assert refusal_of(refusal) is refusal
    assert refusal_of(as_cause) is refusal
    assert refusal_of(behind_os_error) is refusal
    assert refusal_of(in_context) is refusal
    assert refusal_of(aiohttp.ClientConnectionError("reset")) is None


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[tuple[int, list[str]]]:
    """A web server on 127.0.0.1 that records the path of every request it receives."""
    received: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(request.path)
        return web.Response(text="received")

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1], received
    finally:
        await runner.cleanup()


async def deliver(url: str, resolver: AbstractResolver) -> int:
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver), timeout=timeout) as session,
        session.post(url, json={"event": "test"}) as response,
    ):
        return response.status


def test_a_delivery_reaches_a_host_resolving_to_a_named_loopback_address() -> None:
    async def scenario() -> tuple[int, list[str]]:
        async with webhook_receiver() as (port, received):
            status = await deliver(f"http://localhost:{port}/hook", CheckingResolver(AllowList.parse("127.0.0.1")))
            return status, received

    assert asyncio.run(scenario()) == (200, ["/hook"])


def test_a_delivery_connects_to_the_allowed_address_when_a_refused_one_resolves_first() -> None:
    async def scenario() -> tuple[int, list[str]]:
        async with webhook_receiver() as (port, received):
            resolver = CheckingResolver(AllowList.parse("127.0.0.1"), resolver=FixedResolver("::1", "127.0.0.1"))
            status = await deliver(f"http://localhost:{port}/hook", resolver)
            return status, received

    assert asyncio.run(scenario()) == (200, ["/hook"])


@pytest.mark.parametrize(
    ("host", "resolved_by"),
    [
        ("localhost", None),
        ("localhost.example", FixedResolver("127.0.0.1")),
    ],
    ids=["real-dns", "rebound-dns"],
)
def test_a_delivery_to_a_host_resolving_to_unnamed_loopback_is_refused_before_connecting(
    host: str, resolved_by: AbstractResolver | None
) -> None:
    async def scenario() -> tuple[BaseException, list[str]]:
        async with webhook_receiver() as (port, received):
            resolver = CheckingResolver(AllowList.parse("localhost.example"), resolver=resolved_by)
            # aiohttp may pass the refusal on as it is or wrapped in one of its own errors.
            with pytest.raises((DestinationRefused, aiohttp.ClientError)) as failed:
                await deliver(f"http://{host}:{port}/hook", resolver)
            return failed.value, received

    error, received = asyncio.run(scenario())

    refusal = refusal_of(error)
    assert refusal is not None
    assert refusal.reason == (
        "127.0.0.1 is a loopback address and READINESS_WEBHOOK_ALLOWED_DESTINATIONS does not name it"
    )
    assert received == []


def test_aiohttp_connects_to_ip_literals_without_the_resolver_so_check_url_must_judge_them() -> None:
    allowed = AllowList.parse("hooks.example")

    async def scenario() -> tuple[str, list[str]]:
        async with webhook_receiver() as (port, received):
            url = f"http://127.0.0.1:{port}/hook"
            await deliver(url, CheckingResolver(allowed, resolver=FixedResolver()))
            return url, received

    url, received = asyncio.run(scenario())

    assert received == ["/hook"]
    with pytest.raises(DestinationRefused, match="127.0.0.1 is a loopback address"):
        check_url(url, allowed, allow_http=True)
