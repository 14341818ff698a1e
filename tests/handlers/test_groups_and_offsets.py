"""Group, offset and coordinator APIs through BrokerCore, every version,
no sockets. The multi-member rules are in tests/coordinator."""

import pytest

from kwire.protocol.errors import ErrorCode as E
from tests.core_client import CoreClient, make_core
from tests.handlers import requests

FIND_COORDINATOR, JOIN, SYNC, HEARTBEAT, LEAVE = 10, 11, 14, 12, 13
OFFSET_COMMIT, OFFSET_FETCH, OFFSET_DELETE = 8, 9, 47
DESCRIBE_GROUPS, LIST_GROUPS, DELETE_GROUPS, CREATE_TOPICS = 15, 16, 42, 19

# A ConsumerProtocolSubscription v0 for topic "t": version, [topics], user data.
SUBSCRIPTION_T = b"\x00\x00" + b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\xff\xff\xff\xff"


def group_core(tmp_path=None):
    # CoreClient answers a parked JoinGroup at once (no time passes): these
    # groups form without group.initial.rebalance.delay.ms.
    return make_core(tmp_path, group_initial_rebalance_delay_ms=0)


def join_values(group="g", member_id="", instance=None, session_ms=10_000):
    return dict(
        group_id=group,
        session_timeout=session_ms,
        rebalance_timeout=30_000,
        member_id=member_id,
        group_instance_id=instance,
        protocol_type="consumer",
        protocols=[dict(name="range", metadata=SUBSCRIPTION_T)],
        reason=None,
    )


def commit_values(group, generation, member_id, offsets, topic_id=None):
    """offsets: {(topic, partition): (offset, metadata)}"""
    by_topic = {}
    for (topic, partition), (offset, metadata) in offsets.items():
        by_topic.setdefault(topic, []).append(
            dict(
                partition_index=partition,
                committed_offset=offset,
                committed_leader_epoch=3,
                committed_metadata=metadata,
                commit_timestamp=-1,
            )
        )
    return dict(
        group_id=group,
        generation_id_or_member_epoch=generation,
        member_id=member_id,
        group_instance_id=None,
        retention_time=-1,
        topics=[dict(name=t, topic_id=topic_id, partitions=p) for t, p in by_topic.items()],
    )


def fetch_values(group, topics=None, topic_ids=None):
    ids = topic_ids or {}
    wanted = (
        None if topics is None else [dict(name=t, topic_id=ids.get(t), partition_indexes=p) for t, p in topics.items()]
    )
    return dict(
        group_id=group,
        topics=wanted,
        require_stable=False,
        groups=[dict(group_id=group, member_id=None, member_epoch=-1, topics=wanted)],
    )


@pytest.fixture
def core_client():
    core = group_core()
    client = CoreClient(core)
    assert client.call(CREATE_TOPICS, 7, requests.create("t", partitions=3)).topics[0].error_code == 0
    yield client
    core.close()


def join_and_sync(client, version=9, sync_version=5, group="g"):
    first = client.call(JOIN, version, join_values(group))
    if version >= 4:
        assert first.error_code == E.member_id_required and first.member_id
        joined = client.call(JOIN, version, join_values(group, member_id=first.member_id))
    else:
        joined = first
    assert joined.error_code == E.none
    assert joined.leader == joined.member_id and joined.generation_id == 1
    assert [bytes(m.metadata) for m in joined.members] == [SUBSCRIPTION_T]
    synced = client.call(
        SYNC,
        sync_version,
        dict(
            group_id=group,
            generation_id=1,
            member_id=joined.member_id,
            group_instance_id=None,
            protocol_type="consumer",
            protocol_name="range",
            assignments=[dict(member_id=joined.member_id, assignment=b"my-assignment")],
        ),
    )
    assert synced.error_code == E.none and bytes(synced.assignment) == b"my-assignment"
    return joined.member_id


@pytest.mark.parametrize("version", range(0, 7))
def test_find_coordinator_every_version(core_client, version):
    if version >= 4:
        response = core_client.call(FIND_COORDINATOR, version, dict(key_type=0, coordinator_keys=["a", "b"]))
        assert [(c.key, c.error_code, c.node_id) for c in response.coordinators] == [("a", 0, 1), ("b", 0, 1)]
        assert response.coordinators[0].host == "127.0.0.1"
    else:
        response = core_client.call(FIND_COORDINATOR, version, dict(key="a", key_type=0))
        assert (response.error_code, response.node_id, response.host) == (0, 1, "127.0.0.1")


