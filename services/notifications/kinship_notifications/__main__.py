"""``python -m kinship_notifications [serve|migrate]``, and
``python -m kinship_notifications endpoint-secret <url>``: the signing secret to hand the
receiver at ``url`` (derived from ``KINSHIP_WEBHOOK_SECRET``; print it only where the
operator means to read it)."""

import argparse
import sys

from kinship_notifications.composition import MIGRATIONS, create_app
from kinship_notifications.domain.signing import endpoint_url, signing_key
from kinship_notifications.settings import NotificationSettings
from kinship_runtime.composition import run_service

PROG = "python -m kinship_notifications"


def endpoint_secret_command(argv: list[str]) -> int:
    """Print the signing secret of one webhook endpoint."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} endpoint-secret",
        description="Print the secret a webhook receiver verifies X-Kinship-Signature with.",
    )
    parser.add_argument("url", help="the endpoint's URL, as in the person's directory record")
    args = parser.parse_args(argv)
    try:
        url = endpoint_url(args.url)
    except ValueError:
        parser.error("not an http(s) URL")
    settings = NotificationSettings()
    if url != args.url:
        print(f"(for {url}, the form the directory keeps)", file=sys.stderr)
    shared = settings.webhook_signing == "shared"
    if shared:
        print("(KINSHIP_WEBHOOK_SIGNING=shared: every receiver has this one)", file=sys.stderr)
    key = signing_key(settings.webhook_secret.get_secret_value().encode(), url, shared=shared)
    print(key.decode())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Serve, migrate, or print an endpoint's secret."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["endpoint-secret"]:
        return endpoint_secret_command(args[1:])
    return run_service(PROG, NotificationSettings, create_app, MIGRATIONS, args)


if __name__ == "__main__":
    sys.exit(main())
