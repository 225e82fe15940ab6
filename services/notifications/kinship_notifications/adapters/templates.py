"""Message templates (Jinja2), one folder per language (``domain.locales.LANGUAGES``)."""

from pathlib import Path

import jinja2

from kinship_contracts.notifications import NotificationRequest
from kinship_notifications.domain.channels import Rendered, TemplateFailedError
from kinship_notifications.domain.locales import FALLBACK_LANGUAGE, Reader

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class Templates:
    """Renders requests (implements ``handlers.ports.TemplateRenderer``); a template's first
    line is ``Subject: …``, the rest is the body.

    Templates see the request's ``alert``, ``params`` and ``resources``, and ``when(…)``,
    which shows a time (a datetime or an RFC 3339 parameter) in the recipient's zone and
    locale. Requests never carry a person's answers or notes, so no template can show them.
    """

    def __init__(self, directory: Path = TEMPLATES) -> None:
        self._environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            undefined=jinja2.StrictUndefined,
            # Plain text: webhook bodies are JSON-encoded and email is text/plain; no HTML.
            autoescape=False,  # noqa: S701
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def render(self, request: NotificationRequest, locale: str, timezone: str) -> Rendered:
        """The message in the recipient's language (``de``, ``de-DE``, any ``de-*``: German;
        anything else English), its times in their zone.

        A template that does not exist or does not render (a missing parameter, a time that
        is not one) raises ``TemplateFailedError``: no attempt can cure it, so the delivery
        fails at once.
        """
        reader = Reader.of(locale, timezone)
        try:
            template = self._environment.select_template(  # every language has every one;
                [  # the fallback only guards a template added in English alone
                    f"{reader.language}/{request.template}.txt",
                    f"{FALLBACK_LANGUAGE}/{request.template}.txt",
                ]
            )
            text = template.render(
                alert=request.alert,
                params=request.params,
                resources=request.resources,
                when=reader.when,
            )
        except Exception:  # rendering is pure: whatever fails is the template's fault
            raise TemplateFailedError from None
        first, _, body = text.partition("\n")
        subject = first.removeprefix("Subject:").strip()
        language = template.name.split("/")[0] if template.name else FALLBACK_LANGUAGE
        return Rendered(subject=subject, text=body.strip() + "\n", language=language)