def test_find_coordinator_unknown_key_type(core_client):
    response = core_client.call(FIND_COORDINATOR, 3, dict(key="a", key_type=7))
    assert response.error_code == E.invalid_request


@pytest.mark.parametrize("version", range(2, 10))
def test_join_sync_heartbeat_leave_every_join_version(core_client, version):
    member_id = join_and_sync(core_client, version=version, sync_version=min(version, 5))
    beat = core_client.call(
        HEARTBEAT, 4, dict(group_id="g", generation_id=1, member_id=member_id, group_instance_id=None)
    )
    assert beat.error_code == E.none
    stale = core_client.call(HEARTBEAT, 0, dict(group_id="g", generation_id=0, member_id=member_id))
    assert stale.error_code == E.illegal_generation
    left = core_client.call(
        LEAVE, 5, dict(group_id="g", members=[dict(member_id=member_id, group_instance_id=None, reason=None)])
    )
    assert left.error_code == E.none and [m.error_code for m in left.members] == [E.none]


def test_leave_group_v0(core_client):
    member_id = join_and_sync(core_client)
    assert core_client.call(LEAVE, 0, dict(group_id="g", member_id=member_id)).error_code == E.none
    assert core_client.call(LEAVE, 0, dict(group_id="g", member_id=member_id)).error_code == E.unknown_member_id


def test_join_errors(core_client):
    assert core_client.call(JOIN, 5, join_values(session_ms=10)).error_code == E.invalid_session_timeout
    assert core_client.call(JOIN, 5, join_values(group="")).error_code == E.invalid_group_id
    assert core_client.call(JOIN, 5, join_values(member_id="made-up")).error_code == E.unknown_member_id


@pytest.mark.parametrize("commit_version", range(2, 11))
@pytest.mark.parametrize("fetch_version", [1, 5, 7, 8, 10])
def test_commit_and_fetch_every_version(core_client, commit_version, fetch_version):
    member_id = join_and_sync(core_client)
    topic_id = core_client.core.cluster.get("t").topic_id if commit_version >= 10 else None
    committed = core_client.call(
        OFFSET_COMMIT,
        commit_version,
        commit_values(
            "g", 1, member_id, {("t", 0): (5, "meta"), ("t", 2): (7, ""), ("t", 9): (1, "")}, topic_id=topic_id
        ),
    )
    assert [[p.error_code for p in t.partitions] for t in committed.topics] == [
        [E.none, E.none, E.unknown_topic_or_partition]
    ]
    ids = {"t": core_client.core.cluster.get("t").topic_id}
    fetched = core_client.call(OFFSET_FETCH, fetch_version, fetch_values("g", {"t": [0, 1, 2]}, ids))
    topics = fetched.groups[0].topics if fetch_version >= 8 else fetched.topics
    partitions = [(p.partition_index, p.committed_offset, p.metadata) for p in topics[0].partitions]
    assert partitions == [(0, 5, "meta"), (1, -1, ""), (2, 7, "")]
    if fetch_version >= 5:
        assert topics[0].partitions[0].committed_leader_epoch == (3 if commit_version >= 6 else -1)


def test_fetch_all_offsets_of_a_group_and_several_groups(core_client):
    core_client.call(OFFSET_COMMIT, 8, commit_values("a", -1, "", {("t", 1): (10, "")}))
    core_client.call(OFFSET_COMMIT, 8, commit_values("b", -1, "", {("t", 2): (20, "")}))
    every = core_client.call(OFFSET_FETCH, 7, fetch_values("a"))
    assert [(t.name, [(p.partition_index, p.committed_offset) for p in t.partitions]) for t in every.topics] == [
        ("t", [(1, 10)])
    ]
    both = core_client.call(
        OFFSET_FETCH,
        8,
        dict(
            require_stable=False,
            groups=[
                dict(group_id="a", topics=None),
                dict(group_id="b", topics=None),
                dict(group_id="none", topics=None),
            ],
        ),
    )
    assert [(g.group_id, [[p.committed_offset for p in t.partitions] for t in g.topics]) for g in both.groups] == [
        ("a", [[10]]),
        ("b", [[20]]),
        ("none", []),
    ]


