"""Written dates and their ISO form: the data of the date translator (``ember translate-dates``).

``generate_dates(n, seed)`` draws n calendar dates uniformly between 1 January 1950 and
31 December 2049 (with faker, seeded) and writes each in one of many human formats, returning
(human, iso) pairs such as ``("3rd of March 2021", "2021-03-03")``. The format families
(``FORMAT_FAMILIES``; each pair's family is chosen uniformly, then a template within it):

- ``numeric_us``: month first with slashes — ``03/21/2021``, ``3/21/2021``.
- ``numeric_eu``: day first with dots or dashes — ``21.03.2021``, ``21.3.2021``, ``21-03-2021``.
- ``numeric_ymd``: year first — ``2021/03/21``, ``2021.03.21``, ``20210321``.
- ``long_month``: ``March 21, 2021``, ``21 March 2021``, ``march 21 2021``, ``MARCH 21, 2021``.
- ``short_month``: ``Mar 21, 2021``, ``21 Mar 2021``, ``21-Mar-2021`` (``03-Mar-2021``, ``3-Mar-2021``),
  ``Mar. 21, 2021`` (``May 21, 2021``), ``21 SEP 2021`` (September is also spelt ``Sept``/``Sept.``).
- ``weekday``: ``Sunday, March 21, 2021``, ``Sun 21 Mar 2021``, ``Sunday 21 March 2021``, ``sun, 21 mar 2021``.
- ``ordinal``: ``3rd of March 2021``, ``March 3rd, 2021``, ``the 3rd of March, 2021``,
  ``Wednesday the 3rd of March 2021``, ``3rd Mar 2021``.
- ``chinese``: Arabic or Chinese numerals, with or without the weekday (星期), e.g. ``2021年3月3日``,
  ``2021年03月03日``, ``2021年3月3日 星期三``, ``二〇二一年三月三日``, ``二〇二一年三月三日星期三``; the year
  is written digit by digit (二〇二一), month and day as numbers (十二, 二十一, 三十).
- ``locale``: babel's ``format_date`` in its ``medium``, ``long`` and ``full`` styles for
  ``LOCALES`` = fr_FR, de_DE, es_ES, it_IT, pt_BR, nl_NL (``3 mars 2021``, ``Mittwoch, 3. März 2021``,
  ``miércoles, 3 de marzo de 2021``, …).

The numbers are never ambiguous: a slash between two numbers means month/day/year (US), a dot
or dash day.month.year, four leading digits year-month-day; babel's ``short`` styles are left
out because they reuse the slash day-first (``21/03/2021`` in fr_FR) and two-digit years.

faker and babel are an optional extra (``pip install 'ember[dates]'``), imported only here.

>>> pairs = generate_dates(3, seed=0)              # doctest: +SKIP
>>> pairs[0]                                       # doctest: +SKIP
('Tue 14 Oct 2031', '2031-10-14')
"""
from __future__ import annotations

import datetime as _dt

import numpy as np

from ember.text.vocab import SPECIALS, Vocab

__all__ = ["CHINESE_CHARS", "FORMAT_FAMILIES", "LOCALES", "build_char_vocabs", "chinese_number", "format_date",
           "generate_dates"]

LOCALES = ("fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL")
START, END = _dt.date(1950, 1, 1), _dt.date(2049, 12, 31)
ISO_CHARS = "0123456789-"

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CHINESE_DIGITS = "〇一二三四五六七八九"
CHINESE_CHARS = _CHINESE_DIGITS + "十年月日星期天"  # every character the chinese family writes


