"""Share groups over the wire, in process: a share session's epochs, fetch
with acquired records, acknowledgements and Kafka's error codes for them."""

from kwire.protocol.errors import ErrorCode as E
from kwire.protocol.record_codec import iter_all_records
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq
from tests.log.follower_logs import batch, marker, put

HEARTBEAT, DESCRIBE, FETCH, ACK, OFFSETS, API_VERSIONS = 76, 77, 78, 79, 90, 18
ACCEPT = 1


def heartbeat(client, member="m", epoch=0, topics=("t",)):
    values = dict(group_id="g", member_id=member, member_epoch=epoch, rack_id=None, subscribed_topic_names=topics)
    return client.call(HEARTBEAT, 1, values)


def share_fetch(client, epoch, topic_id, acks=(), max_records=100, member="m"):
    batches = [dict(first_offset=f, last_offset=last, acknowledge_types=[t]) for f, last, t in acks]
    partition = dict(partition_index=0, acknowledgement_batches=batches)
    return client.call(
        FETCH,
        1,
        dict(
            group_id="g",
            member_id=member,
            share_session_epoch=epoch,
            max_wait=0,
            min_bytes=1,
            max_bytes=1 << 20,
            max_records=max_records,
            batch_size=max_records,
            topics=[dict(topic_id=topic_id, partitions=[partition])],
            forgotten_topics_data=[],
        ),
    )


def share_ack(client, epoch, topic_id, first, last, kind=ACCEPT):
    batch = dict(first_offset=first, last_offset=last, acknowledge_types=[kind])
    return client.call(
        ACK,
        1,
        dict(
            group_id="g",
            member_id="m",
            share_session_epoch=epoch,
            topics=[dict(topic_id=topic_id, partitions=[dict(partition_index=0, acknowledgement_batches=[batch])])],
        ),
    )


def setup(client):
    client.call(19, 4, rq.create("t", 1))
    client.core.state.cluster.group_configs.alter("g", {"share.auto.offset.reset": "earliest"}, False)
    client.call(0, 9, rq.produce("t", 0, rq.batch(b"a", b"b", b"c")))
    return client.core.state.cluster.get("t").topic_id


def test_a_share_session_from_join_to_acknowledgement(client):
    topic_id = setup(client)
    joined = heartbeat(client)
    assert (joined.error_code, joined.member_epoch) == (E.none, 1)
    assert joined.assignment.topic_partitions == ()  # assigned once initialized, from the next heartbeat
    again = heartbeat(client, epoch=1, topics=None)
    assert (again.error_code, again.member_epoch) == (E.none, 2)
    assert [(t.topic_id, t.partitions) for t in again.assignment.topic_partitions] == [(topic_id, (0,))]
    assert share_fetch(client, 5, topic_id).error_code == E.share_session_not_found
    assert share_fetch(client, 0, topic_id, acks=[(0, 0, ACCEPT)]).error_code == E.invalid_request
    assert share_ack(client, 0, topic_id, 0, 0).error_code == E.invalid_share_session_epoch

    first = share_fetch(client, 0, topic_id)
    (partition,) = first.responses[0].partitions
    assert [(a.first_offset, a.last_offset, a.delivery_count) for a in partition.acquired_records] == [(0, 2, 1)]
    assert [r.value for r in iter_all_records(partition.records)] == [b"a", b"b", b"c"]
    stored = b"".join(bytes(c) for c in client.core.state.cluster.partition("t", 0).log.read(0, 1 << 20))
    assert bytes(partition.records) == stored  # the batch as stored, not re-encoded

    acked = share_fetch(client, 1, topic_id, acks=[(0, 0, ACCEPT)], max_records=0)
    assert acked.responses[0].partitions[0].acknowledge_error_code == E.none
    assert share_ack(client, 1, topic_id, 1, 1).error_code == E.invalid_share_session_epoch  # epoch 2 is due
    again = share_ack(client, 2, topic_id, 0, 0)
    assert again.responses[0].partitions[0].error_code == E.invalid_record_state  # done already
    assert share_ack(client, 3, topic_id, 1, 2).responses[0].partitions[0].error_code == E.none

    described = client.call(DESCRIBE, 1, dict(group_ids=["g", "nope"], include_authorized_operations=False))
    group, missing = described.groups
    assert (group.group_state, [m.member_id for m in group.members]) == ("Stable", ["m"])
    assert missing.error_code == E.group_id_not_found
    offsets = client.call(OFFSETS, 1, dict(groups=[dict(group_id="g", topics=None)]))
    (offset,) = offsets.groups[0].topics[0].partitions
    assert (offset.start_offset, offset.lag) == (3, 0)

    assert share_ack(client, -1, topic_id, 3, 3).responses[0].partitions[0].error_code == E.invalid_record_state
    assert share_fetch(client, 4, topic_id).error_code == E.share_session_not_found  # the final request closed it
    assert heartbeat(client, epoch=2, topics=None).member_epoch == 2
    assert heartbeat(client, epoch=7, topics=None).error_code == E.fenced_member_epoch


