"""The controller's elections and ISR changes, without nodes: partitions
created through it, brokers registered and fenced by hand."""

import uuid

import pytest

from kwire.cluster.controller import PREFERRED, UNCLEAN, Controller
from kwire.cluster.metadata_log import PartitionState, TopicRecord
from kwire.cluster.topology import BrokerEndpoint
from kwire.config import BrokerConfig
from kwire.protocol.errors import ErrorCode


@pytest.fixture
def controller(tmp_path):
    made = Controller(BrokerConfig(port=0, data_dir=tmp_path))
    for node in (1, 2, 3):
        made.register(BrokerEndpoint(node, "127.0.0.1", 9091 + node))
    yield made
    made.close()


def _topic(controller: Controller, replicas=((1, 2, 3),), configs=None) -> uuid.UUID:
    record = TopicRecord("t", uuid.uuid4(), len(replicas), configs or {}, tuple(replicas))
    controller.create_topic(record)
    return record.topic_id


def _state(controller: Controller, topic_id: uuid.UUID, index: int = 0) -> PartitionState:
    return controller.snapshot.partition_states[(topic_id, index)]


def test_a_new_partition_is_led_by_its_first_live_replica_with_every_live_one_in_sync(controller):
    controller.fence(1)
    topic_id = _topic(controller)
    assert _state(controller, topic_id) == PartitionState(2, 0, (2, 3), 0)


def test_fencing_moves_leadership_in_replica_order_and_never_empties_the_isr(controller):
    topic_id = _topic(controller)
    controller.fence(1)
    assert _state(controller, topic_id) == PartitionState(2, 1, (2, 3), 1)
    controller.fence(3)  # a follower: it leaves the ISR, the leader and its epoch stay
    assert _state(controller, topic_id) == PartitionState(2, 1, (2,), 2)
    controller.fence(2)  # the last in-sync replica: offline, it stays in the ISR
    assert _state(controller, topic_id) == PartitionState(-1, 2, (2,), 3)
    controller.register(BrokerEndpoint(3, "127.0.0.1", 9094))
    assert _state(controller, topic_id).leader == -1  # not in sync: no clean election
    controller.register(BrokerEndpoint(2, "127.0.0.1", 9093))
    assert _state(controller, topic_id) == PartitionState(2, 3, (2,), 4)


def test_unclean_election_by_topic_config(controller):
    topic_id = _topic(controller, configs={"unclean.leader.election.enable": "true"})
    controller.fence(2)
    controller.fence(3)
    controller.fence(1)
    controller.register(BrokerEndpoint(3, "127.0.0.1", 9094))
    assert _state(controller, topic_id) == PartitionState(3, 2, (3,), 4)


def test_elect_leaders_answers_as_kafkas_controller(controller):
    topic_id = _topic(controller)
    key = (topic_id, 0)
    assert controller.elect(key, PREFERRED)[0] == ErrorCode.election_not_needed
    controller.fence(1)
    assert controller.elect(key, PREFERRED)[0] == ErrorCode.preferred_leader_not_available
    controller.register(BrokerEndpoint(1, "127.0.0.1", 9092))
    assert controller.elect(key, PREFERRED)[0] == ErrorCode.preferred_leader_not_available  # not back in the ISR
    assert controller.alter_isr(key, 2, 1, (2, 3, 1)) == ErrorCode.none
    assert controller.elect(key, PREFERRED)[0] == ErrorCode.none
    assert _state(controller, topic_id).leader == 1
    assert controller.elect(key, UNCLEAN)[0] == ErrorCode.election_not_needed  # it has a leader
    assert controller.elect((uuid.uuid4(), 0), PREFERRED)[0] == ErrorCode.unknown_topic_or_partition


def test_an_isr_change_from_a_stale_leader_epoch_is_fenced(controller):
    topic_id = _topic(controller)
    controller.fence(1)
    assert controller.alter_isr((topic_id, 0), 1, 0, (1, 2)) == ErrorCode.fenced_leader_epoch
    assert controller.alter_isr((topic_id, 0), 2, 1, (2, 1)) == ErrorCode.none
    assert _state(controller, topic_id).isr == (2,)  # a fenced broker is never added


def test_the_controllers_metadata_survives_a_restart(tmp_path):
    first = Controller(BrokerConfig(port=0, data_dir=tmp_path))
    for node in (1, 2):
        first.register(BrokerEndpoint(node, "127.0.0.1", 9091 + node))
    record = TopicRecord("t", uuid.uuid4(), 1, {}, ((1, 2),))
    first.create_topic(record)
    first.fence(1)
    states, cluster_id = dict(first.snapshot.partition_states), first.cluster_id
    first.close()
    again = Controller(BrokerConfig(port=0, data_dir=tmp_path))
    try:
        assert (again.snapshot.partition_states, again.cluster_id) == (states, cluster_id)
        assert again.live == {}  # brokers register again when they start
    finally:
        again.close()


def test_a_controlled_shutdown_moves_leadership_while_the_broker_is_still_listed(controller):
    topic_id = _topic(controller)
    solo = TopicRecord("solo", uuid.uuid4(), 1, {}, ((1,),))
    controller.create_topic(solo)
    controller.shut_down(1)
    assert _state(controller, topic_id) == PartitionState(2, 1, (2, 3), 1)
    assert 1 in controller.endpoints() and not controller.eligible(1)
    # Nobody else can lead its lone replica: it keeps it until it is gone.
    assert _state(controller, solo.topic_id).leader == 1
    assert controller.alter_isr((topic_id, 0), 2, 1, (2, 3, 1)) == ErrorCode.none
    assert _state(controller, topic_id).isr == (2, 3)  # not back in while shutting down
    controller.fence(1)
    assert _state(controller, solo.topic_id).leader == -1
    assert 1 not in controller.endpoints()
