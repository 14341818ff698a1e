"""A client over its quota gets its answer at once and then its connection
reads nothing for the throttle time (KIP-219); other connections carry on."""

from __future__ import annotations

import trio

from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import Record, build_batch
from tests.server.test_server_roundtrip import RawClient, produce_values, start_broker

ALTER_CLIENT_QUOTAS, METADATA = 49, 3
METADATA_REQUEST = dict(
    topics=None,
    allow_auto_topic_creation=False,
    include_topic_authorized_operations=False,
    include_cluster_authorized_operations=False,
)


async def test_a_throttled_connection_is_muted_after_its_answer():
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            _core, port = await start_broker(nursery)
            client = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
            other = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
            altered = await client.call(
                ALTER_CLIENT_QUOTAS,
                1,
                dict(
                    entries=[
                        dict(
                            entity=[dict(entity_type="client-id", entity_name="kwire")],
                            ops=[dict(key="producer_byte_rate", value=1000.0, remove=False)],
                        )
                    ],
                    validate_only=False,
                ),
            )
            assert altered.entries[0].error_code == ErrorCode.none
            batch = build_batch(
                [Record(offset_delta=0, timestamp_delta=0, key=None, value=b"v" * 10_930, headers=())],
                base_timestamp=1_000,
            )
            produced = await client.call(0, 9, produce_values("t", 0, batch))
            assert produced.responses[0].partition_responses[0].error_code == ErrorCode.none
            throttle_s = produced.throttle_time.total_seconds()
            assert 0.5 < throttle_s < 3
            sent = trio.current_time()
            client_answer = trio.Event()

            async def ask_muted() -> None:
                await client.call(METADATA, 12, METADATA_REQUEST, correlation_id=2)
                client_answer.set()

            nursery.start_soon(ask_muted)
            # Another connection is answered while the throttled one waits.
            await other.call(METADATA, 12, METADATA_REQUEST)
            assert not client_answer.is_set()
            await client_answer.wait()
            assert trio.current_time() - sent >= throttle_s * 0.9
            nursery.cancel_scope.cancel()


async def test_a_connection_over_the_connection_creation_rate_is_closed_unserved():
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            _core, port = await start_broker(nursery, quota_window_num=2)
            admin = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
            altered = await admin.call(
                ALTER_CLIENT_QUOTAS,
                1,
                dict(
                    entries=[
                        dict(
                            entity=[dict(entity_type="ip", entity_name="127.0.0.1")],
                            ops=[dict(key="connection_creation_rate", value=1.0, remove=False)],
                        )
                    ],
                    validate_only=False,
                ),
            )
            assert altered.entries[0].error_code == ErrorCode.none
            # The admin's own connection came before the quota: one more fits the
            # rate of one a second over the (at least one second) window.
            first = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
            await first.call(METADATA, 12, METADATA_REQUEST)
            throttled = await trio.open_tcp_stream("127.0.0.1", port)
            opened = trio.current_time()
            await throttled.send_all(b"\x00\x00\x00\x05abcde")  # not read, not answered
            try:
                answer = await throttled.receive_some(100)
            except trio.BrokenResourceError:
                answer = b""  # reset: closed with our bytes unread
            assert answer == b""  # closed after the throttle time, never answered
            assert trio.current_time() - opened >= 0.4
            await first.call(METADATA, 12, METADATA_REQUEST)  # the others carry on
            nursery.cancel_scope.cancel()
