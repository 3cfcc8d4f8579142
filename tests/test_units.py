"""Units: every prefix family, bits versus bytes, dimension algebra, formatting."""

from __future__ import annotations

import pytest

from topodsl.units import (
    BANDWIDTH,
    COUNT,
    SIZE,
    TIME,
    apply_scale,
    format_quantity,
    parse_quantity,
    parse_unit,
)


@pytest.mark.parametrize(
    ("text", "value", "dim"),
    [
        ("50 GB/s", 50e9, BANDWIDTH),
        ("400 Gb/s", 50e9, BANDWIDTH),
        ("400 Gbps", 50e9, BANDWIDTH),
        ("1.8 TB/s", 1.8e12, BANDWIDTH),
        ("1 GiB/s", 2**30, BANDWIDTH),
        ("80 GB", 80e9, SIZE),
        ("192 GiB", 192 * 2**30, SIZE),
        ("3.84 TB", 3.84e12, SIZE),
        ("1 TiB", 2**40, SIZE),
        ("8 Gb", 1e9, SIZE),
        ("150 ns", 150e-9, TIME),
        ("2 us", 2e-6, TIME),
        ("2 µs", 2e-6, TIME),
        ("60 s", 60.0, TIME),
        ("7", 7.0, COUNT),
    ],
)
def test_parse_quantity(text: str, value: float, dim) -> None:
    assert parse_quantity(text) == pytest.approx(value, rel=1e-15)
    if dim != COUNT:
        unit = text.split()[1]
        assert parse_unit(unit)[1] == dim


def test_dimension_is_checked() -> None:
    with pytest.raises(ValueError, match="a bandwidth, expected a size"):
        parse_quantity("2 TB/s", SIZE)
    with pytest.raises(ValueError, match="unknown unit"):
        parse_quantity("2 TQ")


def test_dimension_algebra() -> None:
    assert SIZE / TIME == BANDWIDTH
    assert BANDWIDTH * TIME == SIZE
    assert SIZE**0 == COUNT


def test_exact_sub_unit_scaling() -> None:
    assert apply_scale(100, 1e-9) == 1e-7
    assert apply_scale(250, 1e-9) == 2.5e-7
    assert apply_scale(400, 1e9 / 8) == 50e9


@pytest.mark.parametrize(
    ("value", "dim", "text"),
    [
        (1.8e12, BANDWIDTH, "1.8 TB/s"),
        (50e9, BANDWIDTH, "50 GB/s"),
        (80e9, SIZE, "80 GB"),
        (2.5e-7, TIME, "250 ns"),
        (3.0, TIME, "3 s"),
        (0.0, TIME, "0 s"),
        (float("inf"), BANDWIDTH, "unlimited"),
    ],
)
def test_format_quantity(value: float, dim, text: str) -> None:
    assert format_quantity(value, dim) == text
