"""The language a message is written in, and how times read in it, for one recipient.

A recipient's locale preference (``de``, ``de-DE``, ``de_AT``, ``en-GB`` …) picks one of the
languages Kinship has templates for by its language alone: every ``de-*`` is German, anything
unknown is English. Times are shown in the recipient's own time zone, formatted by Babel for
their locale (``de-AT`` keeps Austrian conventions, ``fr-FR`` reads English with English
formats, so a message never mixes two languages), never as raw UTC ISO strings.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, get_datetime_format

LANGUAGES = ("en", "de")
"""The languages every template exists in (a folder each under ``templates/``)."""
FALLBACK_LANGUAGE = "en"

_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "GMT"})


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # the directory validates zones; an old row may not be


def _babel_locale(language: str, territory: str) -> Locale:
    if territory:
        try:
            return Locale(language, territory)
        except (UnknownLocaleError, ValueError):
            pass  # e.g. de-US: German with German formats
    return Locale(language)


@dataclass(frozen=True)
class Reader:
    """Whom a message is rendered for: its language (the template folder), the Babel locale
    its times are formatted in, and the recipient's time zone."""

    language: str
    locale: Locale
    zone: ZoneInfo

    @classmethod
    def of(cls, preference: str, timezone: str) -> "Reader":
        """The reader for a locale preference (``de``, ``de-DE``, ``de_at``, ``en-GB`` …) and
        an IANA time zone; unknown languages read English, unknown zones UTC."""
        language, _, territory = preference.replace("_", "-").partition("-")
        language, territory = language.strip().lower(), territory.strip().upper()
        if language not in LANGUAGES:
            return cls(FALLBACK_LANGUAGE, Locale(FALLBACK_LANGUAGE), _zone(timezone))
        return cls(language, _babel_locale(language, territory), _zone(timezone))

    def when(self, moment: datetime | str) -> str:
        """A moment as the reader reads it: weekday, date and time in their zone and locale,
        with the zone's name, e.g. ``Wed, 25 November 2026, 00:30 (Central European Time)``
        or ``Mi., 25. November 2026, 00:30 (Mitteleuropäische Zeit)``.

        Accepts an aware datetime or an RFC 3339 string (template parameters); a time
        without an offset is taken as UTC. Anything else raises ``ValueError``.
        """
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        locale = self.locale
        date = locale.datetime_skeletons["yMMMMEd"].pattern
        time = locale.time_formats["short"].pattern
        joined = get_datetime_format("medium", locale=locale)
        pattern = str(joined).replace("{1}", date).replace("{0}", time)
        # The generic zone name ("Central European Time") reads well everywhere except for
        # UTC itself, which has no region: its short name is "UTC" in every language.
        zone = " z" if self.zone.key in _UTC_ZONES else " (vvvv)"
        return format_datetime(moment, pattern + zone, tzinfo=self.zone, locale=locale)
