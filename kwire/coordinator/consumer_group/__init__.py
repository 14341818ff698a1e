"""Consumer groups of the KIP-848 protocol (ConsumerGroupHeartbeat): the
broker computes each member's target assignment and hands it over
incrementally, a partition going to its new owner only once the previous
owner has revoked it.

model.py holds the data (members, groups, their states), assignors.py the
server-side assignors (`uniform`, `range`), reconciliation.py the step that
moves one member towards its target, coordinator.py the heartbeat and the
timers. All sans-IO: time is passed in, the topics are asked of a callback.
"""
