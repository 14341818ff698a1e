"""A request that cannot be decoded closes its own connection
(ProtocolViolation), whatever the decoder raised, and never the process."""

import subprocess
import sys
import textwrap

import pytest

from kwire.core import ProtocolViolation
from tests.core_client import make_core
from tests.wire import request_frame

# FindCoordinator v4 whose key array declares ~1.4 * 10^10 entries (issue 9).
ISSUE_FRAME = "000a00040000019b000466757a7a00bf9ab1f2da322854f68c022334b6a88a18d9"


def test_the_frame_from_the_issue_is_a_protocol_violation_not_an_abort():
    # In a child process: before the bounds pass this frame aborted the
    # interpreter (SIGABRT from kio's allocator), which would end the test run.
    script = textwrap.dedent(f"""
        from kwire.core import ProtocolViolation
        from tests.core_client import make_core
        core = make_core()
        try:
            core.handle_frame(bytes.fromhex("{ISSUE_FRAME}"))
        except ProtocolViolation as exc:
            print("violation:", exc)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr[-2000:]
    assert "violation:" in child.stdout and "coordinator_keys" in child.stdout


class PanicException(BaseException):
    """What pyo3 raises for a Rust panic: a BaseException, not an Exception."""


@pytest.fixture
def core():
    core = make_core()
    yield core
    core.close()


def with_decoder(core, api_key: int, raised: BaseException):
    spec = core.registry.unregister(api_key)

    def decoder(frame, body_offset, version):
        raise raised

    core.registry.register(api_key, spec.min_version, spec.max_version, spec.handler, decoder, spec.advertised_min)


def test_a_panic_in_a_decoder_closes_only_that_connection(core):
    with_decoder(core, 3, PanicException("index out of bounds"))
    with pytest.raises(ProtocolViolation, match="PanicException"):
        core.handle_frame(
            request_frame(
                3, 12, dict(topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)
            )[4:]
        )


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_interrupts_are_not_taken_for_malformed_requests(core, interrupt):
    with_decoder(core, 3, interrupt())
    with pytest.raises(interrupt):
        core.handle_frame(
            request_frame(
                3, 12, dict(topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)
            )[4:]
        )
