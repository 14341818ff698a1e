"""Client telemetry (KIP-714): the subscriptions clients are told
(subscriptions.py), the client instances and their push rules
(instances.py), the OTLP metrics they push (otlp.py), kept per client
(store.py) and shown to Prometheus (prometheus.py)."""
