"""Every handler asks the authorizer what Kafka's KafkaApis (and its
controller) asks, and answers a refusal with Kafka's error code: the data
APIs and the topic/group/transaction ones. The admin APIs are in
test_authorization_admin.py."""

from __future__ import annotations

import logging

import attrs
import pytest

from kwire.protocol.errors import ErrorCode
from kwire.security.resources import AclOperation, ResourceType
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq
from tests.handlers.authz_client import FakeAuthorizer, PrincipalClient

A, R = AclOperation, ResourceType
TAF = ErrorCode.topic_authorization_failed
GAF = ErrorCode.group_authorization_failed
CAF = ErrorCode.cluster_authorization_failed
TXAF = ErrorCode.transactional_id_authorization_failed
PRODUCE, FETCH, LIST_OFFSETS, METADATA, OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR = 0, 1, 2, 3, 8, 9, 10
JOIN, HEARTBEAT, LEAVE, SYNC, DESCRIBE_GROUPS, LIST_GROUPS = 11, 12, 13, 14, 15, 16
INIT_PRODUCER_ID, OFFSET_FOR_LEADER_EPOCH, ADD_PARTITIONS, ADD_OFFSETS, END_TXN, TXN_OFFSET_COMMIT = (
    22,
    23,
    24,
    25,
    26,
    28,
)
DELETE_GROUPS, OFFSET_DELETE, DESCRIBE_PRODUCERS, DESCRIBE_TRANSACTIONS, LIST_TRANSACTIONS = 42, 47, 61, 65, 66
DESCRIBE_TOPIC_PARTITIONS = 75


@attrs.frozen
class Node:
    core: object
    client: PrincipalClient
    acl: FakeAuthorizer
    admin: CoreClient  # no principal: used before the authorizer is set


@pytest.fixture
def node():
    core = make_core()
    admin = CoreClient(core)
    for name in ("t", "secret"):
        assert admin.call(19, 7, rq.create(name)).topics[0].error_code == 0
    assert (
        admin.call(PRODUCE, 9, rq.produce("t", 0, rq.batch(b"a"))).responses[0].partition_responses[0].error_code == 0
    )
    admin.call(OFFSET_COMMIT, 8, rq.offset_commit("g", "t", 0, 1))  # group g exists (Empty) with an offset
    acl = FakeAuthorizer()
    core.state.authorizer = acl
    yield Node(core, PrincipalClient(core), acl, admin)
    core.close()


# --- Produce / Fetch / ListOffsets / OffsetForLeaderEpoch ------------------------------------


def test_produce_needs_write_on_the_topic(node):
    body = rq.produce("t", 0, rq.batch(b"x"))
    assert node.client.call(PRODUCE, 9, body).responses[0].partition_responses[0].error_code == TAF
    node.acl.grant(A.WRITE, R.TOPIC, "t")
    assert node.client.call(PRODUCE, 9, body).responses[0].partition_responses[0].error_code == 0


def test_produce_does_not_auto_create_without_create(node):
    node.acl.grant(A.WRITE, R.TOPIC, "new")
    answer = node.client.call(PRODUCE, 9, rq.produce("new", 0, rq.batch(b"x")))
    assert answer.responses[0].partition_responses[0].error_code == ErrorCode.unknown_topic_or_partition
    assert node.core.state.cluster.get("new") is None
    node.acl.grant(A.CREATE, R.TOPIC, "new")
    answer = node.client.call(PRODUCE, 9, rq.produce("new", 0, rq.batch(b"x")))
    assert answer.responses[0].partition_responses[0].error_code == 0


def test_transactional_produce_needs_write_on_the_transactional_id(node):
    from kwire.protocol.record_codec import Record, build_batch

    batch = bytes(
        build_batch(
            [Record(offset_delta=0, timestamp_delta=0, key=None, value=b"v", headers=())],
            base_timestamp=1,
            producer_id=1,
            producer_epoch=0,
            base_sequence=0,
            is_transactional=True,
        )
    )
    node.acl.grant(A.WRITE, R.TOPIC, "t")
    body = rq.produce("t", 0, batch)
    body["transactional_id"] = "tx"
    assert node.client.call(PRODUCE, 9, body).responses[0].partition_responses[0].error_code == TXAF
    node.acl.grant(A.WRITE, R.TRANSACTIONAL_ID, "tx")
    # Allowed now: the coordinator's own check answers (no such producer).
    assert node.client.call(PRODUCE, 9, body).responses[0].partition_responses[0].error_code != TXAF


