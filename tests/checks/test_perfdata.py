"""Nagios plugin output and perfdata parsing."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.perfdata import PerfValue, parse_output, parse_perfdata


def one(text: str) -> PerfValue:
    values, errors = parse_perfdata(text)
    assert errors == [] and len(values) == 1, (values, errors)
    return values[0]


def test_full_item() -> None:
    v = one("time=0.003s;1.000;2.000;0.000;10.000")
    assert v == PerfValue("time", 0.003, "s", "1.000", "2.000", 0.0, 10.0)


def test_value_only_and_trailing_semicolons() -> None:
    assert one("procs=12") == PerfValue("procs", 12.0)
    assert one("procs=12;;;") == PerfValue("procs", 12.0)
    assert one("load1=0.5;;;0;") == PerfValue("load1", 0.5, min=0.0)


@pytest.mark.parametrize("uom", ["s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"])
def test_every_uom(uom: str) -> None:
    v = one(f"x=42{uom};1;2")
    assert (v.value, v.uom) == (42.0, uom)


def test_quoted_labels_with_spaces_equals_and_escaped_quote() -> None:
    assert one("'C:\\ used space'=10GB;80;90;0;100").label == "C:\\ used space"
    assert one("'a=b'=1").label == "a=b"
    assert one("'it''s'=1").label == "it's"
    assert one("''''=1").label == "'"


def test_several_items_and_spaces() -> None:
    values, errors = parse_perfdata("  a=1  'b c'=2ms;3;4   d=U ")
    assert errors == []
    assert [(v.label, v.value, v.uom) for v in values] == [
        ("a", 1.0, ""), ("b c", 2.0, "ms"), ("d", None, "")]


def test_unknown_value_u_has_no_metric() -> None:
    v = one("rta=U;100;500")
    assert v.value is None and v.warn == "100"
    assert v.to_metric() is None


def test_ranges_kept_as_written_bad_ones_dropped() -> None:
    v = one("x=5;@10:20;~:30;;")
    assert (v.warn, v.crit) == ("@10:20", "~:30")
    v = one("x=5;abc;10:5")  # unreadable / inverted ranges: dropped, value kept
    assert (v.value, v.warn, v.crit) == (5.0, None, None)


def test_negative_exponent_and_comma_decimal() -> None:
    assert one("t=-1.5e-3s").value == -1.5e-3
    assert one("t=0,25s;0,5;1").value == 0.25
    assert one("t=0,25s;0,5;1").warn == "0.5"
    assert one("t=.5").value == 0.5


def test_malformed_items_are_reported_not_fatal() -> None:
    values, errors = parse_perfdata("good=1 bad novalue= =3 'unterminated=4 x=abc y=1;2")
    assert [v.label for v in values] == ["good", "y"]
    assert errors == ["bad", "novalue=", "=3", "'unterminated=4", "x=abc"]


def test_unterminated_quote_swallows_to_end_of_token() -> None:
    values, errors = parse_perfdata("'open=1 ok=2")
    assert [v.label for v in values] == ["ok"]
    assert errors == ["'open=1"]


def test_to_metric_converts_units_and_thresholds() -> None:
    m = one("/=3326MB;4000;4500;0;5000").to_metric()
    assert m is not None
    assert (m.name, m.unit, m.value) == ("/", "B", 3326 * 1024**2)
    assert m.warn == str(4000 * 1024**2) and m.crit == str(4500 * 1024**2)
    assert (m.min, m.max) == (0.0, 5000 * 1024**2)
    m = one("rta=12.5ms;100:;@0:500;0").to_metric()
    assert m is not None
    assert (m.unit, m.value, m.warn, m.crit) == ("s", 0.0125, "0.1:", "@0.5")
    m = one("c=7c").to_metric()
    assert m is not None and (m.unit, m.value) == ("", 7.0)
    m = one("odd=3widgets;~:4").to_metric()  # an unknown UOM is kept as the unit
    assert m is not None and (m.unit, m.warn) == ("widgets", "~:4")


def test_output_summary_only() -> None:
    out = parse_output("DISK OK - all fine\n")
    assert out.summary == "DISK OK - all fine" and out.perfdata == [] and out.long_text == []


def test_output_multiline_perfdata() -> None:
    text = ("DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n"
            "/ 15272 MB (77%);\n"
            "/boot 68 MB (69%);\n"
            "/home 69357 MB (27%); | /boot=68MB;88;93;0;98\n"
            "/home=69357MB;253404;253409;0;253414\n"
            "/var/log=818MB;970;975;0;980\n")
    out = parse_output(text)
    assert out.summary == "DISK OK - free space: / 3326 MB (56%);"
    assert out.long_text == ["/ 15272 MB (77%);", "/boot 68 MB (69%);", "/home 69357 MB (27%);"]
    assert [v.label for v in out.perfdata] == ["/", "/boot", "/home", "/var/log"]
    assert out.errors == []


def test_output_long_text_without_perfdata_and_pipe_only_on_later_line() -> None:
    out = parse_output("OK\nline two\nline three")
    assert out.long_text == ["line two", "line three"] and out.perfdata == []
    out = parse_output("OK\n| a=1\nb=2")
    assert out.long_text == [] and [v.label for v in out.perfdata] == ["a", "b"]


def test_empty_output() -> None:
    out = parse_output("")
    assert out.summary == "" and out.perfdata == []


labels = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)


@given(label=labels, value=st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_any_quoted_label_round_trips(label: str, value: float) -> None:
    quoted = "'" + label.replace("'", "''") + "'"
    values, errors = parse_perfdata(f"{quoted}={value!r};;;; other=1")
    assert errors == []
    assert values[0].label == label
    assert values[0].value == pytest.approx(value)
    assert values[1].label == "other"


@given(st.text(max_size=200))
def test_never_raises(text: str) -> None:
    parse_output(text)
