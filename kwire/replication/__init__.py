"""Replication, as Kafka's ReplicaManager, Partition and fetcher thread do
it. Sans-IO: the leader's view of a partition (leader_state: ISR, high
watermark, `acks=all` completion), the follower's truncation by leader
epoch (follower_truncation), the countable metrics (counters), and a node's
replica manager driving them on its logs (replica_manager). The trio tasks
that call it are in kwire/server/cluster_runtime.py.
"""
