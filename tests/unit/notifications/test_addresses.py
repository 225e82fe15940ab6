"""The SSRF decision (``domain.addresses``), pure: which addresses a webhook call may reach.

Nothing here connects anywhere: addresses are values.
"""

from ipaddress import ip_address

import pytest

from kinship_notifications.domain.addresses import Allowlist, decide, refusal

NONE = Allowlist()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("0.0.0.0", "unspecified"),  # noqa: S104 - a value to judge, not a bind
        ("::", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("127.3.2.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.10.20", "link_local"),
        ("fe80::1", "link_local"),
        ("224.0.0.1", "multicast"),
        ("239.1.2.3", "multicast"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("fec0::1", "site_local"),
        ("10.0.0.7", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("198.18.0.1", "private"),  # benchmarking
        ("192.0.2.1", "private"),  # documentation
        ("2001:db8::1", "private"),
        ("240.0.0.1", "private"),
        ("255.255.255.255", "private"),
        ("100.64.0.1", "not_public"),  # carrier-grade NAT, often a cluster's pod range
        ("192.0.0.8", "not_public"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("168.63.129.16", "metadata"),
        ("192.0.0.192", "metadata"),
        # IPv6 forms of IPv4 addresses are judged as the IPv4 address they carry.
        ("::ffff:10.0.0.7", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("64:ff9b::10.0.0.7", "private"),
        ("2002:0a00:0007::1", "private"),
        ("::1.2.3.4", "reserved"),  # IPv4-compatible (deprecated)
    ],
)
def test_addresses_that_are_not_public_are_refused_with_their_reason(
    address: str, reason: str
) -> None:
    assert refusal(ip_address(address)) == reason
    assert decide("hooks.example", ip_address(address), NONE) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8"]
)
def test_public_addresses_are_admitted(address: str) -> None:
    assert refusal(ip_address(address)) is None
    assert decide("hooks.example", ip_address(address), NONE) is None


def test_an_allowlist_admits_named_hosts_and_ranges_but_never_metadata() -> None:
    allowlist = Allowlist.parse("Alerts.Internal., 10.20.0.0/16 127.0.0.1, [fd00::1]")
    assert decide("alerts.internal", ip_address("10.0.0.7"), allowlist) is None
    assert decide("ALERTS.INTERNAL.", ip_address("192.168.1.1"), allowlist) is None
    assert decide("other.internal", ip_address("10.20.3.4"), allowlist) is None
    assert decide("other.internal", ip_address("10.21.0.1"), allowlist) == "private"
    assert decide("other.internal", ip_address("127.0.0.1"), allowlist) is None
    assert decide("other.internal", ip_address("127.0.0.2"), allowlist) == "loopback"
    assert decide("other.internal", ip_address("fd00::1"), allowlist) is None
    assert decide("alerts.internal", ip_address("169.254.169.254"), allowlist) == "metadata"
    everything = Allowlist.parse("0.0.0.0/0, ::/0")
    assert decide("x", ip_address("169.254.169.254"), everything) == "metadata"
    assert decide("x", ip_address("fd00:ec2::254"), everything) == "metadata"
    assert decide("x", ip_address("10.0.0.7"), everything) is None


def test_an_empty_allowlist_admits_nothing_extra() -> None:
    assert Allowlist.parse("") == Allowlist()
    assert Allowlist.parse(" , ") == Allowlist()
    extra = Allowlist.parse("", extra=("127.0.0.1", "::1"))
    assert decide("localhost", ip_address("::1"), extra) is None