def _ordinal(day: int) -> str:
    """3 → '3rd', 11 → '11th', 22 → '22nd'."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _short(month: int, rng) -> str:
    name = _MONTHS[month - 1]
    if month == 9 and rng.random() < 0.3:
        return "Sept"
    return name[:3]


def _short_dotted(month: int, rng) -> str:
    """'Mar.', 'Sept.', but 'May' (a full name takes no abbreviation point)."""
    name = _short(month, rng)
    return name if name == _MONTHS[month - 1] else name + "."


def chinese_number(n: int) -> str:
    """1–99 in Chinese numerals: 3 → '三', 10 → '十', 12 → '十二', 20 → '二十', 31 → '三十一'."""
    tens, units = divmod(n, 10)
    head = "" if tens == 0 else "十" if tens == 1 else _CHINESE_DIGITS[tens] + "十"
    return head + (_CHINESE_DIGITS[units] if units or not head else "")


def _chinese_year(year: int) -> str:
    """2021 → '二〇二一': years are read digit by digit."""
    return "".join(_CHINESE_DIGITS[int(c)] for c in str(year))


def _chinese_weekday(date: _dt.date, rng) -> str:
    """'星期一' … '星期六', and Sunday as '星期日' or, less formally, '星期天'."""
    if date.weekday() == 6:
        return "星期天" if rng.random() < 0.3 else "星期日"
    return "星期" + _CHINESE_DIGITS[date.weekday() + 1]


def _chinese_numerals(d: _dt.date) -> str:
    return f"{_chinese_year(d.year)}年{chinese_number(d.month)}月{chinese_number(d.day)}日"


# Each template takes (date, rng) and returns the written date; rng picks spelling variants.
_FAMILIES = {
    "numeric_us": (
        lambda d, r: f"{d.month:02d}/{d.day:02d}/{d.year}",
        lambda d, r: f"{d.month}/{d.day}/{d.year}",
    ),
    "numeric_eu": (
        lambda d, r: f"{d.day:02d}.{d.month:02d}.{d.year}",
        lambda d, r: f"{d.day}.{d.month}.{d.year}",
        lambda d, r: f"{d.day:02d}-{d.month:02d}-{d.year}",
    ),
    "numeric_ymd": (
        lambda d, r: f"{d.year}/{d.month:02d}/{d.day:02d}",
        lambda d, r: f"{d.year}.{d.month:02d}.{d.day:02d}",
        lambda d, r: f"{d.year}{d.month:02d}{d.day:02d}",
    ),
    "long_month": (
        lambda d, r: f"{_MONTHS[d.month - 1]} {d.day}, {d.year}",
        lambda d, r: f"{d.day} {_MONTHS[d.month - 1]} {d.year}",
        lambda d, r: f"{_MONTHS[d.month - 1].lower()} {d.day} {d.year}",
        lambda d, r: f"{_MONTHS[d.month - 1].upper()} {d.day}, {d.year}",
        lambda d, r: f"{d.day:02d} {_MONTHS[d.month - 1]} {d.year}",
    ),
    "short_month": (
        lambda d, r: f"{_short(d.month, r)} {d.day}, {d.year}",
        lambda d, r: f"{d.day} {_short(d.month, r)} {d.year}",
        lambda d, r: f"{d.day:02d}-{_short(d.month, r)}-{d.year}",
        lambda d, r: f"{d.day}-{_short(d.month, r)}-{d.year}",
        lambda d, r: f"{_short_dotted(d.month, r)} {d.day}, {d.year}",
        lambda d, r: f"{d.day} {_short(d.month, r).upper()} {d.year}",
    ),
    "weekday": (
        lambda d, r: f"{_WEEKDAYS[d.weekday()]}, {_MONTHS[d.month - 1]} {d.day}, {d.year}",
        lambda d, r: f"{_WEEKDAYS[d.weekday()][:3]} {d.day} {_short(d.month, r)} {d.year}",
        lambda d, r: f"{_WEEKDAYS[d.weekday()]} {d.day} {_MONTHS[d.month - 1]} {d.year}",
        lambda d, r: f"{_WEEKDAYS[d.weekday()][:3].lower()}, {d.day} {_short(d.month, r).lower()} {d.year}",
    ),
    "ordinal": (
        lambda d, r: f"{_ordinal(d.day)} of {_MONTHS[d.month - 1]} {d.year}",
        lambda d, r: f"{_MONTHS[d.month - 1]} {_ordinal(d.day)}, {d.year}",
        lambda d, r: f"the {_ordinal(d.day)} of {_MONTHS[d.month - 1]}, {d.year}",
        lambda d, r: f"{_WEEKDAYS[d.weekday()]} the {_ordinal(d.day)} of {_MONTHS[d.month - 1]} {d.year}",
        lambda d, r: f"{_ordinal(d.day)} {_short(d.month, r)} {d.year}",
    ),
    "chinese": (
        lambda d, r: f"{d.year}年{d.month}月{d.day}日",
        lambda d, r: f"{d.year}年{d.month:02d}月{d.day:02d}日",
        lambda d, r: f"{d.year}年{d.month}月{d.day}日 {_chinese_weekday(d, r)}",
        lambda d, r: f"{d.year}年{d.month}月{d.day}日{_chinese_weekday(d, r)}",
        lambda d, r: _chinese_numerals(d),
        lambda d, r: f"{_chinese_numerals(d)}{_chinese_weekday(d, r)}",
        lambda d, r: f"{_chinese_numerals(d)} {_chinese_weekday(d, r)}",
    ),
}
_LOCALE_STYLES = ("medium", "long", "full")
FORMAT_FAMILIES = (*_FAMILIES, "locale")


def _require_extras():
    """faker and babel, or an ImportError saying how to install them."""
    try:
        import babel.dates
        import faker
    except ImportError as err:
        raise ImportError(f"ember.text.dates needs faker and babel ({err.name} is missing): "
                          "pip install 'ember[dates]'") from err
    return faker, babel.dates


def format_date(date: _dt.date, family: str, rng=None, locale: str | None = None) -> str:
    """``date`` written in a template of ``family`` (one of ``FORMAT_FAMILIES``), chosen by ``rng``.

    For ``'locale'``, ``locale`` (default: drawn from ``LOCALES``) and the style are drawn too.

    >>> format_date(datetime.date(2021, 3, 3), "ordinal", np.random.default_rng(0))  # doctest: +SKIP
    'March 3rd, 2021'
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    if family == "locale":
        _, babel_dates = _require_extras()
        locale = locale or LOCALES[rng.integers(len(LOCALES))]
        return babel_dates.format_date(date, _LOCALE_STYLES[rng.integers(len(_LOCALE_STYLES))], locale=locale)
    if family not in _FAMILIES:
        raise ValueError(f"format_date: family must be one of {FORMAT_FAMILIES}, got {family!r}")
    templates = _FAMILIES[family]
    return templates[rng.integers(len(templates))](date, rng)


