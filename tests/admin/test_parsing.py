"""The admin commands' own argument formats and their one table formatter."""

import datetime

import pytest

from kwire.admin.cluster_client import ClusterError
from kwire.admin.common import table
from kwire.admin.parsing import parse_config_list, parse_datetime_ms, parse_duration_ms, parse_partition_spec


def test_partition_specs_name_a_topic_or_some_of_its_partitions():
    assert parse_partition_spec("orders") == ("orders", None)
    assert parse_partition_spec("orders:2,0,2") == ("orders", [0, 2])
    for bad in (":1", "orders:", "orders:a", "orders:1,-1", "orders:1-3"):
        with pytest.raises(ClusterError):
            parse_partition_spec(bad)


def test_durations_are_iso_8601_as_java_parses_them():
    assert parse_duration_ms("PT1H30M") == 90 * 60_000
    assert parse_duration_ms("P1DT2H") == 26 * 3_600_000
    assert parse_duration_ms("p2d") == 2 * 86_400_000
    assert parse_duration_ms("PT0.5S") == 500
    for bad in ("", "P", "PT", "P1DT", "1H", "PT1X", "-PT1H", "P1H"):
        with pytest.raises(ClusterError, match="ISO-8601"):
            parse_duration_ms(bad)


def test_datetimes_take_utc_an_offset_or_local_time():
    assert parse_datetime_ms("2024-03-01T12:00:00.000Z") == 1709294400000
    assert parse_datetime_ms("2024-03-01T12:00:00.250Z") == 1709294400250
    assert parse_datetime_ms("2024-03-01T14:00:00+02:00") == 1709294400000
    assert parse_datetime_ms("2024-03-01T07:00:00.000-05:00") == 1709294400000
    local = datetime.datetime(2024, 3, 1, 12, 0).astimezone()
    assert parse_datetime_ms("2024-03-01T12:00:00.000") == round(local.timestamp() * 1000)
    for bad in ("2024-03-01", "2024-03-01 12:00:00", "2024-13-01T00:00:00", "2024-03-01T12:00:00+2"):
        with pytest.raises(ClusterError, match="to-datetime"):
            parse_datetime_ms(bad)


def test_config_lists_split_on_commas_outside_brackets():
    assert parse_config_list("retention.ms=1000, cleanup.policy=[compact,delete]") == {
        "retention.ms": "1000",
        "cleanup.policy": "compact,delete",
    }
    assert parse_config_list("a=x=y") == {"a": "x=y"}
    for bad in ("novalue", "=1"):
        with pytest.raises(ClusterError, match="name=value"):
            parse_config_list(bad)


def test_tables_are_aligned_and_show_missing_values_as_a_dash():
    assert table(["NAME", "N", "OK"], [["a", 10, True], ["long-name", None, False]]).splitlines() == [
        "NAME       N   OK",
        "a          10  true",
        "long-name  -   false",
    ]
    assert table(["ONLY"], []) == "ONLY"
