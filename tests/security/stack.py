"""The security suite's stack: the four services as real processes in the PRODUCTION profile.

Nothing here runs with ``KINSHIP_ENV=dev``: every secret is strong and generated for the
session, each calling system has its own API key with the least scopes it needs (a survey
tool ``checkins:submit``, an HR portal ``erasure:request``, a BI tool ``reports:read``), and
escalation, notifications and recognition reach the check-in service's vault at its process's
port with keys of their own, scoped to what each needs. People's tokens are HS256 JWTs signed
with a session secret under a fixed issuer; their roles come from the directory the stack
publishes on ``directory.people``.

Webhooks: outside the dev profile the notifications service sends web channels over https
only, so the stack's webhook receiver speaks TLS on 127.0.0.1 with a throwaway CA made for
the session, and ``KINSHIP_WEBHOOK_ALLOWED_HOSTS=127.0.0.1`` admits it. The notifications
service verifies certificates against certifi's bundle only (its client ignores
``SSL_CERT_FILE``: ``trust_env=False``), so its process gets a ``certifi`` module on
``PYTHONPATH`` whose bundle is that CA: the operator's equivalent of putting an internal
gateway's CA into the image's bundle. Nothing else of the service is touched.

Every address any service is given is 127.0.0.1 (or, for the SSRF refusals, another loopback
address that the guard must refuse before connecting).
"""

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, sign_request
from kinship_contracts.notifications import NotificationRequest
from kinship_devstack.loopback import Receive, Scope, Send, read_body
from kinship_runtime.identity import Scope as KeyScope
from tests.conftest import Endpoints
from tests.database import clean_up, rows, wait_for_count
from tests.processes import ServiceProcess
from tests.receivers import SmtpReceiver, free_port

SERVICES = ("checkin", "escalation", "notifications", "recognition")
ISSUER = "http://127.0.0.1:9/security-suite"
"""The fixed issuer of people's tokens (an HS secret: nothing is fetched from it)."""
AUDIENCE = "kinship"

CALLING_SYSTEMS: dict[str, list[KeyScope]] = {
    "survey-tool": [KeyScope.CHECKINS_SUBMIT],
    "hr-portal": [KeyScope.ERASURE_REQUEST],
    "bi-tool": [KeyScope.REPORTS_READ],
    # A second check-in integration, for the per-key rate limit (the survey tool keeps its
    # budget for the other tests).
    "chat-bot": [KeyScope.CHECKINS_SUBMIT],
}
"""Every calling system's key, with the least scopes it needs; every service knows them."""

SERVICE_KEYS: dict[str, list[KeyScope]] = {
    "escalation": [KeyScope.SUBJECTS_LOOKUP, KeyScope.SUBJECTS_SCREEN, KeyScope.SUBJECTS_ERASURE],
    "notifications": [
        KeyScope.SUBJECTS_LOOKUP,
        KeyScope.SUBJECTS_DELIVER,
        KeyScope.SUBJECTS_ERASURE,
    ],
    "recognition": [KeyScope.SUBJECTS_LOOKUP, KeyScope.SUBJECTS_ERASURE],
}
"""Each service's own key for the check-in service's vault (only the check-in service knows
them)."""

RATE_PER_PERSON = 15
RATE_PER_KEY = 60
"""Submissions per minute (``KINSHIP_RATE_LIMIT_PER_*``): low enough to exceed in a test."""


def _secret() -> str:
    return secrets.token_urlsafe(48)


@dataclass(frozen=True)
class Secrets:
    """The session's secrets: strong, random, never a published development value."""

    jwt: str = field(default_factory=_secret)
    link: str = field(default_factory=_secret)
    grant: str = field(default_factory=_secret)
    request_signing: str = field(default_factory=_secret)
    dead_letter: str = field(default_factory=_secret)
    webhook: str = field(default_factory=_secret)
    note_key: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())
    case_note_key: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())
    keys: dict[str, str] = field(
        default_factory=lambda: {name: _secret() for name in [*CALLING_SYSTEMS, *SERVICE_KEYS]}
    )

    def api_keys(self, names: Sequence[str]) -> str:
        """``KINSHIP_API_KEYS`` for the systems ``names``."""
        scopes = CALLING_SYSTEMS | SERVICE_KEYS
        return json.dumps(
            [
                {
                    "name": name,
                    "scopes": [scope.value for scope in scopes[name]],
                    "key": self.keys[name],
                }
                for name in names
            ]
        )


