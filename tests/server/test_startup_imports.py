"""What `kwire serve` does not import before it needs it (start-up time):
the compression codecs, the crc32c package (its import reads package
metadata), the log cleaner, tracemalloc, and the request handlers (each is
imported by the first request for one of its APIs). Structural, never
timed."""

import subprocess
import sys

HANDLERS = (
    "kwire.handlers.produce",
    "kwire.handlers.metadata",
    "kwire.handlers.configs",
    "kwire.handlers.transactions",
)
LAZY = (
    "zstandard",
    "lz4",
    "lz4.frame",
    "cramjam",
    "crc32c",
    "kwire.log.cleaner",
    "tracemalloc",
    "prometheus_client",
    *HANDLERS,
)


def _loaded_after(code: str) -> list[str]:
    probe = (
        "import sys; from kwire import cli; cli.build_parser(with_admin_commands=False); "
        f"import kwire.server.process; {code}; "
        f"print(' '.join(m for m in {LAZY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.split()


def test_serve_imports_none_of_them_up_to_a_node_ready_to_answer():
    code = (
        "from kwire.config import BrokerConfig; from kwire.core import BrokerCore; "
        "BrokerCore(BrokerConfig(port=0, data_dir=None))"
    )
    assert _loaded_after(code) == []


def test_the_first_checksum_imports_crc32c_and_then_is_the_c_function():
    code = (
        "from kwire.protocol import records; import crc32c as c; "
        "assert records.crc32c(b'123456789') == 0xE3069283; assert records.crc32c is c.crc32c"
    )
    assert _loaded_after(code) == ["crc32c"]


def test_a_request_imports_only_its_handler():
    code = (
        "from kwire.config import BrokerConfig; from kwire.core import BrokerCore; "
        "from tests.core_client import CoreClient; "
        "CoreClient(BrokerCore(BrokerConfig(port=0, data_dir=None))).call(3, 12, dict(topics=None, "
        "allow_auto_topic_creation=False, include_cluster_authorized_operations=False, "
        "include_topic_authorized_operations=False))"
    )
    assert _loaded_after(code) == ["kwire.handlers.metadata"]
