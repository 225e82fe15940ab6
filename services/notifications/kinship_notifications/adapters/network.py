"""The network under webhook and Slack calls: every address checked at connect time.

``GuardedNetworkBackend`` wraps httpcore's network backend. httpcore calls
``connect_tcp(host, port)`` for each new connection; the wrapper resolves the host itself,
asks ``domain.addresses.decide`` about EVERY address it resolved to (one private address
among public ones refuses the call: DNS answers are attacker-controlled), and only then
connects, to the checked address: no second lookup, so a name that resolves to a public
address for the check and a private one for the connection (DNS rebinding) gets nowhere.
TLS still verifies the certificate against the URL's host name (httpcore passes the origin's
host as the server name). Unix sockets are refused. ``guarded_transport`` puts it under an
httpx transport; the client does not follow redirects and ignores proxy variables.
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from ipaddress import ip_address

import anyio
import httpcore
import httpx

from kinship_notifications.domain.addresses import Allowlist, IPAddress, decide

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""Resolves a host name (or an address literal) to its addresses."""


class AddressRefusedError(Exception):
    """The destination resolved to an address a call may not reach (no connection made)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused address ({reason})")
        self.reason = reason


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The host's addresses from the system resolver (an address literal stands for itself)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to admitted, checked addresses."""

    def __init__(
        self,
        allowlist: Allowlist,
        *,
        resolve: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allowlist = allowlist
        self._resolve = resolve
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve, check every address, then connect to the checked ones in turn."""
        addresses = await self._addresses(host, port, timeout)
        for address in addresses:
            reason = decide(host, address, self._allowlist)
            if reason is not None:
                raise AddressRefusedError(reason)
        error: Exception = httpcore.ConnectError("no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed
        raise error

    async def _addresses(self, host: str, port: int, seconds: float | None) -> list[IPAddress]:
        try:
            with anyio.fail_after(seconds):
                found = list(await self._resolve(host, port))
        except TimeoutError:
            raise httpcore.ConnectTimeout("name resolution timed out") from None
        except OSError:
            raise httpcore.ConnectError("name not resolved") from None
        if not found:
            raise httpcore.ConnectError("name not resolved")
        return found

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: a webhook is a TCP destination."""
        raise AddressRefusedError("unix_socket")

    async def sleep(self, seconds: float) -> None:
        """The inner backend's sleep (connection retries)."""
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool whose every connection goes through the guard."""

    def __init__(self, backend: GuardedNetworkBackend, *, http2: bool = False) -> None:
        super().__init__(trust_env=False, http2=http2)
        limits = httpx.Limits()
        # httpx builds its pool without a network backend parameter: replace it with one that
        # has the guard (same settings as httpx's defaults otherwise).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=backend,
        )


def guarded_client(backend: GuardedNetworkBackend) -> httpx.AsyncClient:
    """The client of webhook and Slack calls: guarded connections, no redirects, no proxies
    from the environment (a proxy would connect on our behalf, unchecked)."""
    return httpx.AsyncClient(
        transport=GuardedTransport(backend), follow_redirects=False, trust_env=False
    )