# ---- people ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Someone in the directory the stack publishes."""

    id: str
    name: str
    team: str
    roles: tuple[str, ...] = ()
    channels: dict[str, str] = field(default_factory=dict)
    manages: tuple[str, ...] = ()

    def record(self) -> tuple[bytes, bytes]:
        """The ``directory.people`` record (key, value)."""
        body: dict[str, Any] = {
            "person_id": self.id,
            "display_name": self.name,
            "team_id": self.team,
            "timezone": "Europe/London",
            "roles": list(self.roles),
            "channels": self.channels,
            "active": True,
            "manages": list(self.manages),
        }
        return self.id.encode(), json.dumps(body).encode()

    @property
    def email(self) -> str | None:
        return self.channels.get("email")


class People:
    """The directory: staff, a team with its manager, and employees, ids unique per session."""

    def __init__(self, suffix: str, webhook_port: int) -> None:
        self.suffix = suffix
        self._webhook_port = webhook_port
        self.by_id: dict[str, Person] = {}
        self.coordinator = self._add("coord", "Cora Ordinate", "team-c", "coordinator")
        self.responder_a = self._add("resp-a", "Rhea Sponder", "team-r", "peer_responder")
        self.responder_b = self._add("resp-b", "Rob Sponder", "team-r", "peer_responder")
        self.team = f"team-t-{suffix}"
        self.other_team = f"team-u-{suffix}"
        self.manager = self._add(
            "mgr-t", "Mona Nager", self.team, "team_manager", manages=(self.team,)
        )
        self.other_manager = self._add(
            "mgr-u", "Udo Nager", self.other_team, "team_manager", manages=(self.other_team,)
        )
        self.members = [self._add(f"t{n}", f"Tess Member{n}", self.team) for n in range(1, 7)]
        self.employee = self._add("emp", "Eve Mployee", "team-x")
        self.pat = self._add("pat", "Pat Case", "team-p")
        self.erin = self._add("erin", f"Erin Quillfeather {suffix}", "team-e")
        self.fay = self._add("fay", f"Fay Otherperson {suffix}", "team-e")
        self.pia = self._add("pia", "Pia Seudonym", "team-p")
        self.lee = self._add("lee", "Lee Nk", "team-l")
        self.rae = self._add("rae", "Rae Limit", "team-l")
        self.wes = self._add("wes", "Wes Hook", "team-w", webhook="wes")
        self.wyn = self._add("wyn", "Wyn Hook", "team-w", webhook="wyn")

    def _add(
        self,
        short: str,
        name: str,
        team: str,
        *roles: str,
        manages: tuple[str, ...] = (),
        webhook: str | None = None,
    ) -> Person:
        person_id = f"{short}-{self.suffix}"
        channels = (
            {"webhook": f"https://127.0.0.1:{self._webhook_port}/{webhook}"}
            if webhook
            else {"email": f"{short}.{self.suffix}@example.org"}
        )
        person = Person(person_id, name, team, tuple(roles), channels, manages)
        self.by_id[person_id] = person
        return person

    def with_webhook(self, short: str, url: str) -> Person:
        """Someone else whose webhook is ``url`` (published by the test that needs them)."""
        person = Person(f"{short}-{self.suffix}", f"Hook {short}", "team-h", (), {"webhook": url})
        self.by_id[person.id] = person
        return person

    def all(self) -> list[Person]:
        return list(self.by_id.values())

    def teams(self) -> set[str]:
        """Every team id of the directory."""
        return {p.team for p in self.by_id.values()} | {
            t for p in self.by_id.values() for t in p.manages
        }


# ---- TLS for the webhook receiver --------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    """A throwaway CA and a certificate for 127.0.0.1 it signed."""

    ca: Path
    cert: Path
    key: Path
    trust: Path
    """A directory with a ``certifi`` module whose bundle is the CA (for ``PYTHONPATH``)."""


