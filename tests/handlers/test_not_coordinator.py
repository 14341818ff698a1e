"""A node that does not coordinate a group or transactional id answers
NOT_COORDINATOR where each API version puts errors, and lists only what it
coordinates. Here a lone node has handed one partition of each internal
topic away (unload_partition), as a node of a cluster does when their
leadership moves."""

import pytest

from kwire.coordinator.offsets import partition_for
from kwire.protocol.errors import ErrorCode as E
from tests.core_client import CoreClient, make_core
from tests.handlers import requests
from tests.handlers.test_groups_and_offsets import commit_values, fetch_values, join_and_sync, join_values

OFFSET_COMMIT, OFFSET_FETCH, JOIN, HEARTBEAT, LEAVE, SYNC = 8, 9, 11, 12, 13, 14
DESCRIBE_GROUPS, LIST_GROUPS, CREATE_TOPICS, INIT_PRODUCER_ID = 15, 16, 19, 22
ADD_PARTITIONS, ADD_OFFSETS, END_TXN, TXN_OFFSET_COMMIT = 24, 25, 26, 28
DELETE_GROUPS, OFFSET_DELETE, DESCRIBE_TRANSACTIONS, LIST_TRANSACTIONS = 42, 47, 65, 66
PARTITIONS = 4
NC = E.not_coordinator


def key_in(partition: int, prefix: str) -> str:
    return next(f"{prefix}-{i}" for i in range(100) if partition_for(f"{prefix}-{i}", PARTITIONS) == partition)


AWAY, HERE = key_in(1, "g"), key_in(2, "g")  # groups: partition 1 is coordinated elsewhere
TX_AWAY, TX_HERE = key_in(1, "tx"), key_in(2, "tx")


@pytest.fixture
def client():
    core = make_core(
        group_initial_rebalance_delay_ms=0,
        offsets_topic_num_partitions=PARTITIONS,
        transaction_state_log_num_partitions=PARTITIONS,
    )
    client = CoreClient(core)
    client.call(CREATE_TOPICS, 7, requests.create("t", partitions=2))
    yield client
    core.close()


def hand_away(client):
    client.core.state.groups.unload_partition(1)
    client.core.state.transactions.unload_partition(1)


def test_group_apis(client):
    member_id = join_and_sync(client, group=AWAY)
    client.call(OFFSET_COMMIT, 8, commit_values(AWAY, 1, member_id, {("t", 0): (7, "")}))
    join_and_sync(client, group=HERE)
    hand_away(client)

    joined = client.call(JOIN, 9, join_values(AWAY, member_id=member_id))
    assert (joined.error_code, joined.member_id, joined.generation_id) == (NC, member_id, -1)
    sync = dict(group_id=AWAY, generation_id=1, member_id=member_id, group_instance_id=None, assignments=[])
    assert client.call(SYNC, 5, dict(sync, protocol_type="consumer", protocol_name="range")).error_code == NC
    beat = dict(group_id=AWAY, generation_id=1, member_id=member_id, group_instance_id=None)
    assert client.call(HEARTBEAT, 4, beat).error_code == NC
    assert client.call(LEAVE, 0, dict(group_id=AWAY, member_id=member_id)).error_code == NC
    left = client.call(LEAVE, 5, dict(group_id=AWAY, members=[dict(member_id=member_id, group_instance_id=None)]))
    assert (left.error_code, left.members) == (NC, ())

    described = client.call(DESCRIBE_GROUPS, 5, dict(groups=[AWAY, HERE], include_authorized_operations=False))
    assert [(g.group_id, g.error_code, g.group_state) for g in described.groups] == [
        (AWAY, NC, ""),
        (HERE, E.none, "Stable"),
    ]
    listed = client.call(LIST_GROUPS, 4, dict(states_filter=[]))
    assert [g.group_id for g in listed.groups] == [HERE]
    assert [r.error_code for r in client.call(DELETE_GROUPS, 2, dict(groups_names=[AWAY])).results] == [NC]
    deleted = client.call(OFFSET_DELETE, 0, dict(group_id=AWAY, topics=[dict(name="t", partitions=[])]))
    assert (deleted.error_code, deleted.topics) == (NC, ())


