"""System entities (``@sys.*``), to a documented extent, for English.

Each extractor returns :class:`EntityMatch` spans over the original text. Values have the shapes CX
returns in session parameters:

=====================  ====================================================================
@sys.any               the whole utterance, trimmed
@sys.number(-integer)  a number (digits, decimals, thousands commas, or number words up to 99)
@sys.cardinal          like @sys.number-integer
@sys.ordinal           "first"…"tenth", "1st", "2nd"… as an integer
@sys.number-sequence   a run of digits, spaces and dashes, as a string of digits
@sys.date              ``{"year", "month", "day"}``: ISO and US numeric dates, "Jan 5", "5th of
                       January", "today", "tomorrow", "yesterday", weekdays ("friday",
                       "next friday"), "in N days/weeks" and a few fixed holidays. Dates without a
                       year resolve to the next such day on or after the reference date.
@sys.time              ``{"hours", "minutes", "seconds", "nanos"}``: "3pm", "3:30 p.m.", "15:00",
                       "noon", "midnight"
@sys.email / url       by pattern
@sys.phone-number      7 or more digits with common separators, as written
@sys.zip-code          US ZIP or ZIP+4, as a string
@sys.percentage        "15%", "15 percent" as "15%"
@sys.person            ``{"name": …}`` after "my name is" / "I am" / "this is", or, when the
                       parameter is being prompted, a reply of one to four words
@sys.geo-city/country  a built-in list of well-known names, or when prompted a reply of one to
                       three words
@sys.address           when prompted, a reply of two words or more
@sys.color             basic colour names
=====================  ====================================================================

Other system entities are filled only when their parameter is being prompted, with the trimmed
utterance (a documented emulator limit).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_cx.emulator.runtime.text import fold


@dataclass(frozen=True)
class EntityMatch:
    start: int
    end: int
    value: Any
    original: str
    # True for a fuzzy (misspelt or partial) match of a custom entity: weaker evidence than an exact one.
    fuzzy: bool = False

    @property
    def length(self) -> int:
        return self.end - self.start


Extractor = Callable[[str, dt.date, bool], list[EntityMatch]]

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10,
}  # fmt: skip
_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
_HOLIDAYS = {
    "christmas eve": (12, 24), "christmas day": (12, 25), "christmas": (12, 25), "xmas": (12, 25),
    "new year's eve": (12, 31), "new years eve": (12, 31), "new year's day": (1, 1), "new years day": (1, 1),
    "new year": (1, 1), "halloween": (10, 31), "valentine's day": (2, 14), "independence day": (7, 4),
    "fourth of july": (7, 4), "4th of july": (7, 4),
}  # fmt: skip
_CITIES = {
    "new york", "los angeles", "chicago", "houston", "phoenix", "philadelphia", "san antonio", "san diego",
    "dallas", "san jose", "austin", "san francisco", "seattle", "denver", "boston", "washington",
    "las vegas", "portland", "miami", "atlanta", "detroit", "orlando", "palo alto", "mountain view",
    "sunnyvale", "london", "paris", "berlin", "madrid", "rome", "amsterdam", "brussels", "vienna", "zurich",
    "geneva", "munich", "frankfurt", "hamburg", "dublin", "lisbon", "barcelona", "milan", "prague", "warsaw",
    "stockholm", "oslo", "copenhagen", "helsinki", "athens", "istanbul", "moscow", "dubai", "doha",
    "abu dhabi", "cairo", "johannesburg", "cape town", "lagos", "nairobi", "mumbai", "delhi", "new delhi",
    "bangalore", "singapore", "hong kong", "tokyo", "osaka", "seoul", "beijing", "shanghai", "sydney",
    "melbourne", "brisbane", "perth", "auckland", "toronto", "vancouver", "montreal", "mexico city",
    "sao paulo", "rio de janeiro", "buenos aires", "lima", "bogota", "santiago", "utrecht", "rotterdam",
}  # fmt: skip
_COUNTRIES = {
    "united states", "usa", "us", "america", "canada", "mexico", "brazil", "argentina", "chile", "peru",
    "colombia", "united kingdom", "uk", "england", "scotland", "ireland", "france", "germany", "spain",
    "portugal", "italy", "netherlands", "the netherlands", "holland", "belgium", "switzerland", "austria",
    "poland", "sweden", "norway", "denmark", "finland", "greece", "turkey", "russia", "ukraine", "egypt",
    "south africa", "nigeria", "kenya", "india", "china", "japan", "south korea", "korea", "singapore",
    "australia", "new zealand", "qatar", "united arab emirates", "uae", "saudi arabia", "israel",
}  # fmt: skip
_COLORS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey", "gray"}


def _m(match: re.Match[str], value: Any, group: int = 0) -> EntityMatch:
    return EntityMatch(match.start(group), match.end(group), value, match.group(group))


def _tidy_number(text: str) -> int | float:
    value = float(text.replace(",", ""))
    return int(value) if value.is_integer() and "." not in text else value


_NUMBER_WORDS = "|".join(sorted([*_UNITS, *_TENS], key=len, reverse=True))
_RE_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\w)|(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_RE_NUMBER_WORD = re.compile(rf"\b(?:({'|'.join(_TENS)})[\s-]+({'|'.join(_UNITS)})|({_NUMBER_WORDS}))\b", re.I)


def number(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    out = [_m(match, _tidy_number(match.group())) for match in _RE_NUMBER.finditer(text)]
    for match in _RE_NUMBER_WORD.finditer(text):
        if match.group(1):
            value = _TENS[match.group(1).lower()] + _UNITS[match.group(2).lower()]
        else:
            word = match.group(3).lower()
            value = _UNITS.get(word, _TENS.get(word, 0))
        out.append(_m(match, value))
    return out


def number_integer(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    return [m for m in number(text, today, prompted) if isinstance(m.value, int)]


_RE_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b|\b(" + "|".join(_ORDINALS) + r")\b", re.I)


def ordinal(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    out = []
    for match in _RE_ORDINAL.finditer(text):
        value = int(match.group(1)) if match.group(1) else _ORDINALS[match.group(2).lower()]
        out.append(_m(match, value))
    return out


_RE_SEQUENCE = re.compile(r"\d(?:[\s-]*\d)*")


def number_sequence(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    return [_m(match, re.sub(r"\D", "", match.group())) for match in _RE_SEQUENCE.finditer(text)]


_RE_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_RE_URL = re.compile(r"\b(?:https?://|www\.)[^\s]+|\b[a-z0-9-]+\.(?:com|org|net|io|dev|ai|co)(?:/[^\s]*)?\b", re.I)
_RE_PHONE = re.compile(r"(?<!\w)\+?\(?\d[\d\s().-]{5,}\d(?!\w)")
_RE_ZIP = re.compile(r"\b\d{5}(?:-\d{4})?\b")
_RE_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|percent\b)", re.I)


def email(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    return [_m(match, match.group()) for match in _RE_EMAIL.finditer(text)]


def url(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    return [_m(match, match.group().rstrip(".,")) for match in _RE_URL.finditer(text) if "@" not in match.group()]


def phone_number(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    out = []
    for match in _RE_PHONE.finditer(text):
        if len(re.sub(r"\D", "", match.group())) >= 7:
            out.append(_m(match, match.group().strip()))
    return out


def zip_code(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    return [_m(match, match.group()) for match in _RE_ZIP.finditer(text)]


def percentage(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    return [_m(match, f"{match.group(1)}%") for match in _RE_PERCENT.finditer(text)]


# --- dates ------------------------------------------------------------------------------------
def _date_value(day: dt.date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def _upcoming(today: dt.date, month: int, day: int) -> dt.date | None:
    try:
        candidate = dt.date(today.year, month, day)
        return candidate if candidate >= today else dt.date(today.year + 1, month, day)
    except ValueError:
        return None


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_RE_MONTH_DAY = re.compile(rf"\b({_MONTH_NAMES})\.?\s+(?:the\s+)?{_DAY}\b(?:,?\s+(\d{{4}}))?", re.I)
_RE_DAY_MONTH = re.compile(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?({_MONTH_NAMES})\b\.?(?:,?\s+(\d{{4}}))?", re.I)
_RE_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_RE_US = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")
_RE_RELATIVE = re.compile(r"\b(day after tomorrow|today|tonight|tomorrow|yesterday)\b", re.I)
_RE_WEEKDAY = re.compile(rf"\b(?:(next|this|coming)\s+)?({'|'.join(_WEEKDAYS)})\b", re.I)
_RE_IN = re.compile(r"\bin\s+(\d+|" + "|".join(_UNITS) + r")\s+(day|week)s?\b", re.I)
_RE_HOLIDAY = re.compile(
    r"\b(" + "|".join(re.escape(h) for h in sorted(_HOLIDAYS, key=len, reverse=True)) + r")\b", re.I
)


def date(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    out: list[EntityMatch] = []

    def add(match: re.Match[str], day: dt.date | None) -> None:
        if day is not None:
            out.append(_m(match, _date_value(day)))

    for match in _RE_ISO.finditer(text):
        add(match, _safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3))))
    for match in _RE_US.finditer(text):
        month, day, year = int(match.group(1)), int(match.group(2)), match.group(3)
        if year:
            full = int(year) + (2000 if len(year) == 2 else 0)
            add(match, _safe_date(full, month, day))
        else:
            add(match, _upcoming(today, month, day))
    for match in _RE_MONTH_DAY.finditer(text):
        month, day = _MONTHS[match.group(1).lower()], int(match.group(2))
        year = match.group(3)
        add(match, _safe_date(int(year), month, day) if year else _upcoming(today, month, day))
    for match in _RE_DAY_MONTH.finditer(text):
        month, day = _MONTHS[match.group(2).lower()], int(match.group(1))
        year = match.group(3)
        add(match, _safe_date(int(year), month, day) if year else _upcoming(today, month, day))
    for match in _RE_RELATIVE.finditer(text):
        offset = {"today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1, "day after tomorrow": 2}
        add(match, today + dt.timedelta(days=offset[match.group(1).lower()]))
    for match in _RE_WEEKDAY.finditer(text):
        ahead = (_WEEKDAYS[match.group(2).lower()] - today.weekday()) % 7
        if match.group(1) and match.group(1).lower() == "next" and ahead == 0:
            ahead = 7
        add(match, today + dt.timedelta(days=ahead))
    for match in _RE_IN.finditer(text):
        count_text = match.group(1).lower()
        count = int(count_text) if count_text.isdigit() else _UNITS[count_text]
        days = count * (7 if match.group(2).lower() == "week" else 1)
        add(match, today + dt.timedelta(days=days))
    for match in _RE_HOLIDAY.finditer(text):
        month, day = _HOLIDAYS[match.group(1).lower().replace("\u2019", "'")]
        add(match, _upcoming(today, month, day))
    return out


# --- times ------------------------------------------------------------------------------------
_RE_AMPM = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s*m\b\.?", re.I)
_RE_24H = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
_RE_NAMED_TIME = re.compile(r"\b(noon|midday|midnight)\b", re.I)
_RE_OCLOCK = re.compile(r"\b(\d{1,2})\s*o'?clock\b", re.I)


def _time_value(hours: int, minutes: int = 0) -> dict[str, int]:
    return {"hours": hours, "minutes": minutes, "seconds": 0, "nanos": 0}


def time(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    out: list[EntityMatch] = []
    for match in _RE_AMPM.finditer(text):
        hours, minutes = int(match.group(1)), int(match.group(2) or 0)
        if 1 <= hours <= 12 and minutes < 60:
            hours = hours % 12 + (12 if match.group(3).lower() == "p" else 0)
            out.append(_m(match, _time_value(hours, minutes)))
    for match in _RE_24H.finditer(text):
        out.append(_m(match, _time_value(int(match.group(1)), int(match.group(2)))))
    for match in _RE_NAMED_TIME.finditer(text):
        out.append(_m(match, _time_value(0 if match.group(1).lower() == "midnight" else 12)))
    for match in _RE_OCLOCK.finditer(text):
        hours = int(match.group(1))
        if hours <= 23:
            out.append(_m(match, _time_value(hours)))
    return out


# --- names and places ---------------------------------------------------------------------------
_RE_NAME_LEAD = re.compile(r"\b(?:my name is|my name's|i am|i'm|this is|call me|it's|it is)\s+(.+)$", re.I)
_FILLER = re.compile(r"^\s*(?:(?:ok|okay|sure|yes|yeah|well|um|uh|it's|it is)[\s,]+)+", re.I)


def _strip_reply(text: str) -> tuple[int, str]:
    """A reply with filler words and trailing punctuation removed, and where it starts."""
    filler = _FILLER.match(text)
    start = filler.end() if filler else 0
    return start, text[start:].strip().rstrip(".!?")


def person(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    lead = _RE_NAME_LEAD.search(text)
    if lead:
        name = lead.group(1).strip().rstrip(".!?")
        return [EntityMatch(lead.start(1), lead.start(1) + len(name), {"name": name}, name)]
    start, reply = _strip_reply(text)
    if prompted and reply and len(reply.split()) <= 4 and not any(ch.isdigit() for ch in reply):
        begin = text.index(reply, start)
        return [EntityMatch(begin, begin + len(reply), {"name": reply}, reply)]
    return []


def _from_list(names: set[str], max_words: int) -> Extractor:
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b", re.I)

    def extract(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
        out = [_m(match, _title(match.group())) for match in pattern.finditer(text)]
        if not out and prompted:
            start, reply = _strip_reply(text)
            if reply and len(reply.split()) <= max_words and not any(ch.isdigit() for ch in reply):
                begin = text.index(reply, start)
                out.append(EntityMatch(begin, begin + len(reply), _title(reply), reply))
        return out

    return extract


def _title(name: str) -> str:
    return name if any(ch.isupper() for ch in name) else name.title()


def address(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    start, reply = _strip_reply(text)
    if prompted and len(reply.split()) >= 2:
        begin = text.index(reply, start)
        return [EntityMatch(begin, begin + len(reply), reply, reply)]
    return []


def color(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    return [_m(match, match.group().lower()) for match in re.finditer(r"\b(" + "|".join(_COLORS) + r")\b", text, re.I)]


def any_text(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    stripped = text.strip()
    if not stripped:
        return []
    begin = text.index(stripped)
    return [EntityMatch(begin, begin + len(stripped), stripped, stripped)]


def prompted_only(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
    return any_text(text, today, prompted) if prompted else []


EXTRACTORS: dict[str, Extractor] = {
    "sys.any": any_text,
    "sys.number": number,
    "sys.number-integer": number_integer,
    "sys.cardinal": number_integer,
    "sys.ordinal": ordinal,
    "sys.number-sequence": number_sequence,
    "sys.flight-number": number_sequence,
    "sys.date": date,
    "sys.time": time,
    "sys.email": email,
    "sys.url": url,
    "sys.phone-number": phone_number,
    "sys.zip-code": zip_code,
    "sys.percentage": percentage,
    "sys.person": person,
    "sys.given-name": person,
    "sys.last-name": person,
    "sys.geo-city": _from_list(_CITIES, 3),
    "sys.geo-country": _from_list(_COUNTRIES, 3),
    "sys.address": address,
    "sys.street-address": address,
    "sys.color": color,
}


def extractor(entity_type: str) -> Extractor:
    """The extractor of a system entity (``sys.date`` or ``@sys.date``); unknown ones fill only when prompted."""
    return EXTRACTORS.get(entity_type.lstrip("@"), prompted_only)


def is_system(entity_type: str) -> bool:
    return entity_type.lstrip("@").startswith("sys.")


def folded_equals(a: str, b: str) -> bool:
    return fold(a) == fold(b)
