"""Fault injection for tests of clients' retries: `--exit-after-produce N`
ends the process like a kill after the Nth produce request was written;
`--drop-produce-responses N` answers every Nth by closing the connection."""

from __future__ import annotations

import logging
import os

from kwire.config import BrokerConfig

log = logging.getLogger("kwire.core")

EXIT_AFTER_PRODUCE_CODE = 17


class ProduceFaults:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self._produce_requests = 0

    def should_drop_response(self) -> bool:
        """Called once per produce request, after its batches were written."""
        self._produce_requests += 1
        if self._produce_requests == self.config.exit_after_produce:
            log.warning("exiting after produce request %d (--exit-after-produce)", self._produce_requests)
            os._exit(EXIT_AFTER_PRODUCE_CODE)
        every = self.config.drop_produce_responses_every
        return every > 0 and self._produce_requests % every == 0