def test_fetch_needs_read_on_the_topic(node):
    partition = node.client.call(FETCH, 12, rq.fetch("t", 0, 0)).responses[0].partitions[0]
    assert partition.error_code == TAF and not partition.records
    node.acl.grant(A.READ, R.TOPIC, "t")
    partition = node.client.call(FETCH, 12, rq.fetch("t", 0, 0)).responses[0].partitions[0]
    assert partition.error_code == 0 and partition.records


def test_a_follower_fetch_needs_cluster_action(node):
    node.acl.grant(A.READ, R.TOPIC, "t")
    body = rq.fetch("t", 0, 0)
    body["replica_id"] = 7
    assert node.client.call(FETCH, 12, body).responses[0].partitions[0].error_code == TAF


def test_list_offsets_needs_describe_on_the_topic(node):
    body = rq.list_offsets("t", 0, -1)
    partition = node.client.call(LIST_OFFSETS, 7, body).topics[0].partitions[0]
    assert (partition.error_code, partition.offset) == (TAF, -1)
    node.acl.grant(A.DESCRIBE, R.TOPIC, "t")
    partition = node.client.call(LIST_OFFSETS, 7, body).topics[0].partitions[0]
    assert (partition.error_code, partition.offset) == (0, 1)


def test_offset_for_leader_epoch_needs_describe_or_cluster_action(node):
    body = dict(
        replica_id=-1,
        topics=[dict(topic="t", partitions=[dict(partition=0, current_leader_epoch=-1, leader_epoch=0)])],
    )
    assert node.client.call(OFFSET_FOR_LEADER_EPOCH, 4, body).topics[0].partitions[0].error_code == TAF
    node.acl.grant(A.CLUSTER_ACTION, R.CLUSTER)
    assert node.client.call(OFFSET_FOR_LEADER_EPOCH, 4, body).topics[0].partitions[0].error_code == 0


# --- Metadata / DescribeTopicPartitions --------------------------------------------------------


def test_metadata_for_every_topic_lists_only_described_ones(node):
    assert node.client.call(METADATA, 12, rq.metadata(None)).topics == ()
    node.acl.grant(A.DESCRIBE, R.TOPIC, "t")
    assert [t.name for t in node.client.call(METADATA, 12, rq.metadata(None)).topics] == ["t"]


def test_metadata_for_a_named_topic_refuses_without_telling_whether_it_exists(node):
    answer = node.client.call(METADATA, 12, rq.metadata("secret", "missing", auto=False))
    assert [(t.name, t.error_code, t.partitions) for t in answer.topics] == [("secret", TAF, ()), ("missing", TAF, ())]


def test_metadata_auto_creation_needs_create(node):
    node.acl.grant(A.DESCRIBE, R.TOPIC, "fresh")
    answer = node.client.call(METADATA, 12, rq.metadata("fresh"))
    assert answer.topics[0].error_code == TAF and node.core.state.cluster.get("fresh") is None
    node.acl.grant(A.CREATE, R.CLUSTER)
    assert node.client.call(METADATA, 12, rq.metadata("fresh")).topics[0].error_code == 0
    assert node.core.state.cluster.get("fresh") is not None


def test_metadata_authorized_operations_come_from_the_authorizer(node):
    node.acl.grant(A.DESCRIBE, R.TOPIC, "t")
    node.acl.grant(A.READ, R.TOPIC, "t")
    body = rq.metadata("t", auto=False)
    body.update(include_topic_authorized_operations=True, include_cluster_authorized_operations=True)
    answer = node.client.call(METADATA, 10, body)
    assert answer.topics[0].topic_authorized_operations == (1 << A.DESCRIBE) | (1 << A.READ)
    assert answer.cluster_authorized_operations == 0  # no DESCRIBE on the cluster
    node.acl.grant(A.DESCRIBE, R.CLUSTER)
    node.acl.grant(A.ALTER, R.CLUSTER)
    assert node.client.call(METADATA, 10, body).cluster_authorized_operations == (1 << A.DESCRIBE) | (1 << A.ALTER)


