"""Settings outside the dev profile, with every secret a service requires there."""

from typing import Any

from pydantic import SecretStr

from kinship_runtime.identity import all_scopes_key
from kinship_runtime.settings import KinshipSettings


def strong_secrets(
    settings_type: type[KinshipSettings], *, without: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A distinct long value for each secret ``settings_type`` requires outside dev and has no
    default for, except those named in ``without``."""
    found: dict[str, Any] = {}
    for name, required in settings_type.SECRETS.items():
        field = settings_type.model_fields[name]
        if not required or name in without or field.is_required():
            continue
        if name == "api_keys":
            found[name] = SecretStr(all_scopes_key("vault-clients", "production-" + "k" * 40))
        elif field.default is None:
            found[name] = SecretStr(f"production-{name}-0123456789abcdef0123456789")
    return found
