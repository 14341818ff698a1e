"""On a node of a multi-node cluster: where a share-partition's leader
writes and reads its state, the leader of the `__share_group_state`
partition (in Kafka, the share coordinator it sends Write- and
ReadShareGroupState), reached in this process as a peer node."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kwire.coordinator.offsets import OFFSETS_TOPIC
from kwire.coordinator.share.share_service import StateLogAccess
from kwire.coordinator.share.share_state_log import SHARE_STATE_TOPIC
from kwire.log.partition_log import PartitionLog
from kwire.protocol.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from kwire.broker_state import BrokerState
    from kwire.cluster.cluster import Partition


def state_log_access(state: BrokerState) -> StateLogAccess:
    def access(index: int) -> tuple[PartitionLog, Callable[[], None]]:
        """Partition `index` at its leader (the topic created if need be),
        and the leader's notify for after an append; KafkaError (or
        StorageError) while it has no reachable leader."""
        topic = state.cluster.internal_topic(SHARE_STATE_TOPIC)
        leader_id = topic.partitions[index].leader
        leader = state.peers(leader_id) if state.peers is not None and leader_id >= 0 else None
        if leader_id == state.config.node_id:
            leader = state
        if leader is None or not leader.cluster.leads(SHARE_STATE_TOPIC, index):
            raise KafkaError(ErrorCode.not_leader_or_follower, f"{SHARE_STATE_TOPIC}-{index} has no leader here")
        led = leader.cluster.topics[SHARE_STATE_TOPIC].partitions[index]
        return led.log, lambda: leader.notify((SHARE_STATE_TOPIC, index))

    return access


def leadership_listener(state: BrokerState) -> Callable[[Partition, bool], None]:
    """For ReplicaManager.on_role_change: a user partition's leadership
    arriving or leaving moves its share-partitions; a partition of
    __consumer_offsets leaving takes the share groups it coordinated (called
    after the groups service has let that partition go)."""

    def moved(partition: Partition, leads: bool) -> None:
        if not partition.topic_name.startswith("__"):
            state.share_groups.leadership_moved(partition.topic_name, partition.index)
        elif partition.topic_name == OFFSETS_TOPIC and not leads:
            state.share_groups.forget_groups_not_coordinated(state.groups.owns)

    return moved
