"""Start-up steps in the order that keeps a failed start harmless: the
settings are checked first (kwire/config.py), then the data directory is
looked at without creating anything, then the listening socket is bound,
and only then is the data opened. Each failure is a StartupError whose text
is one line naming the setting, address or path at fault."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import trio

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.cluster.controller import Controller
from kwire.config import BrokerConfig
from kwire.core import BrokerCore
from kwire.errors import StartupError
from kwire.server.listener import BoundListener, open_listeners

log = logging.getLogger(__name__)

# What to ask for when the hard limit is "unlimited" (Linux's default nr_open).
_UNLIMITED_FALLBACK = 1024 * 1024


def raise_open_files_limit() -> None:
    """Lift the soft RLIMIT_NOFILE to the hard limit: every partition, segment
    and connection needs a descriptor, and the usual soft limit (1024) is far
    below what a broker needs (Kafka's own guidance is 100,000 or more)."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else _UNLIMITED_FALLBACK
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:
            log.debug("could not raise the open files limit from %s to %s: %s", soft, wanted, exc)
    log.debug("open files limit: %s (hard limit %s)", soft, "unlimited" if hard == resource.RLIM_INFINITY else hard)


def check_data_dir(path: Path) -> None:
    """The data directory must be a writable directory, or creatable; nothing is created here."""
    if path.exists():
        if not path.is_dir():
            raise StartupError(f"data directory {path} is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise StartupError(f"data directory {path} is not writable")
        return
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise StartupError(f"cannot create data directory {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise StartupError(f"cannot create data directory {path}: {ancestor} is not writable")


async def bind(config: BrokerConfig) -> list[BoundListener]:
    try:
        return await open_listeners(config)
    except OSError as exc:  # includes an unresolvable host (socket.gaierror)
        reason = exc.strerror or str(exc)
        spec = getattr(exc, "listener", None)
        where = address(config.host, config.port) if spec is None else address(spec.host, spec.port)
        named = f" (listener {spec.name})" if spec is not None and len(config.listeners()) > 1 else ""
        raise StartupError(f"cannot listen on {where}{named}: {reason}") from exc


async def bind_http(host: str, port: int) -> list[trio.SocketListener]:
    """The HTTP port (--http-port), bound with the Kafka listeners: a busy port stops start-up in one line."""
    from kwire.http.server import bind_http as bind

    try:
        return await bind(host, port)
    except OSError as exc:
        raise StartupError(f"cannot listen on {address(host, port)} (--http-port): {exc.strerror or exc}") from exc


def open_data(config: BrokerConfig, clock: Clock = SYSTEM_CLOCK, controller: Controller | None = None) -> BrokerCore:
    """The broker core over the data directory; an OSError becomes one line naming the path."""
    try:
        return BrokerCore(config, clock, controller)
    except OSError as exc:
        path = exc.filename if exc.filename is not None else config.data_dir
        reason = exc.strerror or str(exc)
        raise StartupError(f"cannot open {path}: {reason} (data directory {config.data_dir})") from exc


def address(host: str, port: int) -> str:
    """HOST:PORT, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