def test_another_member_gets_what_is_left():
    core = make_core()
    client = CoreClient(core)
    topic_id = setup(client)
    heartbeat(client, "a")
    heartbeat(client, "b")
    first = share_fetch(client, 0, topic_id, max_records=2, member="a").responses[0].partitions[0]
    second = share_fetch(client, 0, topic_id, member="b").responses[0].partitions[0]
    assert [(r.first_offset, r.last_offset) for r in first.acquired_records] == [(0, 1)]
    assert [(r.first_offset, r.last_offset) for r in second.acquired_records] == [(2, 2)]
    core.close()


def test_share_groups_can_be_turned_off():
    core = make_core(group_share_enable=False)
    client = CoreClient(core)
    advertised = {
        k.api_key
        for k in client.call(API_VERSIONS, 3, dict(client_software_name="t", client_software_version="1")).api_keys
    }
    assert not advertised & {HEARTBEAT, DESCRIBE, FETCH, ACK, OFFSETS}
    assert heartbeat(client).error_code == E.unsupported_version
    core.close()


def test_offsets_admin_needs_an_empty_share_group(client):
    topic_id = setup(client)
    heartbeat(client)
    share_fetch(client, 0, topic_id)  # the group has state for t-0 now
    alter = dict(group_id="g", topics=[dict(topic_name="t", partitions=[dict(partition_index=0, start_offset=1)])])
    assert client.call(91, 0, alter).error_code == E.non_empty_group
    assert client.call(92, 0, dict(group_id="g", topics=[dict(topic_name="t")])).error_code == E.non_empty_group
    heartbeat(client, epoch=-1, topics=None)
    altered = client.call(91, 0, alter)
    assert altered.responses[0].partitions[0].error_code == E.none
    offsets = client.call(OFFSETS, 1, dict(groups=[dict(group_id="g", topics=None)]))
    (offset,) = offsets.groups[0].topics[0].partitions
    assert (offset.start_offset, offset.lag) == (1, 2)  # and the records locked before are free
    deleted = client.call(92, 0, dict(group_id="g", topics=[dict(topic_name="t"), dict(topic_name="nope")]))
    assert [t.error_code for t in deleted.responses] == [E.none, E.unknown_topic_or_partition]
    assert client.call(OFFSETS, 1, dict(groups=[dict(group_id="g", topics=None)])).groups[0].topics == ()


def test_acknowledgement_batches_out_of_order_or_overlapping_are_refused_whole(client):
    topic_id = setup(client)
    heartbeat(client)
    share_fetch(client, 0, topic_id)
    overlapping = share_fetch(client, 1, topic_id, acks=[(0, 1, ACCEPT), (1, 2, ACCEPT)], max_records=0)
    assert overlapping.responses[0].partitions[0].acknowledge_error_code == E.invalid_request
    backwards = share_fetch(client, 2, topic_id, acks=[(2, 2, ACCEPT), (0, 0, ACCEPT)], max_records=0)
    assert backwards.responses[0].partitions[0].acknowledge_error_code == E.invalid_request
    in_order = share_fetch(client, 3, topic_id, acks=[(0, 0, ACCEPT), (1, 2, ACCEPT)], max_records=0)
    assert in_order.responses[0].partitions[0].acknowledge_error_code == E.none  # nothing was applied before


def test_read_committed_never_delivers_an_aborted_transaction(client):
    """Kafka archives an aborted transaction's records for a read_committed
    share group; a committed one after it is delivered."""
    client.call(19, 4, rq.create("t", 1))
    configs = {"share.auto.offset.reset": "earliest", "share.isolation.level": "read_committed"}
    client.core.state.cluster.group_configs.alter("g", configs, False)
    log_ = client.core.state.cluster.partition("t", 0).log
    put(log_, batch(3, pid=7, seq=0, transactional=True))  # 0-2
    marker(log_, 7, commit=False)  # 3
    put(log_, batch(2, pid=7, seq=3, transactional=True))  # 4-5
    marker(log_, 7, commit=True)  # 6
    topic_id = client.core.state.cluster.get("t").topic_id
    heartbeat(client)
    (partition,) = share_fetch(client, 0, topic_id).responses[0].partitions
    assert [(a.first_offset, a.last_offset) for a in partition.acquired_records] == [(4, 5)]
