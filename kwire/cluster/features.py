"""Kafka's feature flags (KIP-584) as this node reports them.

ApiVersions v3+ lists, per feature, the levels the software supports and
the level finalized for the cluster; UpdateFeatures may move a finalized
level within the supported range. kwire's behaviour is fixed, so each
supported range is the single level kwire implements, derived where it can
be from the APIs the node serves (one source of truth):

- metadata.version 25 (4.0-IV3): the Kafka release whose API ranges kwire
  advertises;
- group.version 1 (KIP-848 consumer groups) only when ConsumerGroupHeartbeat
  is served, else 0;
- transaction.version 2 (KIP-890 part 2) only when EndTxn v5+ is served, else
  0 (TV1 changes only Kafka's internal transaction-log records).

A level of 0 is not listed as finalized (as Kafka: absent means 0).
Features Kafka has but kwire has no use for (kraft.version: there is no
KRaft quorum; eligible.leader.replicas.version: one replica) are left out.
"""

from __future__ import annotations

import attrs

from kwire.protocol.api_keys import ApiKey
from kwire.protocol.registry import ApiRegistry

METADATA_VERSION = "metadata.version"
GROUP_VERSION = "group.version"
TRANSACTION_VERSION = "transaction.version"
METADATA_VERSION_4_0_IV3 = 25
# Nothing ever changes a finalized level: the epoch of the last change is 0.
FINALIZED_FEATURES_EPOCH = 0


@attrs.frozen
class Feature:
    name: str
    min_level: int  # supported range
    max_level: int
    finalized: int  # the cluster's level (here always max_level)


def features(registry: ApiRegistry) -> list[Feature]:
    """The features this node reports, sorted by name."""
    group = 1 if registry.max_version(ApiKey.CONSUMER_GROUP_HEARTBEAT) is not None else 0
    end_txn = registry.max_version(ApiKey.END_TXN)
    transaction = 2 if end_txn is not None and end_txn >= 5 else 0
    found = [
        Feature(METADATA_VERSION, METADATA_VERSION_4_0_IV3, METADATA_VERSION_4_0_IV3, METADATA_VERSION_4_0_IV3),
        Feature(GROUP_VERSION, group, group, group),
        Feature(TRANSACTION_VERSION, transaction, transaction, transaction),
    ]
    return sorted(found, key=lambda feature: feature.name)


def feature_named(registry: ApiRegistry, name: str) -> Feature:
    """A feature by name; an unknown one supports only level 0 (as Kafka)."""
    for feature in features(registry):
        if feature.name == name:
            return feature
    return Feature(name, 0, 0, 0)
