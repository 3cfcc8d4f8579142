"""Figures at the threshold (issue 10, part 3): exact where the cut is made of known
capacities, one comparison tolerance, and text with enough digits to show why a check failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import run_topodsl

import topodsl
from topodsl.check import _RTOL, Measure, compare
from topodsl.check import check as run_check
from topodsl.solvers.flow import REL_TOL, figures_agree
from topodsl.units import BANDWIDTH, digits_apart, format_quantity

NICS = """
link pcie { bandwidth = 32 GB/s * 128 / 130 }     # PCIe Gen5 x16 after 128b/130b encoding
link nic_port { bandwidth = 100 Gb/s }

cluster c {
    gpu gpu[32]
    nic nic[32] { bandwidth = 100 Gb/s }
    switch leaf
    connect gpu[i] -- nic[i] via pcie
    connect nic[*] -- leaf via nic_port
    assert egress: flow(gpu[*] -> nic[*]) >= 3200 Gb/s
    assert out:    flow(gpu[*] -> leaf) >= 3200 Gb/s
}
"""


def test_32_nics_fed_over_encoded_pcie_give_exactly_3200_gbps() -> None:
    report = run_check(topodsl.loads(NICS))
    assert [r.status for r in report.results] == ["pass", "pass"]
    for r in report.results:
        assert r.measured == Measure(400e9, 400e9, BANDWIDTH)
        assert "measured 400 GB/s per direction, expected >= 400 GB/s" in r.message()


TINY = """
link huge { bandwidth = 10 PB/s }
link tiny { bandwidth = 0.001 B/s }
cluster c {
    switch a
    switch m
    switch b
    connect a -- m via huge
    connect m -- b via tiny
    assert trickle: flow(a -> b) == 0.001 B/s
}
"""


def test_ten_petabytes_next_to_a_millibyte_is_exact_through_the_cli(tmp_path: Path) -> None:
    f = tmp_path / "tiny.topo"
    f.write_text(TINY)
    r = run_topodsl("analyze", "flow", f, "--from", "c.a", "--to", "c.b", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["throughput"] == 0.001 and d["exact"] is True
    assert "backend" not in r.stderr
    r = run_topodsl("check", f)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pass: trickle" in r.stdout


def test_one_byte_per_second_above_a_terabyte_is_reported() -> None:
    text = """
    cluster c {
        switch a
        switch b
        switch x
        connect a -- b { bandwidth = 1000000000001 B/s }
        connect a -- x { bandwidth = 3 PB/s }
        connect x -- b { bandwidth = 1 PB/s / 3 }
    }
    """
    t = topodsl.loads(text)
    report = run_check(t, ["flow(c.a -> c.b) == 1000000000001 B/s + 1 PB/s / 3"])
    (r,) = report.results
    assert r.status == "pass" and r.measured.lower == r.measured.upper
    assert r.measured.lower == 1_000_000_000_001 + 1e15 / 3


def test_a_failed_check_shows_the_digits_that_make_it_fail() -> None:
    t = topodsl.loads(
        "link l { bandwidth = 999.96 GB/s }\ncluster c { switch a; switch b; connect a -- b via l }"
    )
    (r,) = run_check(t, ["flow(c.a -> c.b) >= 1 TB/s"]).results
    assert r.status == "fail"
    assert r.message() == "measured 999.96 GB/s per direction, expected >= 1 TB/s"
    (r,) = run_check(t, ["flow(c.a -> c.b) >= 900 GB/s"]).results
    assert r.message() == "measured 1000 GB/s per direction, expected >= 900 GB/s"


def test_one_tolerance_for_solvers_and_checks() -> None:
    assert _RTOL == REL_TOL == 1e-9
    a = Measure(400e9 * (1 - 1e-12), 400e9 * (1 - 1e-12), BANDWIDTH)
    assert compare(">=", a, Measure(400e9, 400e9, BANDWIDTH)) == "pass"
    assert figures_agree(400e9, 400e9 * (1 - 1e-12))
    b = Measure(999.96e9, 999.96e9, BANDWIDTH)
    assert compare(">=", b, Measure(1e12, 1e12, BANDWIDTH)) == "fail"


@pytest.mark.parametrize(
    "values, digits",
    [
        ([999.96e9, 1e12], 5),
        ([1e12, 1e12 + 1], 13),
        ([50e9, 50e9], 4),
        ([12.5e9, 100e9], 4),
        ([1.0, 1.0 + 1e-12], 13),
    ],
)
def test_digits_apart(values, digits) -> None:
    assert digits_apart(values) == digits
    shown = {format_quantity(v, BANDWIDTH, digits) for v in values}
    assert len(shown) == len(set(values))
    # Within the comparison tolerance, figures may look the same.
    assert digits_apart([1e12, 1e12 + 1], rel=REL_TOL) == 4
