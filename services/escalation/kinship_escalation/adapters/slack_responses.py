"""Updating a Slack alert after a press: the press's answer posted to its ``response_url``.

Slack ignores the response body of a ``block_actions`` request; the message (the sentence for
the responder, ``replace_original`` to take the buttons away, or an ephemeral note only the
presser sees) goes to the ``response_url`` of the press's payload, which takes JSON POSTs, up
to five within 30 minutes.

The URL comes from a body Slack signed, but it is still a URL someone else chose: it is
called ONLY when ``ResponseUrlPolicy`` admits it (``KINSHIP_SLACK_RESPONSE_URL_PREFIXES``,
``https://hooks.slack.com/`` by default; https only outside the dev profile). The check is
made on the URL as httpx parses it (the same parse the call uses: no parser differential),
before anything is queued, so a refused URL never opens a connection. No redirect is
followed, proxies from the environment are ignored, each attempt has a short timeout, and an
answer is tried at most twice (one retry after a 5xx, a timeout or a broken connection).

The URL is a capability (anyone holding it may post into the conversation for 30 minutes):
it is never logged. Logs and the ``kinship.slack.updates`` counter carry one outcome word:
``sent``, ``rejected`` (a 3xx or 4xx: not retried), ``failed`` (5xx or no answer, twice),
``not_admitted`` (the URL matched no allowed prefix: never called), ``dropped`` (too many
updates waiting).

Posts run in the background after the press has been answered (Slack wants its answer within
three seconds), at most ``concurrency`` at a time; ``stop`` lets the ones in flight finish
for a grace period, then cancels the rest (the service's graceful shutdown).
"""

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from kinship_runtime.settings import InsecureSettingsError
from kinship_runtime.telemetry import METER

log = logging.getLogger(__name__)

UPDATES = METER.create_counter(
    "kinship.slack.updates",
    unit="{update}",
    description="Slack alerts updated after a press through the press's response_url, by "
    "outcome (sent, rejected, failed, not_admitted, dropped); never the URL.",
)

MAX_URL_LENGTH = 2048
"""Far longer than any response_url Slack sends."""
_DEFAULT_PORTS = {"http": 80, "https": 443}


class PrefixError(ValueError):
    """A configured response_url prefix that cannot be used as one (says why, not what)."""


class InsecurePrefixError(PrefixError, InsecureSettingsError):
    """A plain-http prefix outside the dev profile."""


@dataclass(frozen=True)
class _Prefix:
    scheme: str
    host: str
    port: int
    path: str


def _parts(url: httpx.URL) -> tuple[str, str, int] | None:
    scheme = url.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not url.host:
        return None
    return scheme, url.host.lower(), url.port or _DEFAULT_PORTS[scheme]


def _clean(text: str) -> bool:
    """Printable ASCII only: no whitespace, no control character, no backslash."""
    return text.isascii() and all(33 <= ord(c) < 127 and c != "\\" for c in text)


def parse_prefix(text: str, *, https_only: bool) -> _Prefix:
    """One allowlist entry: an absolute http(s) URL whose path ends with ``/`` (so that
    ``https://hooks.slack.com/`` cannot be read as admitting ``hooks.slack.com.evil``)."""
    if not _clean(text):
        raise PrefixError("a prefix must be a URL without spaces or control characters")
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        raise PrefixError("a prefix must be an absolute http(s) URL") from None
    parts = _parts(url)
    if parts is None:
        raise PrefixError("a prefix must be an absolute http(s) URL")
    if https_only and parts[0] != "https":
        raise InsecurePrefixError("a prefix must be https outside KINSHIP_ENV=dev")
    if url.userinfo or url.query or url.fragment or not text.endswith("/"):
        raise PrefixError("a prefix is scheme://host[:port]/path/ (ending with '/')")
    if ".." in text or "%2e" in text.lower() or "/./" in text:
        raise PrefixError("a prefix must not contain dot segments")
    return _Prefix(*parts, url.raw_path.decode("ascii"))


