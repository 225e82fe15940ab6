"""Keycloak as a local OIDC provider: fetched from Maven Central once, run as a process.

``org.keycloak:keycloak-quarkus-dist`` is fetched with Maven into the cache (like Kafka),
unpacked into the instance's state directory (each instance builds and keeps its own
Quarkus files and H2 database), and started with ``kc.sh start-dev`` on loopback with the
demo organisation's realm imported. ``fresh=True`` deletes the database first, so the realm
is imported anew (the import is skipped when the realm exists). Stop with SIGTERM.
"""

import asyncio
import base64
import hashlib
import os
import re
import shutil
import subprocess
import textwrap
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from kinship_devstack.stack import (
    StackError,
    default_cache_dir,
    pid_alive,
    port_open,
    stop_pid,
    tail,
)

KEYCLOAK_VERSION = "26.7.3"
REALM = "kinship"
REALM_FILE = Path(__file__).resolve().parent / "keycloak" / "kinship-realm.json"
DEMO_PASSWORD = "kinship-demo"  # noqa: S105 - the demo realm's documented password
"""Every demo person's password in the demo realm (local stacks and tests only)."""
CONSOLE_CLIENT_ID = "kinship-console"
DEV_CONSOLE_CLIENT_SECRET = "kinship-console-dev-secret"  # noqa: S105 - the dev realm's own
MINIMUM_JAVA = 17
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True)
class KeycloakConfig:
    """Where one Keycloak instance keeps its files, and its loopback ports."""

    state_dir: Path
    http_port: int = 8180
    management_port: int = 9180
    console_url: str = "http://127.0.0.1:8005"
    console_client_secret: str = DEV_CONSOLE_CLIENT_SECRET
    realm_file: Path = REALM_FILE
    cache_dir: Path = field(default_factory=default_cache_dir)

    @property
    def issuer(self) -> str:
        """The realm's issuer URL (every URL stays on 127.0.0.1 so the issuer matches)."""
        return f"http://127.0.0.1:{self.http_port}/realms/{REALM}"


def java_major(java: str) -> int | None:
    """The major version of a ``java`` binary, or None when it does not run."""
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _JAVA_VERSION.search(result.stderr + result.stdout)
    if result.returncode != 0 or match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def java_homes() -> list[Path]:
    """Where JDKs may be: JAVA_HOME, /usr/lib/jvm/*, and the ``java`` on PATH."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    candidates += sorted(Path("/usr/lib/jvm").glob("*/")) if Path("/usr/lib/jvm").is_dir() else []
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    return candidates


def newest_java(candidates: list[Path] | None = None) -> Path:
    """JAVA_HOME of the newest working JDK or JRE (17 or later) among ``candidates``."""
    candidates = java_homes() if candidates is None else candidates
    best: tuple[int, Path] | None = None
    for home in dict.fromkeys(candidate.resolve() for candidate in candidates):
        major = java_major(str(home / "bin" / "java"))
        if major is not None and major >= MINIMUM_JAVA and (best is None or major > best[0]):
            best = (major, home)
    if best is None:
        raise StackError(
            f"Keycloak needs Java {MINIMUM_JAVA} or later: apt-get install openjdk-17-jre-headless"
        )
    return best[1]


DEV_CONSOLE_SESSION_KEY = "kinshipConsoleDevSessionKeyNotForProduction="


def local_keycloak(state_dir: Path) -> "Keycloak":
    """The local stack's Keycloak: 127.0.0.1:8180, management 9180, console on 8005."""
    return Keycloak(
        KeycloakConfig(
            state_dir=state_dir / "keycloak",
            http_port=int(os.environ.get("KINSHIP_KEYCLOAK_PORT", "8180")),
            management_port=int(os.environ.get("KINSHIP_KEYCLOAK_MANAGEMENT_PORT", "9180")),
        )
    )


def console_environment(keycloak: "Keycloak") -> dict[str, str]:
    """The console's settings in the local stack (development keys: ``KINSHIP_ENV=dev``)."""
    return {
        "KINSHIP_ENV": "dev",
        "KINSHIP_CONSOLE_PUBLIC_URL": keycloak.config.console_url,
        "KINSHIP_CONSOLE_OIDC_ISSUER": keycloak.issuer,
        "KINSHIP_CONSOLE_OIDC_CLIENT_SECRET": keycloak.config.console_client_secret,
        "KINSHIP_CONSOLE_SESSION_KEY": os.environ.get(
            "KINSHIP_CONSOLE_SESSION_KEY", DEV_CONSOLE_SESSION_KEY
        ),
    }


async def token_verification_environment(keycloak: "Keycloak") -> dict[str, str]:
    """Settings that make the services accept the realm's access tokens.

    The services find the realm's signing keys through OIDC discovery (JWKS, rotation
    included) and take the person from the realm's ``person_id`` claim: Keycloak's own
    ``sub`` is its internal user id, not the directory's person id.
    """
    return {
        "KINSHIP_OIDC_ISSUER": keycloak.issuer,
        "KINSHIP_JWT_AUDIENCE": "kinship",
        "KINSHIP_JWT_PERSON_CLAIM": "person_id",
    }


def realm_public_key_pem(realm: dict[str, object]) -> str:
    """The realm's RSA signing key as PEM, from the realm endpoint's ``public_key``."""
    encoded = str(realm["public_key"])
    base64.b64decode(encoded, validate=True)  # fail here, not in a verifier
    body = "\n".join(textwrap.wrap(encoded, 64))
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


