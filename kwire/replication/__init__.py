"""Replication logic, sans-IO: the leader's view of a partition (ISR, high
watermark, `acks=all` completion) and the follower's truncation by leader
epoch. Nothing here does I/O or keeps time of its own; the node that will
use it (issue 13) passes in the clock and the log's offsets. See each
module's docstring for how it is meant to be driven.
"""