def test_metadata_answers_follow_the_acls_not_a_cache(node):
    assert node.client.call(METADATA, 12, rq.metadata(None)).topics == ()
    node.acl.grant(A.DESCRIBE, R.TOPIC, "secret")
    assert [t.name for t in node.client.call(METADATA, 12, rq.metadata(None)).topics] == ["secret"]


def test_without_an_authorizer_metadata_is_cached_and_shows_every_operation():
    core = make_core()
    try:
        client = CoreClient(core)
        client.call(19, 7, rq.create("t"))
        body = rq.metadata("t", auto=False)
        body.update(include_topic_authorized_operations=True)
        before = len(core.state.response_cache)
        answer = client.call(METADATA, 12, body)
        assert len(core.state.response_cache) == before + 1
        assert answer.topics[0].topic_authorized_operations == sum(
            1 << op
            for op in (A.READ, A.WRITE, A.CREATE, A.DELETE, A.ALTER, A.DESCRIBE, A.DESCRIBE_CONFIGS, A.ALTER_CONFIGS)
        )
    finally:
        core.close()


def test_describe_topic_partitions_hides_and_refuses(node):
    node.acl.grant(A.DESCRIBE, R.TOPIC, "t")
    listing = node.client.call(DESCRIBE_TOPIC_PARTITIONS, 0, dict(topics=[], response_partition_limit=100))
    assert [(t.name, t.topic_authorized_operations) for t in listing.topics] == [("t", 1 << A.DESCRIBE)]
    named = node.client.call(
        DESCRIBE_TOPIC_PARTITIONS, 0, dict(topics=[dict(name="secret"), dict(name="t")], response_partition_limit=100)
    )
    assert [(t.name, t.error_code) for t in named.topics] == [("t", 0), ("secret", TAF)]


# --- FindCoordinator / the group protocol ------------------------------------------------------


@pytest.mark.parametrize("key_type, resource_type, error", [(0, R.GROUP, GAF), (1, R.TRANSACTIONAL_ID, TXAF)])
def test_find_coordinator_needs_describe_on_the_key(node, key_type, resource_type, error):
    coordinator = node.client.call(FIND_COORDINATOR, 4, dict(key_type=key_type, coordinator_keys=["k"])).coordinators[0]
    assert (coordinator.error_code, coordinator.node_id) == (error, -1)
    old = node.client.call(FIND_COORDINATOR, 3, dict(key_type=key_type, key="k"))
    assert old.error_code == error and old.error_message
    node.acl.grant(A.DESCRIBE, resource_type, "k")
    assert (
        node.client.call(FIND_COORDINATOR, 4, dict(key_type=key_type, coordinator_keys=["k"]))
        .coordinators[0]
        .error_code
        == 0
    )


def _join(node, group="g2"):
    return node.client.call(
        JOIN,
        9,
        dict(
            group_id=group,
            session_timeout=10_000,
            rebalance_timeout=10_000,
            member_id="",
            protocol_type="consumer",
            protocols=[dict(name="range", metadata=b"")],
        ),
    )


def test_group_membership_needs_read_on_the_group(node):
    assert _join(node).error_code == GAF
    assert node.client.call(SYNC, 5, dict(group_id="g2", generation_id=1, member_id="m")).error_code == GAF
    assert node.client.call(HEARTBEAT, 4, dict(group_id="g2", generation_id=1, member_id="m")).error_code == GAF
    assert node.client.call(LEAVE, 5, dict(group_id="g2", members=[dict(member_id="m")])).error_code == GAF
    node.acl.grant(A.READ, R.GROUP, "g2")
    # Allowed: the coordinator answers (a new member must rejoin with its id).
    assert _join(node).error_code == ErrorCode.member_id_required
    assert node.client.call(HEARTBEAT, 4, dict(group_id="g2", generation_id=1, member_id="m")).error_code != GAF