def generate_dates(n: int, seed: int = 0, families=None, return_families: bool = False) -> list:
    """n (human, iso) pairs: random dates of 1950–2049 (faker) written in random formats.

    Args:
        n: number of pairs.
        seed: the same seed gives the same pairs.
        families: the format families to draw from (default all of ``FORMAT_FAMILIES``).
        return_families: also return each pair's family, as (human, iso, family) triples.

    >>> generate_dates(2, seed=1, families=["numeric_eu"])   # doctest: +SKIP
    [('07.08.1991', '1991-08-07'), ('2.1.2047', '2047-01-02')]
    """
    faker, _ = _require_extras()
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"generate_dates: n should be a non-negative integer, got {n!r}")
    families = tuple(FORMAT_FAMILIES if families is None else families)
    unknown = [f for f in families if f not in FORMAT_FAMILIES]
    if not families or unknown:
        raise ValueError(f"generate_dates: families must be a non-empty subset of {FORMAT_FAMILIES}, got {families}")
    fake = faker.Faker()
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        date = fake.date_between_dates(START, END)
        family = families[rng.integers(len(families))]
        human = format_date(date, family, rng)
        out.append((human, date.isoformat(), family) if return_families else (human, date.isoformat()))
    return out


def build_char_vocabs(pairs) -> tuple[Vocab, Vocab]:
    """(source vocabulary of the human strings' characters, target vocabulary of ``0-9`` and ``-``).

    Both have the specials ``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3; an unseen source
    character maps to ``<unk>``. The source vocabulary always holds ``CHINESE_CHARS`` (a small
    sample may lack some, such as 〇); the target one is fixed, so it does not depend on ``pairs``.

    >>> src, tgt = build_char_vocabs([("3rd of March 2021", "2021-03-03")])
    >>> len(tgt), src.encode("3rd").tolist()            # doctest: +SKIP
    (15, [...])
    """
    src = Vocab([*(list(human) for human, *_ in pairs), list(CHINESE_CHARS)], specials=SPECIALS)
    tgt = Vocab({c: 1 for c in ISO_CHARS}, specials=SPECIALS)
    return src, tgt