class ResponseUrlPolicy:
    """Which response_urls may be called: those under one of the configured prefixes."""

    def __init__(self, prefixes: Sequence[str], *, https_only: bool) -> None:
        self._prefixes = tuple(parse_prefix(p, https_only=https_only) for p in prefixes)
        self._https_only = https_only

    def admit(self, text: object) -> httpx.URL | None:
        """The URL to call (as parsed: call exactly this), or None when it is not admitted."""
        if not isinstance(text, str) or not text or len(text) > MAX_URL_LENGTH:
            return None
        if not _clean(text) or ".." in text or "%2e" in text.lower() or "/./" in text:
            return None  # dot segments, even ones the parser would resolve harmlessly
        try:
            url = httpx.URL(text)
        except httpx.InvalidURL:
            return None
        parts = _parts(url)
        if parts is None or url.userinfo or url.fragment:
            return None
        if self._https_only and parts[0] != "https":
            return None
        path = url.raw_path.decode("ascii").split("?", 1)[0]
        for prefix in self._prefixes:
            if (prefix.scheme, prefix.host, prefix.port) == parts and path.startswith(prefix.path):
                return url
        return None


def response_client() -> httpx.AsyncClient:
    """The client of response_url calls: no redirects, no proxies from the environment."""
    return httpx.AsyncClient(follow_redirects=False, trust_env=False)


class SlackResponder:
    """Posts press answers to admitted response_urls in the background (see the module
    docstring); a ``Worker`` of the service, so that shutdown waits for it."""

    name = "slack-responses"

    def __init__(
        self,
        policy: ResponseUrlPolicy,
        client: httpx.AsyncClient,
        *,
        timeout: float = 5.0,
        retry_pause: float = 1.0,
        concurrency: int = 8,
        max_waiting: int = 256,
    ) -> None:
        self._policy = policy
        self._client = client
        self._timeout = timeout
        self._retry_pause = retry_pause
        self._slots = asyncio.Semaphore(concurrency)
        self._max_waiting = max_waiting
        self._tasks: set[asyncio.Task[str]] = set()
        self._stopping = False

    def start(self) -> None:
        """Nothing runs until a press is answered."""
        self._stopping = False

    def healthy(self) -> bool:
        """Always: a Slack that does not answer is not the service's failure."""
        return True

    def submit(self, response_url: object, message: Mapping[str, Any]) -> str:
        """Queue ``message`` for ``response_url``; returns ``queued``, or ``not_admitted`` (not
        admitted: never called) or ``dropped`` (stopping, or too many waiting) at once."""
        url = self._policy.admit(response_url)
        if url is None:
            return _counted("not_admitted")
        if self._stopping or len(self._tasks) >= self._max_waiting:
            return _counted("dropped")
        task = asyncio.create_task(self._post(url, dict(message)), name=self.name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return "queued"

    async def idle(self) -> None:
        """Until every queued update has finished (tests; ``stop``)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Take no more; let the updates in flight finish for ``grace_seconds``, cancel the
        rest, close the client."""
        self._stopping = True
        pending = set(self._tasks)
        if pending:
            _done, late = await asyncio.wait(pending, timeout=grace_seconds)
            for task in late:
                task.cancel()
            if late:
                log.warning("%d Slack updates cancelled at shutdown", len(late))
                await asyncio.wait(late)
        await self._client.aclose()

    async def _post(self, url: httpx.URL, message: dict[str, Any]) -> str:
        async with self._slots:
            outcome = await self._attempt(url, message)
            if outcome == "retry":
                await asyncio.sleep(self._retry_pause)
                outcome = await self._attempt(url, message)
        if outcome == "retry":
            outcome = "failed"
        if outcome != "sent":
            log.warning("Slack alert not updated after a press: %s", outcome)
        return _counted(outcome)

    async def _attempt(self, url: httpx.URL, message: dict[str, Any]) -> str:
        try:
            # httpx's timeout is per phase (connect, write, each read): a receiver dripping a
            # byte a second would hold a slot far longer, so the whole attempt is bounded too.
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(url, json=message, timeout=self._timeout)
        except (httpx.TransportError, TimeoutError):  # a timeout, a refused or broken connection
            return "retry"
        except httpx.HTTPError:
            return "failed"
        if response.is_success:
            return "sent"
        if response.status_code >= 500:
            return "retry"
        return "rejected"  # redirects are not followed: a 3xx is a refusal too


def _counted(outcome: str) -> str:
    UPDATES.add(1, {"outcome": outcome})
    if outcome in ("not_admitted", "dropped"):
        log.warning("Slack alert not updated after a press: %s", outcome)
    return outcome
