"""The written-date generator of the date translator: valid pairs, every format family, determinism."""
import builtins
import datetime
import re

import pytest

from ember.text.dates import (
    CHINESE_CHARS,
    FORMAT_FAMILIES,
    LOCALES,
    build_char_vocabs,
    chinese_number,
    format_date,
    generate_dates,
)

_CHINESE_DIGITS = "〇一二三四五六七八九"
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]


def test_pairs_are_valid_iso_dates_in_range():
    pairs = generate_dates(600, seed=3)
    assert len(pairs) == 600
    for human, iso in pairs:
        date = datetime.date.fromisoformat(iso)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", iso)
        assert datetime.date(1950, 1, 1) <= date <= datetime.date(2049, 12, 31)
        assert isinstance(human, str) and human and human != iso
        # every format writes the year in full, in Arabic or Chinese digits
        assert str(date.year) in human or "".join(_CHINESE_DIGITS[int(c)] for c in str(date.year)) in human


def test_every_family_appears_and_each_is_consistent_with_its_date():
    triples = generate_dates(1500, seed=1, return_families=True)
    assert {f for *_, f in triples} == set(FORMAT_FAMILIES)
    for human, iso, family in triples:
        date = datetime.date.fromisoformat(iso)
        numbers = [int(n) for n in re.findall(r"\d+", human)]
        if family == "numeric_us":
            assert numbers == [date.month, date.day, date.year], human
        elif family == "numeric_eu":
            assert numbers == [date.day, date.month, date.year], human
        elif family == "numeric_ymd" and len(numbers) == 3:
            assert numbers == [date.year, date.month, date.day], human
        elif family == "chinese":
            assert _read_chinese(human) == date, human
        elif family in ("long_month", "short_month", "weekday", "ordinal"):
            assert numbers == sorted(numbers, key=lambda n: n == date.year) and date.day in numbers, human
            assert _MONTHS[date.month - 1][:3] in human.lower(), human


def _read_chinese(human: str) -> datetime.date:
    """The date a Chinese-format string writes (year digit by digit, month and day as numbers), weekday checked."""
    match = re.fullmatch(r"([^年]+)年([^月]+)月([^日]+)日 ?(星期[一二三四五六日天])?", human)
    year, month, day, weekday = match.groups()
    if not year.isdigit():
        year = "".join(str(_CHINESE_DIGITS.index(c)) for c in year)
        month, day = (str([chinese_number(n) for n in range(1, 32)].index(x) + 1) for x in (month, day))
    date = datetime.date(int(year), int(month), int(day))
    if weekday:
        names = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]
        assert weekday == names[date.weekday()] or (weekday == "星期天" and date.weekday() == 6), human
    return date


def test_chinese_numbers_and_formats():
    assert [chinese_number(n) for n in (1, 3, 10, 11, 12, 20, 21, 30, 31)] == [
        "一", "三", "十", "十一", "十二", "二十", "二十一", "三十", "三十一"]
    import numpy as np

    rng = np.random.default_rng(0)
    written = {format_date(datetime.date(2021, 3, 3), "chinese", rng) for _ in range(300)}  # a Wednesday
    assert written >= {"2021年3月3日", "2021年3月3日 星期三", "2021年3月3日星期三", "二〇二一年三月三日",
                       "二〇二一年三月三日星期三", "二〇二一年三月三日 星期三", "2021年03月03日"}
    sundays = {format_date(datetime.date(1950, 12, 31), "chinese", rng) for _ in range(300)}
    assert {"一九五〇年十二月三十一日星期日", "一九五〇年十二月三十一日星期天"} <= sundays
    for human, iso in generate_dates(300, seed=2, families=["chinese"]):
        assert _read_chinese(human).isoformat() == iso, human


def test_english_spellings_weekdays_and_ordinals():
    date = datetime.date(2021, 3, 3)  # a Wednesday
    import numpy as np

    rng = np.random.default_rng(0)
    ordinals = {format_date(date, "ordinal", rng) for _ in range(200)}
    assert "3rd of March 2021" in ordinals and "March 3rd, 2021" in ordinals
    assert "Wednesday the 3rd of March 2021" in ordinals
    weekdays = {format_date(date, "weekday", rng) for _ in range(200)}
    assert "Wednesday, March 3, 2021" in weekdays and "wed, 3 mar 2021" in weekdays
    assert {format_date(datetime.date(2021, 9, 22), "short_month", rng) for _ in range(300)} >= {
        "Sept 22, 2021", "Sep. 22, 2021", "22 SEP 2021"}
    assert {"May 5, 2021", "05-May-2021", "5-May-2021"} <= {format_date(datetime.date(2021, 5, 5), "short_month", rng)
                                                            for _ in range(300)}


def test_locales_write_month_names_of_their_language():
    date = datetime.date(2021, 3, 3)
    assert format_date(date, "locale", 0, locale="de_DE") in {"03.03.2021", "3. März 2021", "Mittwoch, 3. März 2021"}
    french = {format_date(date, "locale", seed, locale="fr_FR") for seed in range(30)}
    assert "3 mars 2021" in french and "mercredi 3 mars 2021" in french
    assert set(LOCALES) >= {"fr_FR", "de_DE", "es_ES"}
    # babel's short styles (day-first slashes, two-digit years) must not appear: no 'dd/mm/yyyy' in locales
    for human, _, family in generate_dates(400, seed=5, return_families=True):
        if family == "locale":
            assert not re.fullmatch(r"\d+/\d+/\d+", human), human


def test_seeded_determinism():
    assert generate_dates(200, seed=7) == generate_dates(200, seed=7)
    assert generate_dates(200, seed=7) != generate_dates(200, seed=8)


def test_family_subset_and_bad_arguments():
    triples = generate_dates(100, seed=0, families=["numeric_eu"], return_families=True)
    assert {f for *_, f in triples} == {"numeric_eu"}
    with pytest.raises(ValueError, match="families"):
        generate_dates(10, families=["klingon"])
    with pytest.raises(ValueError, match="n should be"):
        generate_dates(-1)
    with pytest.raises(ValueError, match="family must be one of"):
        format_date(datetime.date(2020, 1, 1), "roman", 0)


def test_char_vocabularies():
    pairs = generate_dates(300, seed=0)
    src, tgt = build_char_vocabs(pairs)
    assert tgt.itos[4:] == list("0123456789-") and tgt.pad_index == 0 and tgt.eos_index == 3
    assert set("".join(h for h, _ in pairs)) <= set(src.itos)
    assert src.decode(src.encode(list(pairs[0][0]))) == list(pairs[0][0])
    assert src.encode(["☃"]).tolist() == [src.unk_index]
    # the Chinese characters are always in the source vocabulary, even when the sample lacks them
    src, _ = build_char_vocabs(generate_dates(50, seed=0, families=["numeric_eu"]))
    assert set(CHINESE_CHARS) <= set(src.itos) and "〇" in CHINESE_CHARS and "星" in CHINESE_CHARS


def test_missing_faker_gives_an_install_hint(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "faker" or name.startswith("faker."):
            raise ImportError("No module named 'faker'", name="faker")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'ember\[dates\]'") as info:
        generate_dates(3)
    assert "faker" in str(info.value)
