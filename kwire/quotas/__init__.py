"""Client quotas, as Kafka has them (sans-IO).

`rate` measures a rate over Kafka's sampled windows and computes throttle
times; `entities` validates quota entities and keys, matches
DescribeClientQuotas filters and resolves which entity's quota applies to a
client; `manager` keeps the quotas (persisted through a callback into the
metadata log) and the per-client rate sensors that enforce them.
"""
