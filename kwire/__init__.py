"""kwire: a Kafka wire-protocol-compatible broker for CI and local development."""

from kwire import _kio_without_hypothesis  # noqa: F401  (before anything imports kio)

__version__ = "0.1.0"
