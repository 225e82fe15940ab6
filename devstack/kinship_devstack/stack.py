"""A real local stack without Docker: Apache Kafka (KRaft) and PostgreSQL 15 as processes.

Kafka comes from Maven Central (``org.apache.kafka:kafka_2.13``, fetched once into a cache);
PostgreSQL from the system's binaries. Both keep their data under a project-local state
directory and listen on loopback only.
"""

import asyncio
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

KAFKA_VERSION = "4.1.1"
POSTGRES_USER = "kinship"
_HERE = Path(__file__).resolve().parent


class StackError(RuntimeError):
    """A part of the local stack could not be provisioned or started."""


def repo_root() -> Path:
    """The nearest parent of the working directory holding ``.git`` (or the cwd)."""
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return here


def default_cache_dir() -> Path:
    """Where downloaded Kafka jars live across stacks and runs."""
    return Path(os.environ.get("KINSHIP_CACHE_DIR", Path.home() / ".cache" / "kinship"))


@dataclass(frozen=True)
class StackConfig:
    """Where the stack keeps its state and which loopback ports it uses."""

    state_dir: Path
    kafka_port: int = 19092
    postgres_port: int = 15432
    cache_dir: Path = field(default_factory=default_cache_dir)

    @property
    def controller_port(self) -> int:
        """The KRaft controller listener: the Kafka port plus one."""
        return self.kafka_port + 1


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process still runs."""
    try:
        pid = int(pid_file.read_text().strip())
        if pid <= 1:  # 0 and -1 address process groups, 1 is init: never ours to signal
            return None
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def stop_pid(pid_file: Path, timeout: float, kill: bool = False) -> None:
    """Stop the process in ``pid_file``: SIGTERM (or SIGKILL), then SIGKILL after ``timeout``."""
    pid = pid_alive(pid_file)
    if pid is not None:
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.2)
        if _running(pid):
            os.kill(pid, signal.SIGKILL)
            while _running(pid):
                time.sleep(0.1)
    pid_file.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        finished, _status = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass  # not our child: fall back to a signal probe
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for error messages."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def render_server_properties(config: StackConfig, data_dir: Path) -> str:
    """A single-node KRaft configuration (broker and controller in one process)."""
    port, ctl = config.kafka_port, config.controller_port
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{ctl}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{ctl}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={data_dir}",
            "num.partitions=3",
            "auto.create.topics.enable=true",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "",
        ]
    )


LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
"""