def test_offset_apis_every_place_for_the_error(client):
    hand_away(client)
    committed = client.call(OFFSET_COMMIT, 8, commit_values(AWAY, -1, "", {("t", 0): (7, ""), ("t", 1): (8, "")}))
    assert [p.error_code for p in committed.topics[0].partitions] == [NC, NC]
    assert client.core.state.groups.committed(AWAY) == {}
    v1 = client.call(OFFSET_FETCH, 1, fetch_values(AWAY, {"t": [0, 1]}))  # no error field of its own
    assert [(p.error_code, p.committed_offset) for p in v1.topics[0].partitions] == [(NC, -1), (NC, -1)]
    v7 = client.call(OFFSET_FETCH, 7, fetch_values(AWAY, {"t": [0]}))
    assert (v7.error_code, v7.topics) == (NC, ())
    v8 = client.call(OFFSET_FETCH, 8, fetch_values(AWAY))
    assert (v8.groups[0].error_code, v8.groups[0].topics) == (NC, ())
    assert client.call(OFFSET_FETCH, 8, fetch_values(HERE)).groups[0].error_code == E.none


def init(client, transactional_id, timeout=60_000):
    values = dict(transactional_id=transactional_id, transaction_timeout=timeout, producer_id=-1, producer_epoch=-1)
    return client.call(INIT_PRODUCER_ID, 4, values)


def test_transaction_apis(client):
    started = init(client, TX_AWAY)
    pid, epoch = started.producer_id, started.producer_epoch
    here = init(client, TX_HERE)
    hand_away(client)

    again = init(client, TX_AWAY)
    assert (again.error_code, again.producer_id, again.producer_epoch) == (NC, -1, -1)
    assert init(client, TX_AWAY, timeout=0).error_code == E.invalid_transaction_timeout  # the arguments first
    producer = dict(transactional_id=TX_AWAY, producer_id=pid, producer_epoch=epoch)
    added = client.call(
        ADD_PARTITIONS,
        3,
        dict(
            v3_and_below_transactional_id=TX_AWAY,
            v3_and_below_producer_id=pid,
            v3_and_below_producer_epoch=epoch,
            v3_and_below_topics=[dict(name="t", partitions=[0, 1])],
        ),
    )
    assert [r.partition_error_code for r in added.results_by_topic_v3_and_below[0].results_by_partition] == [NC, NC]
    batched = client.call(
        ADD_PARTITIONS,
        4,
        dict(
            transactions=[
                dict(producer, verify_only=False, topics=[dict(name="t", partitions=[0])]),
                dict(
                    transactional_id=TX_HERE,
                    producer_id=here.producer_id,
                    producer_epoch=here.producer_epoch,
                    verify_only=False,
                    topics=[dict(name="t", partitions=[0])],
                ),
            ]
        ),
    )
    assert batched.error_code == E.none
    assert [
        (t.transactional_id, t.topic_results[0].results_by_partition[0].partition_error_code)
        for t in batched.results_by_transaction
    ] == [(TX_AWAY, NC), (TX_HERE, E.none)]
    assert client.call(ADD_OFFSETS, 3, dict(producer, group_id=HERE)).error_code == NC
    assert client.call(END_TXN, 3, dict(producer, committed=True)).error_code == NC
    described = client.call(DESCRIBE_TRANSACTIONS, 0, dict(transactional_ids=[TX_AWAY, TX_HERE]))
    assert [(s.transactional_id, s.error_code) for s in described.transaction_states] == [
        (TX_AWAY, NC),
        (TX_HERE, E.none),
    ]
    listed = client.call(LIST_TRANSACTIONS, 0, dict(state_filters=[], producer_id_filters=[]))
    assert [s.transactional_id for s in listed.transaction_states] == [TX_HERE]


def test_txn_offset_commit_goes_to_the_groups_coordinator(client):
    started = init(client, TX_HERE)
    hand_away(client)
    committed = client.call(
        TXN_OFFSET_COMMIT,
        3,
        dict(
            transactional_id=TX_HERE,
            group_id=AWAY,
            producer_id=started.producer_id,
            producer_epoch=started.producer_epoch,
            generation_id=-1,
            member_id="",
            group_instance_id=None,
            topics=[
                dict(
                    name="t",
                    partitions=[
                        dict(partition_index=0, committed_offset=1, committed_leader_epoch=-1, committed_metadata="")
                    ],
                )
            ],
        ),
    )
    assert committed.topics[0].partitions[0].error_code == NC
