"""Accept connections and hand each to its own task."""

from __future__ import annotations

import functools
import logging

import trio

from kwire.core import BrokerCore
from kwire.server.cleaner_task import clean_forever
from kwire.server.connection import serve_connection

log = logging.getLogger(__name__)


async def serve(core: BrokerCore, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Listen on the configured host/port; report the bound port as started."""
    config = core.config
    listeners = await trio.open_tcp_listeners(config.port, host=config.host)
    bound_port = listeners[0].socket.getsockname()[1]
    core.set_bound_port(bound_port)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_tick_forever, core)
        nursery.start_soon(clean_forever, core)
        task_status.started(bound_port)
        await trio.serve_listeners(functools.partial(serve_connection, core), listeners)


TICK_SECONDS = 0.05


async def _tick_forever(core: BrokerCore) -> None:
    """Drive the core's timers (group sessions and rebalance deadlines)."""
    while True:
        await trio.sleep(TICK_SECONDS)
        try:
            core.tick()
        except Exception:
            log.exception("timer tick failed")
