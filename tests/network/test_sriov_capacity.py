"""Tests of the pure SR-IOV capacity and redundancy validation."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from powervm_openstack.network import exceptions as exc
from powervm_openstack.network import sriov_capacity as cap

D = Decimal


@pytest.mark.parametrize("value", [None, "", " ", "None", "null", "NONE"])
def test_unset_values_parse_to_none(value):
    assert cap.parse_capacity(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.02, D("0.02")), ("0.0250", D("0.025")), (1, D(1)), ("1.0000", D(1)), (D("0.5"), D("0.5"))],
)
def test_valid_capacities(value, expected):
    assert cap.parse_capacity(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "out of range"),
        (-0.1, "out of range"),
        (1.0001, "out of range"),
        ("0.00005", "more than 4 decimal places"),
        (0.1 + 0.2, "more than 4 decimal places"),
        ("nan", "not a finite number"),
        (float("inf"), "not a finite number"),
        (True, "not a number"),
        ([0.5], "not a number"),
        ("half", "not a number"),
    ],
)
def test_invalid_capacities_name_value_and_rule(value, words):
    with pytest.raises(exc.InvalidCapacity) as err:
        cap.parse_capacity(value, "maxcapacity")
    assert words in str(err.value)
    assert str(err.value).startswith(f"maxcapacity {value!r}")


def test_multiple_of_granularity_is_exact():
    cap.check_multiple_of_granularity(cap.parse_capacity(0.1), D("0.02"), "T1")  # 0.1 % 0.02 != 0 in floats


def test_not_a_multiple_names_the_nearest_allowed_values():
    with pytest.raises(
        exc.InvalidCapacity, match=r"capacity 0.03 .* granularity 0.02 of port T1; nearest allowed: 0.02 or 0.04"
    ):
        cap.check_multiple_of_granularity(D("0.03"), D("0.02"), "T1")


@given(st.sampled_from(["0.01", "0.02", "0.025", "0.05", "0.0625"]), st.integers(min_value=1, max_value=100))
def test_every_multiple_of_a_granularity_up_to_one_is_accepted(granularity, times):
    value = D(granularity) * times
    if value <= 1:
        cap.check_multiple_of_granularity(cap.parse_capacity(float(value)), D(granularity), "T1")


def test_maxcapacity_must_not_be_below_capacity():
    cap.check_maxcapacity(D("0.2"), D("0.2"))
    cap.check_maxcapacity(None, D("0.1"))
    with pytest.raises(exc.InvalidCapacity, match="maxcapacity 0.1 is below capacity 0.2"):
        cap.check_maxcapacity(D("0.2"), D("0.1"))


@pytest.mark.parametrize(("value", "expected"), [(1, 1), (3, 3), ("2", 2), (" 4 ", 4)])
def test_valid_redundancy(value, expected):
    assert cap.parse_redundancy(value) == expected


@pytest.mark.parametrize("value", [0, -1, "0", 1.0, "1.5", True, None, "two"])
def test_invalid_redundancy(value):
    with pytest.raises(exc.InvalidRedundancy, match="whole number of 1 or more"):
        cap.parse_redundancy(value)


def test_port_from_report():
    port = cap.port_from_report(
        {"location_code": "T1", "free_capacity": 0.5, "granularity": 0.02, "free_logical_ports": 3}
    )
    assert port == cap.SriovPort("T1", D("0.5"), D("0.02"), 3)
    with pytest.raises(exc.InvalidCapacity, match="lacks 'granularity'"):
        cap.port_from_report({"location_code": "T1", "free_capacity": 0.5})


PORTS = [
    cap.SriovPort("T1", D("0.30"), D("0.02")),
    cap.SriovPort("T2", D("0.90"), D("0.02")),
    cap.SriovPort("T3", D("0.90"), D("0.03")),
    cap.SriovPort("T4", D("0.90"), D("0.02"), free_logical_ports=0),
]


def test_choose_ports_orders_usable_ports_by_free_capacity():
    assert [p.location_code for p in cap.choose_ports("prod", PORTS, 2, D("0.2"))] == ["T2", "T1"]
    # Without a capacity each port is asked for its own granularity, so T3 qualifies too.
    assert [p.location_code for p in cap.choose_ports("prod", PORTS, 3, None)] == ["T2", "T3", "T1"]


def test_choose_ports_says_what_was_needed_and_found():
    with pytest.raises(exc.InsufficientSriovPorts) as err:
        cap.choose_ports("prod", PORTS, 2, D("0.4"))
    message = str(err.value)
    assert "physical network 'prod' needs 2 SR-IOV physical port(s)" in message
    assert "capacity 0.4; found 1 of 4 labelled" in message
    assert "T1 (free capacity 0.30 < 0.4)" in message
    assert "T4 (no free logical port)" in message


def test_choose_ports_with_no_labelled_port():
    with pytest.raises(exc.InsufficientSriovPorts, match="needs 1 .* found 0 of 0 labelled$"):
        cap.choose_ports("prod", [], 1, None)