def test_commit_rules(core_client):
    # Manual assignment (generation -1) may commit to a group nobody runs.
    ok = core_client.call(OFFSET_COMMIT, 8, commit_values("manual", -1, "", {("t", 0): (1, "")}))
    assert ok.topics[0].partitions[0].error_code == E.none
    # A generation for a group that does not exist is stale.
    stale = core_client.call(OFFSET_COMMIT, 8, commit_values("ghost", 4, "m", {("t", 0): (1, "")}))
    assert stale.topics[0].partitions[0].error_code == E.illegal_generation
    member_id = join_and_sync(core_client)
    errors = {
        "stranger": core_client.call(OFFSET_COMMIT, 8, commit_values("g", 1, "x", {("t", 0): (1, "")})),
        "old generation": core_client.call(OFFSET_COMMIT, 8, commit_values("g", 0, member_id, {("t", 0): (1, "")})),
        "too much metadata": core_client.call(
            OFFSET_COMMIT, 8, commit_values("g", 1, member_id, {("t", 0): (1, "m" * 4097)})
        ),
        "empty group id": core_client.call(OFFSET_COMMIT, 8, commit_values("", 1, member_id, {("t", 0): (1, "")})),
    }
    assert {k: v.topics[0].partitions[0].error_code for k, v in errors.items()} == {
        "stranger": E.unknown_member_id,
        "old generation": E.illegal_generation,
        "too much metadata": E.offset_metadata_too_large,
        "empty group id": E.invalid_group_id,
    }


def test_describe_list_and_delete_groups(core_client):
    member_id = join_and_sync(core_client)
    core_client.call(OFFSET_COMMIT, 8, commit_values("g", 1, member_id, {("t", 0): (1, "")}))
    for version in range(0, 7):
        described = core_client.call(
            DESCRIBE_GROUPS, version, dict(groups=["g", "missing"], include_authorized_operations=True)
        )
        g, missing = described.groups
        assert (g.group_state, g.protocol_type, g.protocol_data) == ("Stable", "consumer", "range")
        assert [(m.member_id, bytes(m.member_assignment), m.client_id) for m in g.members] == [
            (member_id, b"my-assignment", "kwire")
        ]
        assert missing.group_state == "Dead"
        assert missing.error_code == (E.group_id_not_found if version >= 6 else E.none)
    for version in range(0, 6):
        listed = core_client.call(LIST_GROUPS, version, dict(states_filter=[], types_filter=[]))
        assert [(g.group_id, g.protocol_type) for g in listed.groups] == [("g", "consumer")]
    assert core_client.call(LIST_GROUPS, 4, dict(states_filter=["Empty"])).groups == ()
    assert [g.group_id for g in core_client.call(LIST_GROUPS, 4, dict(states_filter=["stable"])).groups] == ["g"]
    deleted = core_client.call(DELETE_GROUPS, 2, dict(groups_names=["g", "missing"]))
    assert [(r.group_id, r.error_code) for r in deleted.results] == [
        ("g", E.non_empty_group),
        ("missing", E.group_id_not_found),
    ]
    core_client.call(
        LEAVE, 5, dict(group_id="g", members=[dict(member_id=member_id, group_instance_id=None, reason=None)])
    )
    assert core_client.call(DELETE_GROUPS, 0, dict(groups_names=["g"])).results[0].error_code == E.none
    assert core_client.call(OFFSET_FETCH, 7, fetch_values("g")).topics == ()
    assert core_client.call(LIST_GROUPS, 4, dict(states_filter=[])).groups == ()


def test_offset_delete(core_client):
    member_id = join_and_sync(core_client)
    core_client.call(OFFSET_COMMIT, 8, commit_values("g", 1, member_id, {("t", 0): (1, ""), ("t", 1): (2, "")}))
    request = dict(group_id="g", topics=[dict(name="t", partitions=[dict(partition_index=0)])])
    busy = core_client.call(OFFSET_DELETE, 0, request)
    assert busy.topics[0].partitions[0].error_code == E.group_subscribed_to_topic
    core_client.call(LEAVE, 0, dict(group_id="g", member_id=member_id))
    done = core_client.call(OFFSET_DELETE, 0, request)
    assert (done.error_code, done.topics[0].partitions[0].error_code) == (E.none, E.none)
    left = core_client.call(OFFSET_FETCH, 7, fetch_values("g"))
    assert [(p.partition_index, p.committed_offset) for p in left.topics[0].partitions] == [(1, 2)]
    assert core_client.call(OFFSET_DELETE, 0, dict(request, group_id="none")).error_code == E.group_id_not_found