def make_tls(directory: Path) -> Tls:
    """Make the CA, the server certificate and the trust directory under ``directory``."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kinship security suite CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    trust = directory / "trust"
    (trust / "certifi").mkdir(parents=True, exist_ok=True)
    (trust / "certifi" / "__init__.py").write_text(
        '"""The security suite\'s trust store: its throwaway CA only."""\n\n'
        f"_BUNDLE = {str(ca_path)!r}\n\n\n"
        "def where() -> str:\n    return _BUNDLE\n\n\n"
        "def contents() -> str:\n"
        "    with open(_BUNDLE, encoding='ascii') as bundle:\n        return bundle.read()\n"
    )
    return Tls(ca_path, cert_path, key_path, trust)


# ---- receivers ---------------------------------------------------------------------------------


@dataclass
class Hook:
    """A webhook as the TLS receiver got it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: dt.datetime


@dataclass
class TlsWebhookReceiver:
    """An https receiver on 127.0.0.1 that keeps everything it gets and answers 200, or what
    ``answers[path]`` says (``(status, headers)``)."""

    tls: Tls
    port: int = field(default_factory=free_port)
    received: list[Hook] = field(default_factory=list)
    answers: dict[str, tuple[int, list[tuple[bytes, bytes]]]] = field(default_factory=dict)
    _server: Any = None
    _task: "asyncio.Task[None] | None" = None

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}/{path}"

    def at(self, path: str) -> list[Hook]:
        return [hook for hook in self.received if hook.path == f"/{path}"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append(Hook(scope["path"], headers, body, dt.datetime.now(dt.UTC)))
        status, extra = self.answers.get(scope["path"].lstrip("/"), (200, []))
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": b"ok"})

    async def start(self) -> None:
        import uvicorn

        config = uvicorn.Config(
            self,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ssl_certfile=str(self.tls.cert),
            ssl_keyfile=str(self.tls.key),
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn has no started event
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            await asyncio.wait_for(self._task, timeout=10)


@dataclass
class ConnectionCounter:
    """A TCP listener that only counts the connections it gets (and closes them), on one
    loopback address. ``greeting`` is written first (a non-HTTP service on an open port)."""

    host: str
    port: int = 0
    greeting: bytes = b""
    connections: int = 0
    _server: asyncio.Server | None = None

    async def _accept(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.greeting:
            writer.write(self.greeting)
            await writer.drain()
        writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


# ---- the stack ---------------------------------------------------------------------------------


def pg_bin(name: str) -> str:
    """A binary of the test stack's PostgreSQL 15 (as ``kinship_devstack.stack`` finds them)."""
    candidate = Path("/usr/lib/postgresql/15/bin") / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    assert found is not None, f"{name} of PostgreSQL 15 not found"
    return found


