"""English and German: the browser's language decides (``Accept-Language``).

The language picks the catalog; the region, when the browser names one Babel knows (``en-GB``,
``de-AT``), picks how dates and numbers are written, so a British reader sees "29 Nov 2026",
not "Nov 29, 2026".

Catalogs are the ``.po`` files under ``translations/``, compiled in memory at start (no
``.mo`` files in the repository). English is the source language.
"""

import io
import re
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from babel import Locale, localedata
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import format_skeleton, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
DEFAULT_LOCALE = "en"
LOCALES = ("en", "de")


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def preferred_languages(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, parameters = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _quality, _position, tag in sorted(weighted)]


_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|[0-9]{3}))?")


def negotiate_locale(header: str | None) -> str:
    """The page's locale: ``de``, ``de-DE``, ``de-AT``… are German; anything else English.

    A region is kept (``en-GB``, ``de-AT``) when Babel knows that locale, for the formats of
    dates and numbers; the catalog is the language's (:func:`language_of`).
    """
    for tag in preferred_languages(header):
        match = _TAG.fullmatch(tag.strip())
        language = (match.group(1) if match else tag.replace("_", "-").split("-")[0]).lower()
        if language not in LOCALES:
            continue
        region = match.group(2) if match else None
        if region:
            candidate = f"{language}_{region.upper()}"
            return candidate.replace("_", "-") if localedata.exists(candidate) else language
        return language
    return DEFAULT_LOCALE


def language_of(locale: str) -> str:
    """The language part of a page locale (``en-GB`` → ``en``): which catalog to use."""
    return locale.split("-")[0]


def _babel(locale: str) -> Locale:
    return Locale.parse(locale, sep="-")


class Catalogs:
    """The compiled message catalogs, one per supported language."""

    def __init__(self, directory: Path = TRANSLATIONS) -> None:
        self._translations: dict[str, NullTranslations] = {DEFAULT_LOCALE: NullTranslations()}
        for locale in LOCALES:
            po = directory / locale / "LC_MESSAGES" / "messages.po"
            if locale == DEFAULT_LOCALE or not po.exists():
                continue
            with po.open("rb") as source:
                catalog = read_po(source, locale=locale)
            compiled = io.BytesIO()
            write_mo(compiled, catalog, use_fuzzy=False)
            compiled.seek(0)
            self._translations[locale] = Translations(compiled)

    def get(self, locale: str) -> NullTranslations:
        return self._translations.get(language_of(locale), self._translations[DEFAULT_LOCALE])


_ENGLISH = NullTranslations()
_current: ContextVar[NullTranslations | None] = ContextVar("translations", default=None)


def use_translations(translations: NullTranslations) -> None:
    """The catalog templates and ``gettext`` use while this request renders."""
    _current.set(translations)


def gettext(message: str) -> str:
    """``message`` in the current request's language."""
    return (_current.get() or _ENGLISH).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural of a message in the current request's language."""
    return (_current.get() or _ENGLISH).ngettext(singular, plural, count)


def age_text(age: timedelta, locale: str) -> str:
    """How long ago, in words ("3 hours ago", "vor 3 Stunden")."""
    return format_timedelta(-age, threshold=1.5, add_direction=True, locale=_babel(locale))


def duration_text(span: timedelta, locale: str) -> str:
    """A length of time in words, without direction ("4 minutes", "4 Minuten")."""
    return format_timedelta(span, threshold=1.5, locale=_babel(locale))


def date_text(day: date, locale: str, form: str = "medium") -> str:
    """A date in the page's language; ``short_week`` is the day and month ("12 May", "12. Mai")."""
    if form == "short_week":
        return format_skeleton("dMMM", day, locale=_babel(locale))
    return babel_format_date(day, format=form, locale=_babel(locale))


def datetime_text(moment: datetime, locale: str) -> str:
    """A moment in the page's language, in UTC (the console does not know the person's zone)."""
    text = babel_format_datetime(moment.astimezone(UTC), format="medium", locale=_babel(locale))
    return f"{text} UTC"


def number_text(value: float, locale: str) -> str:
    """A figure with at most two decimals in the page's language ("3.25", "3,25")."""
    return format_decimal(value, format="#,##0.##", locale=_babel(locale))


def template_globals() -> dict[str, Callable[..., Any]]:
    """Functions the templates call besides ``_``."""
    return {
        "age_text": age_text,
        "duration_text": duration_text,
        "format_date": date_text,
        "format_datetime": datetime_text,
        "format_number": number_text,
    }
