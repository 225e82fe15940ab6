"""``kinship-dev``: run the local stack (``up``, ``down``, ``status``, ``env``, ``logs``)."""

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from kinship_devstack.keycloak import (
    console_environment,
    local_keycloak,
    token_verification_environment,
)
from kinship_devstack.services import (
    DEPLOYMENTS,
    available_services,
    start_service,
    stop_service,
)
from kinship_devstack.stack import LocalStack, StackConfig, StackError, pid_alive, repo_root, tail


def _stack(args: argparse.Namespace) -> LocalStack:
    return LocalStack(
        StackConfig(
            state_dir=args.state_dir,
            kafka_port=args.kafka_port,
            postgres_port=args.postgres_port,
        )
    )


async def _up(stack: LocalStack, with_services: bool) -> None:
    print(
        f"starting Kafka on {stack.bootstrap_servers} and PostgreSQL on port "
        f"{stack.config.postgres_port} (first start fetches Kafka with Maven)..."
    )
    keycloak = local_keycloak(stack.state)
    if with_services:
        # Keycloak boots (6-60 s; the first start also fetches it) while Kafka and PostgreSQL do.
        print(f"starting Keycloak on {keycloak.issuer} ...")
        await asyncio.to_thread(keycloak.launch)
    await stack.start_infra()
    await stack.create_database("kinship")
    services = available_services(os.environ.get("KINSHIP_DEV_REPLICAS", ""))
    if with_services:
        await keycloak.ready()
        tokens = await token_verification_environment(keycloak)
        for spec in services:
            print(f"starting {spec.instance} on http://127.0.0.1:{spec.port} ...")
            extra = console_environment(keycloak) if spec.name == "console" else {}
            await start_service(stack, spec, extra_env={**tokens, **extra})
    print("ready:")
    print(f"  kafka             {stack.bootstrap_servers}")
    print(f"  postgresql        {stack.url_for('kinship')}")
    if with_services:
        print(f"  keycloak          {keycloak.issuer}  (logs: {keycloak.log})")
    for spec in services if with_services else []:
        print(
            f"  {spec.instance:<17} http://127.0.0.1:{spec.port}  (docs: /docs, logs: "
            f"{stack.state / 'logs' / (spec.instance + '.log')})"
        )
    if with_services and any(spec.name == "console" for spec in services):
        print(
            "console: sign in at http://127.0.0.1:8005 as ada, ben or cleo (employees), rosa or "
            "sam (peer responders), cora (coordinator), mia or theo (team managers); "
            "password kinship-demo"
        )


async def _down(stack: LocalStack, with_services: bool) -> None:
    if with_services:
        # Every replica that may run, whatever KINSHIP_DEV_REPLICAS says now.
        for spec in reversed(available_services(",".join(f"{s}=9" for s in DEPLOYMENTS))):
            stop_service(stack, spec)
        await local_keycloak(stack.state).stop()
    await stack.stop_infra()
    print("stopped")


def _status(stack: LocalStack) -> None:
    rows = [
        ("kafka", stack.state / "kafka" / "kafka.pid"),
        ("keycloak", local_keycloak(stack.state).pid_file),
    ]
    every = available_services(",".join(f"{name}=9" for name in DEPLOYMENTS))
    rows += [
        (spec.instance, stack.state / "run" / f"{spec.instance}.pid")
        for spec in every
        if spec.replica == 0 or (stack.state / "run" / f"{spec.instance}.pid").exists()
    ]
    for name, pid_file in rows:
        pid = pid_alive(pid_file)
        print(f"{name:<18} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")
    postgres = (stack.state / "postgres" / "data" / "postmaster.pid").exists()
    print(f"{'postgresql':<18} {'running' if postgres else 'stopped'}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``kinship-dev``."""
    # While Kafka starts, aiokafka logs every refused connection of the readiness probe.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="kinship-dev", description=__doc__)
    parser.add_argument(
        "command", choices=["up", "down", "status", "env", "logs", "infra-up", "infra-down"]
    )
    parser.add_argument("name", nargs="?", help="service name for 'logs'")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("KINSHIP_STATE_DIR", repo_root() / ".kinship" / "stack")),
    )
    parser.add_argument(
        "--kafka-port", type=int, default=int(os.environ.get("KINSHIP_KAFKA_PORT", "19092"))
    )
    parser.add_argument(
        "--postgres-port", type=int, default=int(os.environ.get("KINSHIP_POSTGRES_PORT", "15432"))
    )
    args = parser.parse_args(argv)
    stack = _stack(args)
    try:
        if args.command in ("up", "infra-up"):
            asyncio.run(_up(stack, with_services=args.command == "up"))
        elif args.command in ("down", "infra-down"):
            asyncio.run(_down(stack, with_services=args.command == "down"))
        elif args.command == "status":
            _status(stack)
        elif args.command == "env":
            print(f"export KINSHIP_KAFKA_BOOTSTRAP_SERVERS={stack.bootstrap_servers}")
            print(f"export KINSHIP_DATABASE_URL={stack.url_for('kinship')}")
        elif args.command == "logs":
            name = args.name or "checkin"
            print(tail(stack.state / "logs" / f"{name}.log", 100))
    except StackError as error:
        print(f"kinship-dev {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
