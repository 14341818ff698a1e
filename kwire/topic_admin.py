"""Deleting topics and adding partitions: what the DeleteTopics and
CreatePartitions handlers call.

A topic's deletion reaches beyond the cluster: the groups' committed
offsets for it go (tombstones in `__consumer_offsets`), open transactions
forget its partitions, and fetches long-polling on it are woken so they
answer at once. The cluster's metadata version moves, so cached
responses go too.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from kwire.cluster.cluster import Cluster, Topic
from kwire.coordinator.groups_service import GroupsService
from kwire.coordinator.transactions_service import TransactionsService


class TopicAdmin:
    def __init__(
        self,
        cluster: Cluster,
        groups: GroupsService,
        transactions: TransactionsService,
        notify: Callable[[Hashable], None],
    ) -> None:
        self.cluster = cluster
        self.groups = groups
        self.transactions = transactions
        self._notify = notify
        # Whoever deleted them (in a multi-node cluster: any node, through the controller).
        cluster.on_topics_deleted.append(self._topics_deleted)

    def delete(self, names: list[str]) -> list[Topic]:
        """Delete existing topics (checked by the caller); raises
        StorageError, with nothing changed, if the metadata log refuses."""
        return self.cluster.delete_topics(names)

    def _topics_deleted(self, topics: list[Topic]) -> None:
        gone = {topic.name for topic in topics}
        self.groups.on_topics_deleted(gone)
        self.transactions.on_topics_deleted(gone)
        for topic in topics:
            for partition in topic.partitions:
                self._notify((topic.name, partition.index))

    def add_partitions(
        self, name: str, count: int, validate_only: bool = False, assignments: list[list[int]] | None = None
    ) -> Topic:
        """Grow a topic to `count` partitions (replicas placed by Kafka's rule
        unless `assignments` names them); raises KafkaError (Kafka's checks)
        or StorageError (nothing changed)."""
        return self.cluster.add_partitions(name, count, validate_only, assignments)
