"""InitProducerId for idempotent producers (transactions come later)."""

from __future__ import annotations

from kio.index import load_response_schema

from kwire.handlers.base import RequestContext
from kwire.protocol.errors import ErrorCode
from kwire.protocol.kio_build import build

API_KEY = 22
MIN_VERSION, MAX_VERSION = 0, 6


def handle_init_producer_id(ctx: RequestContext, request):
    if request.transactional_id is not None:
        # Transactions are not implemented yet: say so with Kafka's code for
        # a feature this broker does not support.
        values = dict(error_code=ErrorCode.unsupported_version, producer_id=-1, producer_epoch=-1)
    else:
        # Idempotent producers get a fresh id at epoch 0, also when they
        # re-initialise with their old id (KIP-360), as Kafka does.
        values = dict(error_code=ErrorCode.none, producer_id=ctx.core.producer_ids.allocate(), producer_epoch=0)
    values.update(throttle_time=0, ongoing_txn_producer_id=-1, ongoing_txn_producer_epoch=-1)
    return build(load_response_schema(API_KEY, ctx.api_version), values)
