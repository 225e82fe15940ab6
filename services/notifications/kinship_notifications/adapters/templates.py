"""Message templates (Jinja2), one folder per locale, falling back to English."""

from pathlib import Path

import jinja2

from kinship_contracts.notifications import NotificationRequest
from kinship_notifications.domain.channels import Rendered, TemplateFailedError

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
FALLBACK_LOCALE = "en"


class Templates:
    """Renders requests (implements ``handlers.ports.TemplateRenderer``); a template's first
    line is ``Subject: …``, the rest is the body.

    Templates see the request's ``alert``, ``params`` and ``resources`` only: requests never
    carry a person's answers or notes, so no template can show them.
    """

    def __init__(self, directory: Path = TEMPLATES) -> None:
        self._environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            undefined=jinja2.StrictUndefined,
            # Plain text: webhook bodies are JSON-encoded and email is text/plain; no HTML.
            autoescape=False,  # noqa: S701
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, request: NotificationRequest, locale: str) -> Rendered:
        """The message in the recipient's locale (English when there is no translation).

        A template that does not exist or does not render (a missing parameter, say) raises
        ``TemplateFailedError``: no attempt can cure it, so the delivery fails at once.
        """
        try:
            template = self._environment.select_template(
                [f"{locale}/{request.template}.txt", f"{FALLBACK_LOCALE}/{request.template}.txt"]
            )
            text = template.render(
                alert=request.alert, params=request.params, resources=request.resources
            )
        except Exception:  # rendering is pure: whatever fails is the template's fault
            raise TemplateFailedError from None
        first, _, body = text.partition("\n")
        subject = first.removeprefix("Subject:").strip()
        return Rendered(subject=subject, text=body.strip() + "\n")