@dataclass
class Stack:
    """The running services and everything the tests need to talk to them."""

    endpoints: Endpoints
    prefix: str
    group_prefix: str
    schemas: dict[str, str]
    processes: dict[str, ServiceProcess]
    secrets: Secrets
    people: People
    smtp: SmtpReceiver
    webhooks: TlsWebhookReceiver
    logs: Path
    http: httpx.AsyncClient

    # ---- HTTP ----

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.processes[service].port}{path}"

    def key(self, system: str) -> dict[str, str]:
        """The ``Authorization`` header of a calling system's API key."""
        return {"Authorization": f"Bearer {self.secrets.keys[system]}"}

    def token(
        self,
        person_id: str,
        *,
        issuer: str | None = ISSUER,
        lifetime: int = 600,
        secret: str | None = None,
        **claims: Any,
    ) -> str:
        """A person's JWT as the organisation's sign-in would issue it (override to forge)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "sub": person_id,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + lifetime,
            **claims,
        }
        if issuer is not None:
            body["iss"] = issuer
        return jwt.encode(body, secret or self.secrets.jwt, algorithm="HS256")

    def bearer(self, person_id: str, **overrides: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(person_id, **overrides)}"}

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        return await self.http.request(method, self.url(service, path), headers=headers, **kwargs)

    # ---- PostgreSQL ----

    async def rows(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await rows(self.endpoints.database_url, self.schemas[service], sql, *args)

    async def value(self, service: str, sql: str, *args: Any) -> Any:
        found = await self.rows(service, sql, *args)
        return found[0][0] if found else None

    async def wait_for(self, service: str, sql: str, count: int, timeout: float = 30.0) -> int:
        return await wait_for_count(
            self.endpoints.database_url, self.schemas[service], sql, count, timeout
        )

    async def subject_of(self, person_id: str) -> str | None:
        """The person's subject id, read from the check-in service's vault table."""
        found = await self.value(
            "checkin", "SELECT subject_id FROM pseudonyms WHERE person_id = $1", person_id
        )
        return str(found) if found is not None else None

    async def pg_dump(self, service: str) -> str:
        """``pg_dump --data-only`` of the service's schema (bytea as hex)."""
        process = await asyncio.create_subprocess_exec(
            pg_bin("pg_dump"),
            f"--dbname={self.endpoints.database_url}",
            f"--schema={self.schemas[service]}",
            "--data-only",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()

    # ---- Kafka ----

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def topics(self) -> list[str]:
        """Every topic of this stack (without its prefix)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.endpoints.bootstrap_servers)
        await admin.start()
        try:
            names = await admin.list_topics()
        finally:
            await admin.close()
        return sorted(n.removeprefix(self.prefix) for n in names if n.startswith(self.prefix))

    async def publish(
        self,
        name: str,
        records: Sequence[tuple[bytes | None, bytes | None]],
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Publish (key, value) records as another system would."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.endpoints.bootstrap_servers, acks="all", linger_ms=5
        )
        await producer.start()
        try:
            for key, value in records:
                await producer.send_and_wait(self.topic(name), value, key=key, headers=headers)
        finally:
            await producer.stop()

    async def send_request(self, request: NotificationRequest, signed: bool = True) -> None:
        """A notification request as a Kinship service produces it (signed with the
        session's request-signing key, which Kinship's services hold)."""
        value = request.model_dump_json().encode()
        headers = [(REQUEST_SIGNATURE_HEADER, self.sign(value).encode())] if signed else []
        recipient = request.recipient.person_id or request.recipient.subject_id or request.id
        await self.publish("notifications.requests", [(recipient.encode(), value)], headers)

    def sign(self, value: bytes) -> str:
        return sign_request(self.secrets.request_signing.encode(), value)

    async def read(self, name: str) -> list[Any]:
        """Every record on the topic ``name`` up to its current end."""
        return (await self.read_many([name]))[name]

    async def read_many(self, names: Sequence[str]) -> dict[str, list[Any]]:
        """Every record of each topic up to the end it has now (one consumer)."""
        found: dict[str, list[Any]] = {name: [] for name in names}
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.endpoints.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions: list[TopicPartition] = []
            for name in names:
                ids = consumer.partitions_for_topic(self.topic(name))
                if ids is None:
                    await consumer._client.force_metadata_update()
                    ids = consumer.partitions_for_topic(self.topic(name))
                partitions += [TopicPartition(self.topic(name), p) for p in ids or ()]
            if not partitions:
                return found
            ends = await consumer.end_offsets(partitions)
            wanted = {tp: end for tp, end in ends.items() if end > 0}
            if not wanted:
                return found
            consumer.assign(list(wanted))
            await consumer.seek_to_beginning(*wanted)
            deadline = time.monotonic() + 30
            while wanted and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for record in records:
                        if record.offset < wanted.get(tp, 0):
                            found[tp.topic.removeprefix(self.prefix)].append(record)
                    if records and records[-1].offset + 1 >= wanted.get(tp, 0):
                        wanted.pop(tp, None)
            return found
        finally:
            await consumer.stop()

    # ---- dead letters ----

    async def dead_letter_owners(self, key_id: str) -> list[str]:
        """The services whose schema holds the key of the dead letter ``key_id``."""
        owners = []
        for service in SERVICES:
            if await self.value(
                service, "SELECT count(*) FROM dead_letter_keys WHERE key_id = $1", key_id
            ):
                owners.append(service)
        return owners

    async def open_dead_letter(self, record: Any) -> bytes | None:
        """The original bytes of a sealed dead letter, opened as an operator holding every
        key would (``KINSHIP_DEAD_LETTER_KEY`` and the database); None once its key is gone."""
        from kinship_runtime.dead_letters import DeadLetterKeys

        headers = dict(record.headers)
        key_id = headers["kinship-dlq-sealed"].decode()
        position = ":".join(
            headers[f"kinship-dlq-{part}"].decode() for part in ("topic", "partition", "offset")
        )
        wrapping = hashlib.sha256(self.secrets.dead_letter.encode()).digest()
        for service in SERVICES:
            pool = await asyncpg.create_pool(
                self.endpoints.database_url,
                min_size=1,
                max_size=1,
                server_settings={"search_path": self.schemas[service]},
            )
            try:
                opened = await DeadLetterKeys(pool, wrapping).open(key_id, record.value, position)
            finally:
                await pool.close()
            if opened is not None:
                return opened
        return None

    # ---- logs ----

    def log_text(self) -> str:
        """Everything every service process wrote."""
        return "\n".join(
            process.log.read_text(errors="replace")
            for process in self.processes.values()
            if process.log.exists()
        )


def mentions(text: str, needle: str) -> bool:
    """Whether ``text`` holds ``needle`` as text or as hex (``pg_dump`` writes bytea as hex)."""
    return needle in text or needle.encode().hex() in text


def record_mentions(record: Any, needle: str) -> bool:
    """Whether a Kafka record's key, value or headers hold ``needle`` in clear."""
    raw = needle.encode()
    parts: list[bytes] = [record.key or b"", record.value or b""]
    for name, value in record.headers or ():
        parts += [name.encode(), value or b""]
    return any(raw in part for part in parts)


def service_environment(
    service: str,
    stack_env: dict[str, str],
    secrets_: Secrets,
    ports: dict[str, int],
) -> dict[str, str]:
    """The production environment of ``service`` in this stack."""
    checkin_url = f"http://127.0.0.1:{ports['checkin']}"
    env = stack_env | {
        "KINSHIP_ENV": "production",
        "KINSHIP_DATABASE_SCHEMA": f"{stack_env['KINSHIP_DATABASE_SCHEMA']}_{service}",
        "KINSHIP_JWT_SECRET": secrets_.jwt,
        "KINSHIP_JWT_ISSUER": ISSUER,
        "KINSHIP_JWT_AUDIENCE": AUDIENCE,
        "KINSHIP_DEAD_LETTER_KEY": secrets_.dead_letter,
        "KINSHIP_RATE_LIMIT_PER_PERSON": f"{RATE_PER_PERSON}/minute",
        "KINSHIP_RATE_LIMIT_PER_KEY": f"{RATE_PER_KEY}/minute",
        "KINSHIP_GRACEFUL_TIMEOUT_SECONDS": "5",
        "KINSHIP_API_KEYS": secrets_.api_keys(list(CALLING_SYSTEMS)),
    }
    if service == "checkin":
        env |= {
            "KINSHIP_API_KEYS": secrets_.api_keys([*CALLING_SYSTEMS, *SERVICE_KEYS]),
            "KINSHIP_NOTE_KEYS": f"k1:{secrets_.note_key}",
            "KINSHIP_NOTE_KEY_ID": "k1",
            "KINSHIP_GRANT_KEY": secrets_.grant,
        }
    else:
        env |= {
            "KINSHIP_CHECKIN_URL": checkin_url,
            "KINSHIP_CHECKIN_API_KEY": secrets_.keys[service],
            "KINSHIP_REQUEST_SIGNING_KEY": secrets_.request_signing,
        }
    if service == "escalation":
        env |= {
            "KINSHIP_LINK_SECRET": secrets_.link,
            "KINSHIP_GRANT_KEY": secrets_.grant,
            "KINSHIP_CASE_NOTE_KEYS": f"c1:{secrets_.case_note_key}",
            "KINSHIP_PUBLIC_URL": f"http://127.0.0.1:{ports['escalation']}",
            "KINSHIP_TIMER_POLL_SECONDS": "0.5",
        }
    if service == "notifications":
        env |= {
            "KINSHIP_LINK_SECRET": secrets_.link,
            "KINSHIP_WEBHOOK_SECRET": secrets_.webhook,
            "KINSHIP_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "KINSHIP_DELIVERY_TIMEOUT_SECONDS": "3",
            "KINSHIP_RETRY_BASE_SECONDS": "0.2",
            "KINSHIP_RETRY_MAX_SECONDS": "1",
            "KINSHIP_DELIVERY_MAX_ATTEMPTS": "2",
            "KINSHIP_DELIVERY_LEASE_SECONDS": "10",
            "KINSHIP_DELIVERY_POLL_SECONDS": "0.2",
            "KINSHIP_BREAKER_THRESHOLD": "50",
            "KINSHIP_CONSOLE_URL": "http://127.0.0.1:9",
        }
    return env


def process_environment(process: ServiceProcess, env: dict[str, str]) -> None:
    """Give ``process`` exactly ``env`` as its Kinship settings: nothing inherited from the
    shell running the tests (a developer's ``KINSHIP_ENV=dev`` must not leak in)."""
    for name in [n for n in process.env if n.startswith("KINSHIP_")]:
        del process.env[name]
    process.env.update(env)
    process.env["KINSHIP_HTTP_PORT"] = str(process.port)


@asynccontextmanager
async def running_stack(endpoints: Endpoints, directory: Path) -> AsyncIterator[Stack]:
    """Start everything, publish the directory, yield the stack; stop and clean up after."""
    run = secrets.token_hex(4)
    prefix, schema, group = f"sec{run}.", f"sec_{run}", f"sec{run}"
    secrets_ = Secrets()
    tls = make_tls(directory / "tls")
    smtp = SmtpReceiver()
    smtp.start()
    webhooks = TlsWebhookReceiver(tls)
    await webhooks.start()
    people = People(run[:6], webhooks.port)
    logs = directory / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes = {
        name: ServiceProcess({}, logs / f"{name}.log", module=f"kinship_{name}")
        for name in SERVICES
    }
    ports = {name: process.port for name, process in processes.items()}
    stack_env = {
        "KINSHIP_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "KINSHIP_DATABASE_URL": endpoints.database_url,
        "KINSHIP_DATABASE_SCHEMA": schema,
        "KINSHIP_TOPIC_PREFIX": prefix,
        "KINSHIP_CONSUMER_GROUP_PREFIX": group,
    }
    for name, process in processes.items():
        process_environment(process, service_environment(name, stack_env, secrets_, ports))
    notifications = processes["notifications"]
    notifications.env |= {
        "KINSHIP_SMTP_HOST": "127.0.0.1",
        "KINSHIP_SMTP_PORT": str(smtp.port),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(tls.trust), notifications.env.get("PYTHONPATH", "")])
        ),
    }
    http = httpx.AsyncClient(timeout=60.0)
    stack = Stack(
        endpoints,
        prefix,
        group,
        {name: f"{schema}_{name}" for name in SERVICES},
        processes,
        secrets_,
        people,
        smtp,
        webhooks,
        logs,
        http,
    )
    try:
        for process in processes.values():
            process.start()
        await asyncio.gather(*(process.ready(timeout=180) for process in processes.values()))
        await stack.publish("directory.people", [person.record() for person in people.all()])
        count = len(people.all())
        for name in SERVICES:
            found = await stack.wait_for(
                name, "SELECT count(*) FROM directory_people", count, timeout=60
            )
            assert found >= count, f"{name} has {found} of {count} people"
        yield stack
    finally:
        for process in processes.values():
            process.stop()
        await http.aclose()
        await webhooks.stop()
        smtp.stop()
        await clean_up(endpoints, schema, prefix)


# ---- small helpers -----------------------------------------------------------------------------


async def until(predicate: Any, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


def endpoint_signature(master: str, url: str, body: bytes) -> str:
    """What the receiver at ``url`` expects in ``X-Kinship-Signature`` (its own secret)."""
    from kinship_notifications.domain.signing import endpoint_secret

    secret = endpoint_secret(master.encode(), url).encode()
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def now_iso(delta: dt.timedelta = dt.timedelta()) -> str:
    return (dt.datetime.now(dt.UTC) + delta).isoformat()