def test_committed_offsets_survive_a_restart(tmp_path):
    core = group_core(tmp_path)
    client = CoreClient(core)
    client.call(CREATE_TOPICS, 7, requests.create("t", partitions=3))
    for group, offset in [("g1", 10), ("g2", 20), ("g1", 11)]:
        client.call(OFFSET_COMMIT, 8, commit_values(group, -1, "", {("t", 1): (offset, f"m{offset}")}))
    core.close()
    core = group_core(tmp_path)
    client = CoreClient(core)
    for group, offset in [("g1", 11), ("g2", 20)]:
        fetched = client.call(OFFSET_FETCH, 7, fetch_values(group, {"t": [1]}))
        part = fetched.topics[0].partitions[0]
        assert (part.committed_offset, part.metadata, part.committed_leader_epoch) == (offset, f"m{offset}", 3)
    assert sorted(g.group_id for g in client.call(LIST_GROUPS, 4, dict(states_filter=[])).groups) == ["g1", "g2"]
    assert len(core.cluster.get("__consumer_offsets").partitions) == 50
    core.close()


def _txn(client, api, version, **values):
    return client.call(api, version, values)


def test_transactional_offsets_are_pending_until_commit(tmp_path):
    core = group_core(tmp_path)
    client = CoreClient(core)
    client.call(CREATE_TOPICS, 7, requests.create("t", partitions=1))
    init = _txn(client, 22, 4, transactional_id="etl", transaction_timeout=60000, producer_id=-1, producer_epoch=-1)
    pid, epoch = init.producer_id, init.producer_epoch
    added = _txn(client, 25, 3, transactional_id="etl", producer_id=pid, producer_epoch=epoch, group_id="g")
    assert added.error_code == E.none
    committed = _txn(
        client,
        28,
        3,
        transactional_id="etl",
        group_id="g",
        producer_id=pid,
        producer_epoch=epoch,
        generation_id=-1,
        member_id="",
        group_instance_id=None,
        topics=[
            dict(
                name="t",
                partitions=[
                    dict(partition_index=0, committed_offset=42, committed_leader_epoch=-1, committed_metadata="")
                ],
            )
        ],
    )
    assert committed.topics[0].partitions[0].error_code == E.none
    stable = dict(fetch_values("g", {"t": [0]}), require_stable=True)
    assert client.call(OFFSET_FETCH, 7, stable).topics[0].partitions[0].error_code == E.unstable_offset_commit
    plain = client.call(OFFSET_FETCH, 7, fetch_values("g", {"t": [0]})).topics[0].partitions[0]
    assert (plain.error_code, plain.committed_offset) == (E.none, -1)
    assert (
        _txn(client, 26, 3, transactional_id="etl", producer_id=pid, producer_epoch=epoch, committed=True).error_code
        == 0
    )
    after = client.call(OFFSET_FETCH, 7, stable).topics[0].partitions[0]
    assert (after.error_code, after.committed_offset) == (E.none, 42)
    core.close()
    # Replayed from __consumer_offsets: the transactional batch and its commit marker.
    again = CoreClient(group_core(tmp_path))
    assert again.call(OFFSET_FETCH, 7, stable).topics[0].partitions[0].committed_offset == 42
    again.core.close()


def test_aborted_transactional_offsets_never_appear(client):
    client.call(CREATE_TOPICS, 7, requests.create("t", partitions=1))
    init = _txn(client, 22, 4, transactional_id="etl", transaction_timeout=60000, producer_id=-1, producer_epoch=-1)
    pid, epoch = init.producer_id, init.producer_epoch
    _txn(client, 25, 3, transactional_id="etl", producer_id=pid, producer_epoch=epoch, group_id="g")
    _txn(
        client,
        28,
        3,
        transactional_id="etl",
        group_id="g",
        producer_id=pid,
        producer_epoch=epoch,
        generation_id=-1,
        member_id="",
        group_instance_id=None,
        topics=[
            dict(
                name="t",
                partitions=[
                    dict(partition_index=0, committed_offset=7, committed_leader_epoch=-1, committed_metadata="")
                ],
            )
        ],
    )
    assert (
        _txn(client, 26, 3, transactional_id="etl", producer_id=pid, producer_epoch=epoch, committed=False).error_code
        == 0
    )
    got = client.call(OFFSET_FETCH, 7, dict(fetch_values("g", {"t": [0]}), require_stable=True)).topics[0].partitions[0]
    assert (got.error_code, got.committed_offset) == (E.none, -1)
    # The old epoch is fenced from the group's offsets too.
    stale = _txn(
        client,
        28,
        3,
        transactional_id="etl",
        group_id="g",
        producer_id=pid,
        producer_epoch=epoch + 1,
        generation_id=-1,
        member_id="",
        group_instance_id=None,
        topics=[
            dict(
                name="t",
                partitions=[
                    dict(partition_index=0, committed_offset=9, committed_leader_epoch=-1, committed_metadata="")
                ],
            )
        ],
    )
    assert stale.topics[0].partitions[0].error_code == E.producer_fenced
