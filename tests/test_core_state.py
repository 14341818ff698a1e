"""A node is its state plus the dispatcher: one clock handed to every part,
handlers that see the state (never the core), nodes side by side."""

import subprocess
import sys

from kwire.clock import ManualClock
from kwire.protocol.api_keys import ApiKey
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq


def test_one_clock_reaches_every_part_of_the_node():
    clock = ManualClock()
    core = make_core(clock=clock)
    try:
        state = core.state
        assert core.clock is clock
        assert state.cluster.clock is clock
        assert state.groups.clock is clock
        assert state.transactions.clock is clock
        assert state.maintenance.clock is clock
    finally:
        core.close()


def test_handlers_do_not_import_the_core():
    # The cycle issue 10 removed: handlers/base.py imported core.py.
    script = (
        "import sys, kwire.handlers, kwire.dispatch; kwire.handlers.build_registry(); "
        "print('kwire.core' in sys.modules)"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == "False"


def test_two_nodes_in_one_process_keep_their_own_state():
    first, second = make_core(), make_core()
    try:
        CoreClient(first).call(ApiKey.CREATE_TOPICS, 7, rq.create("only-on-first"))
        assert first.cluster.get("only-on-first") is not None
        assert second.cluster.get("only-on-first") is None
        assert first.state is not second.state
    finally:
        first.close()
        second.close()


def test_transaction_durations_are_read_from_the_nodes_clock():
    clock = ManualClock()
    core = make_core(clock=clock)
    client = CoreClient(core)
    try:
        client.call(ApiKey.CREATE_TOPICS, 7, rq.create("t"))
        init = client.call(
            ApiKey.INIT_PRODUCER_ID,
            4,
            dict(transactional_id="tx", transaction_timeout=600_000, producer_id=-1, producer_epoch=-1),
        )
        added = client.call(
            ApiKey.ADD_PARTITIONS_TO_TXN,
            3,
            dict(
                v3_and_below_transactional_id="tx",
                v3_and_below_producer_id=init.producer_id,
                v3_and_below_producer_epoch=init.producer_epoch,
                v3_and_below_topics=[dict(name="t", partitions=[0])],
            ),
        )
        assert added.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code == 0

        def listed_if_older_than(ms):
            response = client.call(
                ApiKey.LIST_TRANSACTIONS, 1, dict(state_filters=[], producer_id_filters=[], duration_filter=ms)
            )
            return [t.transactional_id for t in response.transaction_states]

        assert listed_if_older_than(60_000) == []
        clock.advance(61)
        assert listed_if_older_than(60_000) == ["tx"]
    finally:
        core.close()