class LocalStack:
    """Kafka and PostgreSQL for a developer's laptop, CI, and the test suite."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.state = config.state_dir.resolve()

    @property
    def bootstrap_servers(self) -> str:
        """Kafka's bootstrap address."""
        return f"127.0.0.1:{self.config.kafka_port}"

    @property
    def database_url(self) -> str:
        """The ``postgres`` database of the local server (trust on loopback)."""
        return f"postgresql://postgres@127.0.0.1:{self.config.postgres_port}/postgres"

    def url_for(self, database: str) -> str:
        """The URL of another database on the local server."""
        return f"postgresql://postgres@127.0.0.1:{self.config.postgres_port}/{database}"

    async def start_infra(self) -> None:
        """Start Kafka and PostgreSQL (idempotent) and wait until both answer."""
        await asyncio.gather(self.start_kafka(), self.start_postgres())

    async def stop_infra(self) -> None:
        """Stop both (harmless when they are not running)."""
        await asyncio.gather(self.stop_kafka(), self.stop_postgres())

    # Kafka -----------------------------------------------------------------

    def kafka_libs(self) -> Path:
        """The broker's jars, fetched with Maven on first use (atomically)."""
        libs = self.config.cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"
        if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
            return libs
        if shutil.which("mvn") is None:
            raise StackError("Maven (mvn) is needed once to fetch Kafka: apt-get install maven")
        staging = libs.parent / f"staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        pom = staging / "pom.xml"
        pom.write_text(
            (_HERE / "kafka_pom.xml").read_text().replace("@KAFKA_VERSION@", KAFKA_VERSION)
        )
        result = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging / 'libs'}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(
                f"fetching Kafka {KAFKA_VERSION} with Maven failed:\n{result.stdout[-3000:]}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        (staging / "libs").rename(libs)
        shutil.rmtree(staging, ignore_errors=True)
        return libs

    async def start_kafka(self, timeout: float = 90.0) -> None:
        """Format storage on first start, start ``kafka.Kafka``, wait for a real client call."""
        directory = self.state / "kafka"
        pid_file = directory / "kafka.pid"
        if pid_alive(pid_file) is None:
            for port in (self.config.kafka_port, self.config.controller_port):
                if port_open(port):
                    raise StackError(f"port {port} is taken by another program")
            await asyncio.to_thread(self._launch_kafka, directory, pid_file)
        await self._await_kafka(directory, timeout)

    def _launch_kafka(self, directory: Path, pid_file: Path) -> None:
        libs = self.kafka_libs()
        data = directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        properties = directory / "server.properties"
        properties.write_text(render_server_properties(self.config, data))
        log4j = directory / "log4j2.properties"
        log4j.write_text(LOG4J2.format(log=directory / "server.log"))
        classpath = f"{libs}/*"
        java = shutil.which("java") or "java"
        if not (data / "meta.properties").exists():
            cluster_id = (
                subprocess.run(
                    [java, "-cp", classpath, "kafka.tools.StorageTool", "random-uuid"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            subprocess.run(
                [
                    java,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    cluster_id,
                    "-c",
                    str(properties),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
        with (directory / "stdout.log").open("ab") as out:
            process = subprocess.Popen(
                [
                    java,
                    "-Xms1G",
                    "-Xmx1G",
                    f"-Dlog4j2.configurationFile={log4j}",
                    "-cp",
                    classpath,
                    "kafka.Kafka",
                    str(properties),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pid_file.write_text(str(process.pid))

    async def _await_kafka(self, directory: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if pid_alive(directory / "kafka.pid") is None:
                break
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers, request_timeout_ms=5000
            )
            try:
                await admin.start()
                await admin.list_topics()
                return
            except Exception as error:  # not up yet
                last = error
            finally:
                await admin.close()
            await asyncio.sleep(1)
        raise StackError(
            f"Kafka did not become ready ({type(last).__name__ if last else 'process exited'}):\n"
            f"{tail(directory / 'stdout.log')}\n{tail(directory / 'server.log')}"
        )

    async def stop_kafka(self, kill: bool = False) -> None:
        """Stop the broker (SIGTERM lets it close its logs cleanly; ``kill`` uses SIGKILL)."""
        await asyncio.to_thread(stop_pid, self.state / "kafka" / "kafka.pid", 30.0, kill)

    # PostgreSQL ------------------------------------------------------------

    def _pg_bin(self, name: str) -> str:
        for directory in (Path("/usr/lib/postgresql/15/bin"),):
            if (directory / name).exists():
                return str(directory / name)
        found = shutil.which(name)
        if found:
            return found
        raise StackError(
            "PostgreSQL 15 binaries not found: apt-get install postgresql-15 "
            "(make bootstrap does it)"
        )

    def _as_owner(self, argv: list[str]) -> list[str]:
        # PostgreSQL refuses to run as root: run it as an unprivileged system user.
        if os.geteuid() != 0:
            return argv
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    POSTGRES_USER,
                ],
                check=True,
            )
        return ["runuser", "-u", POSTGRES_USER, "--", *argv]

    async def start_postgres(self, timeout: float = 30.0) -> None:
        """Initialise the data directory once, start the server on loopback, wait for it."""
        await asyncio.to_thread(self._launch_postgres)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                conn = await asyncpg.connect(self.database_url, timeout=2)
                await conn.close()
                return
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(0.3)
        raise StackError(
            f"PostgreSQL did not become ready:\n{tail(self.state / 'postgres' / 'server.log')}"
        )

    def _launch_postgres(self) -> None:
        directory = self.state / "postgres"
        data = directory / "data"
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._as_owner(["true"])  # creates the user when needed
            owner = pwd.getpwnam(POSTGRES_USER)
            os.chown(directory, owner.pw_uid, owner.pw_gid)
            for parent in directory.parents:  # the server user must be able to reach its files
                if parent == Path("/"):
                    break
                parent.chmod(parent.stat().st_mode | 0o001)
        if not (data / "PG_VERSION").exists():
            subprocess.run(
                self._as_owner(
                    [
                        self._pg_bin("initdb"),
                        "-D",
                        str(data),
                        "-A",
                        "trust",
                        "-U",
                        "postgres",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                capture_output=True,
                check=True,
            )
        status = subprocess.run(
            self._as_owner([self._pg_bin("pg_ctl"), "-D", str(data), "status"]),
            capture_output=True,
            check=False,
        )
        if status.returncode == 0:
            return
        if port_open(self.config.postgres_port):
            raise StackError(f"port {self.config.postgres_port} is taken by another program")
        options = (
            f"-p {self.config.postgres_port} -k {directory} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c shared_buffers=256MB"
        )
        subprocess.run(
            self._as_owner(
                [
                    self._pg_bin("pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(directory / "server.log"),
                    "-w",
                    "start",
                ]
            ),
            capture_output=True,
            check=True,
        )

    async def stop_postgres(self) -> None:
        """Stop the server with a fast shutdown (harmless when it is not running)."""
        data = self.state / "postgres" / "data"
        if not (data / "PG_VERSION").exists():
            return
        await asyncio.to_thread(
            subprocess.run,
            self._as_owner([self._pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            check=False,
        )

    async def create_database(self, name: str) -> None:
        """Create a database on the local server unless it exists."""
        conn = await asyncpg.connect(self.database_url)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