def test_describe_groups_needs_describe_and_shows_the_group_operations(node):
    body = dict(groups=["g"], include_authorized_operations=True)
    group = node.client.call(DESCRIBE_GROUPS, 5, body).groups[0]
    assert (group.error_code, group.group_state) == (GAF, "")
    node.acl.grant(A.DESCRIBE, R.GROUP, "g")
    node.acl.grant(A.DELETE, R.GROUP, "g")
    node.acl.grant(A.WRITE, R.GROUP, "g")  # not a group operation: never shown
    group = node.client.call(DESCRIBE_GROUPS, 5, body).groups[0]
    assert group.error_code == 0
    assert group.authorized_operations == (1 << A.DESCRIBE) | (1 << A.DELETE)


def test_list_groups_lists_only_described_groups_unless_the_cluster_may_be_described(node):
    assert node.client.call(LIST_GROUPS, 4, dict(states_filter=[])).groups == ()
    node.acl.grant(A.DESCRIBE, R.GROUP, "g")
    assert [g.group_id for g in node.client.call(LIST_GROUPS, 4, dict(states_filter=[])).groups] == ["g"]
    node.acl.grants.clear()
    node.acl.grant(A.DESCRIBE, R.CLUSTER)
    assert [g.group_id for g in node.client.call(LIST_GROUPS, 4, dict(states_filter=[])).groups] == ["g"]


def test_delete_groups_needs_delete(node):
    assert node.client.call(DELETE_GROUPS, 2, dict(groups_names=["g"])).results[0].error_code == GAF
    assert node.core.state.groups.group("g") is not None
    node.acl.grant(A.DELETE, R.GROUP, "g")
    assert node.client.call(DELETE_GROUPS, 2, dict(groups_names=["g"])).results[0].error_code == 0


# --- offsets ------------------------------------------------------------------------------


def test_offset_commit_needs_read_on_group_and_topic(node):
    body = rq.offset_commit("g", "t", 0, 5)
    assert node.client.call(OFFSET_COMMIT, 8, body).topics[0].partitions[0].error_code == GAF
    node.acl.grant(A.READ, R.GROUP, "g")
    assert node.client.call(OFFSET_COMMIT, 8, body).topics[0].partitions[0].error_code == TAF
    node.acl.grant(A.READ, R.TOPIC, "t")
    assert node.client.call(OFFSET_COMMIT, 8, body).topics[0].partitions[0].error_code == 0


def _fetch_offsets(node, topics):
    body = dict(groups=[dict(group_id="g", topics=topics)], require_stable=False)
    return node.client.call(OFFSET_FETCH, 8, body).groups[0]


def test_offset_fetch_needs_describe_on_group_and_filters_topics(node):
    assert _fetch_offsets(node, None).error_code == GAF
    node.acl.grant(A.DESCRIBE, R.GROUP, "g")
    every = _fetch_offsets(node, None)
    assert (every.error_code, every.topics) == (0, ())  # t's offset hidden
    named = _fetch_offsets(node, [dict(name="t", partition_indexes=[0])])
    assert [(p.error_code, p.committed_offset) for p in named.topics[0].partitions] == [(TAF, -1)]
    node.acl.grant(A.DESCRIBE, R.TOPIC, "t")
    assert [t.name for t in _fetch_offsets(node, None).topics] == ["t"]
    named = _fetch_offsets(node, [dict(name="t", partition_indexes=[0])])
    assert [(p.error_code, p.committed_offset) for p in named.topics[0].partitions] == [(0, 1)]


def test_offset_delete_needs_delete_on_group_and_read_on_topic(node):
    body = dict(group_id="g", topics=[dict(name="t", partitions=[dict(partition_index=0)])])
    assert node.client.call(OFFSET_DELETE, 0, body).error_code == GAF
    node.acl.grant(A.DELETE, R.GROUP, "g")
    answer = node.client.call(OFFSET_DELETE, 0, body)
    assert (answer.error_code, answer.topics[0].partitions[0].error_code) == (0, TAF)
    node.acl.grant(A.READ, R.TOPIC, "t")
    assert node.client.call(OFFSET_DELETE, 0, body).topics[0].partitions[0].error_code == 0


