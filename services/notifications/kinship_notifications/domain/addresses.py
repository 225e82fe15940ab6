"""Which network addresses a webhook or Slack call may reach: the SSRF decision, pure.

Webhook URLs come from ``directory.people``, which another system writes: without a check,
anyone who can change a person's channels could make Kinship call into the cluster (the
database, the cloud's metadata service, an admin port). A call may go to a public address
only, unless the operator's allowlist (``KINSHIP_WEBHOOK_ALLOWED_HOSTS``: host names and
CIDRs) admits it; cloud metadata addresses are never admitted. The network backend
(``adapters.network``) asks ``refusal`` for EVERY address a host resolves to, before it
connects, and then connects to the address it checked.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

METADATA: frozenset[IPAddress] = frozenset(
    ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.169.123",  # AWS time sync
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::23",  # AWS DNS over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "168.63.129.16",  # Azure wire server (a public address!)
        "192.0.0.192",  # Oracle Cloud metadata (legacy)
    )
)
"""Cloud metadata endpoints: refused even when an allowlist entry would admit them."""

_NAT64 = ip_network("64:ff9b::/96")
_IETF_PROTOCOL = ip_network("192.0.0.0/24")


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination (a short reason), or None when it is."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refusal(embedded)
    if address in METADATA:
        return "metadata"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link_local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("site_local", isinstance(address, IPv6Address) and address.is_site_local),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not_public", not address.is_global or address in _IETF_PROTOCOL),
    )
    return next((reason for reason, applies in checks if applies), None)


@dataclass(frozen=True)
class Allowlist:
    """Internal destinations the operator admits: exact host names and address ranges."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str, *, extra: Iterable[str] = ()) -> "Allowlist":
        """From ``KINSHIP_WEBHOOK_ALLOWED_HOSTS``: host names, addresses and CIDRs separated
        by commas or spaces (``alerts.internal, 10.20.0.0/16``); ``extra`` adds entries."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in [*text.replace(",", " ").split(), *extra]:
            try:
                networks.append(ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(_host_name(entry))
        return cls(frozenset(hosts), tuple(networks))

    def admits(self, host: str, address: IPAddress) -> bool:
        """Whether the operator admitted this host name or this address."""
        if _host_name(host) in self.hosts:
            return True
        return any(address.version == net.version and address in net for net in self.networks)


def _host_name(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def decide(host: str, address: IPAddress, allowlist: Allowlist) -> str | None:
    """None when a call to ``host`` may connect to ``address``; otherwise why not.

    Public addresses are fine; others only when the allowlist admits the host or the address;
    cloud metadata never.
    """
    reason = refusal(address)
    if reason is None or reason == "metadata":
        return reason
    return None if allowlist.admits(host, address) else reason
