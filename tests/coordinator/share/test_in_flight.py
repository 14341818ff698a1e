"""In-flight records as ranges, for the CLI and the console."""

from kwire.coordinator.share.in_flight import InFlightRange, in_flight_ranges
from kwire.coordinator.share.share_partition import AcknowledgeType, SharePartition, ShareSettings


def test_ranges_merge_records_alike_and_show_holder_and_lock():
    p = SharePartition(0, ShareSettings(lock_duration_ms=1000, delivery_count_limit=3))
    p.acquire("a", [(0, 5, False)], 6, now=0)
    p.acknowledge("a", 2, 2, [AcknowledgeType.ACCEPT])
    p.acknowledge("a", 3, 3, [AcknowledgeType.RELEASE])
    p.acknowledge("a", 4, 4, [AcknowledgeType.REJECT])
    assert in_flight_ranges(p, now=0.25) == [
        InFlightRange(0, 1, "acquired", 1, "a", 750),
        InFlightRange(2, 2, "acknowledged", 1, None, None),
        InFlightRange(3, 3, "available", 1, None, None),
        InFlightRange(4, 4, "archived", 1, None, None),
        InFlightRange(5, 5, "acquired", 1, "a", 750),
    ]
    assert in_flight_ranges(p, now=0.25)[0].as_json()["lock_remaining_ms"] == 750