# --- transactions ------------------------------------------------------------------------------


def _init(node, transactional_id):
    body = dict(transactional_id=transactional_id, transaction_timeout=60_000, producer_id=-1, producer_epoch=-1)
    return node.client.call(INIT_PRODUCER_ID, 4, body)


def test_init_producer_id_needs_write_on_the_transactional_id(node):
    answer = _init(node, "tx")
    assert (answer.error_code, answer.producer_id) == (TXAF, -1)
    node.acl.grant(A.WRITE, R.TRANSACTIONAL_ID, "tx")
    assert _init(node, "tx").error_code == 0


def test_an_idempotent_producer_needs_idempotent_write_or_write_on_some_topic(node):
    assert _init(node, None).error_code == CAF
    node.acl.grant(A.WRITE, R.TOPIC, "t")
    assert _init(node, None).error_code == 0
    node.acl.grants.clear()
    node.acl.grant(A.IDEMPOTENT_WRITE, R.CLUSTER)
    assert _init(node, None).error_code == 0


def test_an_authorizer_that_knows_resource_types_answers_for_idempotence(node):
    asked = []

    def authorize_by_resource_type(principal, host, operation, resource_type):
        asked.append((principal, operation, resource_type))
        return True

    node.acl.authorize_by_resource_type = authorize_by_resource_type
    assert _init(node, None).error_code == 0
    assert asked == [("User:alice", A.WRITE, R.TOPIC)]


def _add_partitions(node, *topics):
    body = dict(
        v3_and_below_transactional_id="tx",
        v3_and_below_producer_id=1,
        v3_and_below_producer_epoch=0,
        v3_and_below_topics=[dict(name=t, partitions=[0]) for t in topics],
    )
    answer = node.client.call(ADD_PARTITIONS, 3, body)
    return {t.name: t.results_by_partition[0].partition_error_code for t in answer.results_by_topic_v3_and_below}


def test_add_partitions_to_txn_needs_write_on_the_id_and_each_topic(node):
    assert _add_partitions(node, "t", "secret") == {"t": TXAF, "secret": TXAF}
    node.acl.grant(A.WRITE, R.TRANSACTIONAL_ID, "tx")
    node.acl.grant(A.WRITE, R.TOPIC, "t")
    assert _add_partitions(node, "t", "secret") == {"t": ErrorCode.operation_not_attempted, "secret": TAF}


def test_add_partitions_to_txn_from_a_broker_needs_cluster_action(node):
    body = dict(transactions=[dict(transactional_id="tx", producer_id=1, producer_epoch=0, topics=[])])
    answer = node.client.call(ADD_PARTITIONS, 4, body)
    assert (answer.error_code, answer.results_by_transaction) == (CAF, ())


def test_add_offsets_and_end_txn_need_write_on_the_id_and_read_on_the_group(node):
    add = dict(transactional_id="tx", producer_id=1, producer_epoch=0, group_id="g")
    end = dict(transactional_id="tx", producer_id=1, producer_epoch=0, committed=True)
    assert node.client.call(ADD_OFFSETS, 3, add).error_code == TXAF
    assert node.client.call(END_TXN, 3, end).error_code == TXAF
    node.acl.grant(A.WRITE, R.TRANSACTIONAL_ID, "tx")
    assert node.client.call(ADD_OFFSETS, 3, add).error_code == GAF
    assert node.client.call(END_TXN, 3, end).error_code not in (TXAF, GAF)
    node.acl.grant(A.READ, R.GROUP, "g")
    assert node.client.call(ADD_OFFSETS, 3, add).error_code not in (TXAF, GAF)


