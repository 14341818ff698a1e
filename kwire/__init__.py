"""kwire: a Kafka wire-protocol-compatible broker for CI and local development."""

from kwire import _kio_without_hypothesis  # noqa: F401  (before anything imports kio)

# isort: split
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kwire.broker import Broker

__version__ = "0.1.0"
__all__ = ["Broker", "__version__"]


def __getattr__(name: str) -> Any:
    """`kwire.Broker` is imported on first use: `import kwire` stays cheap (no trio, no server)."""
    if name == "Broker":
        from kwire.broker import Broker

        return Broker
    raise AttributeError(f"module 'kwire' has no attribute {name!r}")
