"""kwire: a Kafka wire-protocol-compatible broker for CI and local development."""

from kwire import _kio_without_hypothesis  # noqa: F401  (before anything imports kio)

# isort: split
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kwire.broker import Broker
    from kwire.cluster_api import Cluster

__version__ = "0.1.0"
__all__ = ["Broker", "Cluster", "__version__"]


def __getattr__(name: str) -> Any:
    """`kwire.Broker` and `kwire.Cluster` are imported on first use: `import kwire` stays cheap (no trio, no server)."""
    if name == "Broker":
        from kwire.broker import Broker

        return Broker
    if name == "Cluster":
        from kwire.cluster_api import Cluster

        return Cluster
    raise AttributeError(f"module 'kwire' has no attribute {name!r}")
