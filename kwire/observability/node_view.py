"""What the HTTP routes (metrics, health, the console) see of a node: its
core, whether it is ready, and the other nodes of its process's cluster."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from kwire.core import BrokerCore


@attrs.define
class NodeView:
    core: BrokerCore
    started_at_ms: int  # wall clock, for uptime
    ports: dict[str, int] = attrs.field(factory=dict)  # listener name -> bound port
    ready: bool = False  # every log loaded and the listeners accept
    stopping: bool = False
    # Every running node of this process's cluster (kwire serve --brokers N), this one
    # included; a lone node has only itself.
    peers: Callable[[], list[BrokerCore]] | None = None
    # Tasks the routes need running beside the HTTP server (the console's lag sampler).
    background: list[Callable[[], Awaitable[None]]] = attrs.field(factory=list)

    def all_nodes(self) -> list[BrokerCore]:
        return [self.core] if self.peers is None else self.peers()
