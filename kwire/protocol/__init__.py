"""Sans-IO Kafka protocol: framing, headers, the API registry, records."""
