"""Creating and deleting topics from the console's forms, by the paths the
CreateTopics and DeleteTopics handlers take (Cluster.create_topic,
TopicAdmin.delete; in a cluster both go through the controller), so the
checks, the configs and the errors are Kafka's. Each change is logged at
INFO on `kwire.admin`, as the handlers log theirs."""

from __future__ import annotations

import logging

import attrs

from kwire.broker_state import BrokerState
from kwire.protocol.errors import ErrorCode, KafkaError

log = logging.getLogger("kwire.admin")


@attrs.frozen
class Outcome:
    error: ErrorCode  # ErrorCode.none: done
    message: str

    @property
    def ok(self) -> bool:
        return self.error == ErrorCode.none

    @property
    def error_name(self) -> str:
        return self.error.name.upper()


def create_topic(
    state: BrokerState, name: str, partitions: int, replication_factor: int, configs: dict[str, str | None], who: str
) -> Outcome:
    try:
        record = state.cluster.create_topic(name, partitions, replication_factor, configs)
    except KafkaError as exc:
        outcome = Outcome(ErrorCode(exc.error_code), exc.message or "")
    else:
        outcome = Outcome(ErrorCode.none, f"Created topic {record.name} with {record.partitions} partition(s).")
    log.info("CreateTopics from the web console (%s): %s: %s", who, name, _said(outcome, "created"))
    return outcome


def delete_topic(state: BrokerState, name: str, who: str) -> Outcome:
    topic = state.cluster.get(name)
    if not state.config.delete_topic_enable:
        outcome = Outcome(ErrorCode.topic_deletion_disabled, "Topic deletion is disabled (delete.topic.enable=false).")
    elif topic is None:
        outcome = Outcome(ErrorCode.unknown_topic_or_partition, f"No topic {name}.")
    elif topic.is_internal:
        outcome = Outcome(
            ErrorCode.invalid_topic_exception,
            f"Topic {name} is an internal topic: kwire keeps its coordinators' state there",
        )
    else:
        try:
            state.topic_admin.delete([name])
        except KafkaError as exc:
            outcome = Outcome(ErrorCode(exc.error_code), exc.message or "")
        else:
            outcome = Outcome(ErrorCode.none, f"Deleted topic {name}.")
    log.info("DeleteTopics from the web console (%s): %s: %s", who, name, _said(outcome, "deleted"))
    return outcome


def _said(outcome: Outcome, done: str) -> str:
    return done if outcome.ok else f"{outcome.error_name} ({outcome.message})"