def test_txn_offset_commit_checks_id_group_and_topics_in_order(node):
    body = dict(
        transactional_id="tx",
        group_id="g",
        producer_id=1,
        producer_epoch=0,
        generation_id=-1,
        member_id="",
        topics=[
            dict(
                name="t",
                partitions=[dict(partition_index=0, committed_offset=1, committed_leader_epoch=-1)],
            )
        ],
    )

    def error():
        return node.client.call(TXN_OFFSET_COMMIT, 3, body).topics[0].partitions[0].error_code

    assert error() == TXAF
    node.acl.grant(A.WRITE, R.TRANSACTIONAL_ID, "tx")
    assert error() == GAF
    node.acl.grant(A.READ, R.GROUP, "g")
    assert error() == TAF
    node.acl.grant(A.READ, R.TOPIC, "t")
    assert error() not in (TXAF, GAF, TAF)


def test_describe_producers_needs_read_on_the_topic(node):
    body = dict(topics=[dict(name="t", partition_indexes=[0])])
    assert node.client.call(DESCRIBE_PRODUCERS, 0, body).topics[0].partitions[0].error_code == TAF
    node.acl.grant(A.READ, R.TOPIC, "t")
    assert node.client.call(DESCRIBE_PRODUCERS, 0, body).topics[0].partitions[0].error_code == 0


def test_transactions_are_described_and_listed_only_with_describe_on_the_id(node):
    node.acl.grant(A.WRITE, R.TRANSACTIONAL_ID, "tx")
    node.acl.grant(A.WRITE, R.TOPIC, "t")
    init = _init(node, "tx")
    body = dict(
        v3_and_below_transactional_id="tx",
        v3_and_below_producer_id=init.producer_id,
        v3_and_below_producer_epoch=init.producer_epoch,
        v3_and_below_topics=[dict(name="t", partitions=[0])],
    )
    node.client.call(ADD_PARTITIONS, 3, body)  # an ongoing transaction in t-0
    state = node.client.call(DESCRIBE_TRANSACTIONS, 0, dict(transactional_ids=["tx"])).transaction_states[0]
    assert state.error_code == TXAF
    assert node.client.call(LIST_TRANSACTIONS, 1, dict(duration_filter=-1)).transaction_states == ()
    node.acl.grant(A.DESCRIBE, R.TRANSACTIONAL_ID, "tx")
    state = node.client.call(DESCRIBE_TRANSACTIONS, 0, dict(transactional_ids=["tx"])).transaction_states[0]
    assert (state.error_code, state.topics) == (0, ())  # t is not shown without DESCRIBE on it
    node.acl.grant(A.DESCRIBE, R.TOPIC, "t")
    state = node.client.call(DESCRIBE_TRANSACTIONS, 0, dict(transactional_ids=["tx"])).transaction_states[0]
    assert [(t.topic, t.partitions) for t in state.topics] == [("t", (0,))]
    listed = node.client.call(LIST_TRANSACTIONS, 1, dict(duration_filter=-1)).transaction_states
    assert [s.transactional_id for s in listed] == ["tx"]


def test_a_refusal_is_logged_once_as_an_audit_line(node, caplog):
    with caplog.at_level(logging.INFO, logger="kwire.authorizer"):
        node.client.call(FETCH, 12, rq.fetch("t", 0, 0))
    lines = [r.getMessage() for r in caplog.records if r.name == "kwire.authorizer"]
    assert len(lines) == 1 and "User:alice" in lines[0] and "READ" in lines[0] and "TOPIC:t" in lines[0]


def test_unknown_but_described_topics_and_groups_carry_the_principals_operations(node):
    node.acl.grant(A.DESCRIBE, R.TOPIC, "missing")
    body = rq.metadata("missing", auto=False)
    body.update(include_topic_authorized_operations=True)
    topic = node.client.call(METADATA, 12, body).topics[0]
    assert (topic.error_code, topic.topic_authorized_operations) == (
        ErrorCode.unknown_topic_or_partition,
        1 << A.DESCRIBE,
    )
    node.acl.grant(A.DESCRIBE, R.GROUP, "nobody")
    group = node.client.call(DESCRIBE_GROUPS, 5, dict(groups=["nobody"], include_authorized_operations=True)).groups[0]
    assert (group.error_code, group.group_state, group.authorized_operations) == (0, "Dead", 1 << A.DESCRIBE)
