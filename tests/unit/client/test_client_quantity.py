"""client/quantity.py against Kubernetes' resource.Quantity: the forms it accepts and rejects, exact
values, and rounding up to millis and whole units (table tests plus Hypothesis properties)."""
from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from client.quantity import int_value, milli_value, parse_quantity

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("text, value", [
    pytest.param("1", Fraction(1), id="integer"),
    pytest.param("500m", Fraction(1, 2), id="milli"),
    pytest.param("1.5", Fraction(3, 2), id="decimal"),
    pytest.param(".5", Fraction(1, 2), id="leading-dot"),
    pytest.param("5.", Fraction(5), id="trailing-dot"),
    pytest.param("128Mi", Fraction(128 * 2 ** 20), id="mebi"),
    pytest.param("1Gi", Fraction(2 ** 30), id="gibi"),
    pytest.param("1Ki", Fraction(1024), id="kibi"),
    pytest.param("1e3", Fraction(1000), id="exponent"),
    pytest.param("1E3", Fraction(1000), id="capital-exponent"),
    pytest.param("15e-1", Fraction(3, 2), id="negative-exponent"),
    pytest.param("100k", Fraction(100_000), id="kilo"),
    pytest.param("1M", Fraction(10 ** 6), id="mega"),
    pytest.param("1G", Fraction(10 ** 9), id="giga"),
    pytest.param("1E", Fraction(10 ** 18), id="exa-suffix-not-exponent"),
    pytest.param("250u", Fraction(250, 10 ** 6), id="micro"),
    pytest.param("7n", Fraction(7, 10 ** 9), id="nano"),
    pytest.param("+2", Fraction(2), id="plus-sign"),
    pytest.param("-2m", Fraction(-2, 1000), id="negative"),
    pytest.param(" 2 ", Fraction(2), id="surrounding-space"),
    pytest.param("0", Fraction(0), id="zero"),
])
def test_parse_quantity(text, value):
    """Each of Kubernetes' quantity forms to its exact value."""
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "m", "1K", "1e", "1mi", "1 Gi", "1.2.3", "1Mii", "one", "1e3m", "--1"])
def test_parse_quantity_rejects(text):
    """Malformed quantities raise ValueError quoting Kubernetes' regular expression and the text."""
    with pytest.raises(ValueError, match="quantities must match the regular expression"):
        parse_quantity(text)


@pytest.mark.parametrize("text, millis, units", [
    ("500m", 500, 1), ("1", 1000, 1), ("1.5", 1500, 2), ("0.1m", 1, 1), ("128Mi", 134217728000, 134217728),
    ("100k", 100_000_000, 100_000), ("0", 0, 0), ("1n", 1, 1),
])
def test_milli_and_int_value_round_up(text, millis, units):
    """milli_value and int_value round up, as Kubernetes' MilliValue and Value do."""
    assert (milli_value(text), int_value(text)) == (millis, units)


_SUFFIXES = {"": 1, "m": Fraction(1, 1000), "k": 1000, "M": 10 ** 6, "Ki": 1024, "Mi": 2 ** 20, "Gi": 2 ** 30}


@given(number=st.integers(0, 10 ** 9), suffix=st.sampled_from(sorted(_SUFFIXES)))
def test_integer_with_suffix(number, suffix):
    """<integer><suffix> is integer times the suffix's scale, and milli_value is its exact ceiling."""
    value = parse_quantity(f"{number}{suffix}")
    assert value == number * _SUFFIXES[suffix]
    assert milli_value(f"{number}{suffix}") == -(-value * 1000 // 1)


@given(whole=st.integers(0, 10 ** 6), frac=st.integers(0, 999), exponent=st.integers(-9, 9))
def test_decimal_and_exponent_forms_agree(whole, frac, exponent):
    """'<w>.<fff>' equals w + fff/1000, and 'NeX' equals N * 10**X."""
    assert parse_quantity(f"{whole}.{frac:03d}") == whole + Fraction(frac, 1000)
    assert parse_quantity(f"{whole}e{exponent}") == whole * Fraction(10) ** exponent