class Keycloak:
    """One Keycloak process with the demo realm."""

    def __init__(self, config: KeycloakConfig) -> None:
        self.config = config
        self.state = config.state_dir.resolve()

    @property
    def home(self) -> Path:
        """This instance's Keycloak installation (its own Quarkus build and database)."""
        return self.state / f"keycloak-{KEYCLOAK_VERSION}"

    @property
    def pid_file(self) -> Path:
        return self.state / "keycloak.pid"

    @property
    def log(self) -> Path:
        return self.state / "keycloak.log"

    @property
    def issuer(self) -> str:
        return self.config.issuer

    def distribution(self) -> Path:
        """The distribution zip, fetched with Maven on first use (atomically)."""
        target = self.config.cache_dir / f"keycloak-{KEYCLOAK_VERSION}"
        archive = target / f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.zip"
        if archive.is_file():
            return archive
        if shutil.which("mvn") is None:
            raise StackError("Maven (mvn) is needed once to fetch Keycloak: apt-get install maven")
        staging = target.parent / f"keycloak-staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        result = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "dependency:copy",
                f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:zip",
                f"-DoutputDirectory={staging}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        fetched = staging / archive.name
        if result.returncode != 0 or not fetched.is_file():
            shutil.rmtree(staging, ignore_errors=True)
            raise StackError(
                f"fetching Keycloak {KEYCLOAK_VERSION} with Maven failed:\n{result.stdout[-3000:]}"
            )
        target.mkdir(parents=True, exist_ok=True)
        fetched.rename(archive)
        shutil.rmtree(staging, ignore_errors=True)
        return archive

    def install(self) -> Path:
        """Unpack the distribution into this instance's home (once)."""
        if (self.home / "bin" / "kc.sh").is_file():
            return self.home
        archive = self.distribution()
        staging = self.state / f"unpacking-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(staging)
        unpacked = staging / f"keycloak-{KEYCLOAK_VERSION}"
        for script in (unpacked / "bin").glob("*.sh"):
            script.chmod(0o755)
        shutil.rmtree(self.home, ignore_errors=True)
        unpacked.rename(self.home)
        shutil.rmtree(staging, ignore_errors=True)
        return self.home

    def launch(self, *, fresh: bool = False) -> None:
        """Start the process (unless it runs) without waiting for it; see ``ready``.

        ``fresh`` deletes the database so the realm file is imported again.
        """
        if pid_alive(self.pid_file) is not None:
            return
        for port in (self.config.http_port, self.config.management_port):
            if port_open(port):
                raise StackError(f"port {port} for Keycloak is taken by another program")
        self.state.mkdir(parents=True, exist_ok=True)
        home = self.install()
        data = home / "data"
        if fresh:
            shutil.rmtree(data / "h2", ignore_errors=True)
            shutil.rmtree(data / "transaction-logs", ignore_errors=True)
            if (self.seed / "h2").is_dir():
                shutil.copytree(self.seed / "h2", data / "h2")
        (data / "import").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.config.realm_file, data / "import" / "kinship-realm.json")
        java_home = newest_java()
        environment = {
            **os.environ,
            "JAVA_HOME": str(java_home),
            # Placeholders in the realm file (Keycloak substitutes ${VAR:default} on import).
            "KINSHIP_CONSOLE_URL": self.config.console_url.rstrip("/"),
            "KINSHIP_CONSOLE_OIDC_CLIENT_SECRET": self.config.console_client_secret,
        }
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                [
                    "sh",
                    str(home / "bin" / "kc.sh"),
                    "start-dev",
                    "--http-host=127.0.0.1",
                    f"--http-port={self.config.http_port}",
                    f"--http-management-port={self.config.management_port}",
                    "--health-enabled=true",
                    "--import-realm",
                ],
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))

    async def ready(self, timeout: float = 240.0) -> None:
        """Wait until the management health check is UP and the realm answers."""
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self.config.management_port}/health/ready"
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        async with httpx.AsyncClient(timeout=5.0) as client:
            while time.monotonic() < deadline:
                if pid_alive(self.pid_file) is None:
                    break
                try:
                    up = await client.get(health)
                    if up.status_code == 200 and (await client.get(discovery)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(1.0)
        raise StackError(f"Keycloak did not become ready; its log ends:\n{tail(self.log)}")

    async def start(self, *, fresh: bool = False, timeout: float = 240.0) -> None:
        """Launch (unless running) and wait until ready."""
        await asyncio.to_thread(self.launch, fresh=fresh)
        await self.ready(timeout)

    @property
    def seed(self) -> Path:
        """Where the database right after a fresh import of this realm configuration is kept."""
        digest = hashlib.sha256()
        for part in (
            KEYCLOAK_VERSION,
            self.config.realm_file.read_text(),
            self.config.console_url,
            self.config.console_client_secret,
        ):
            digest.update(part.encode() + b"\0")
        return self.state / "seeds" / digest.hexdigest()[:16]

    async def keep_seed(self, timeout: float = 240.0) -> None:
        """After a fresh start: keep its database for the next fresh start (once per realm
        configuration; Keycloak is stopped for the copy and started again)."""
        if (self.seed / "h2").is_dir():
            return
        await self.stop()
        staging = self.seed.parent / f"staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        await asyncio.to_thread(shutil.copytree, self.home / "data" / "h2", staging / "h2")
        shutil.rmtree(self.seed, ignore_errors=True)
        staging.rename(self.seed)
        await self.start(timeout=timeout)

    async def stop(self) -> None:
        """SIGTERM (kc.sh passes it on to the JVM), SIGKILL after 30 s."""
        await asyncio.to_thread(stop_pid, self.pid_file, 30.0)

    def running(self) -> int | None:
        """The pid of the running instance, if any."""
        return pid_alive(self.pid_file)

    async def public_key_pem(self) -> str:
        """The realm's current signing key as PEM (for verifiers that take a PEM key)."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(self.issuer)
            response.raise_for_status()
            return realm_public_key_pem(response.json())
