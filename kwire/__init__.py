"""kwire: a Kafka wire-protocol-compatible broker for CI and local development."""

__version__ = "0.1.0"
