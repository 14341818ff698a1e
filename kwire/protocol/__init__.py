"""Sans-IO Kafka protocol: framing, headers, the API registry, records.

kio imports `hypothesis.strategies` whenever hypothesis is installed (it is
one of our test extras), which adds ~110 ms and several MB to broker
start-up for nothing. When hypothesis is not already loaded, hide it while
kio loads; kio then takes its no-hypothesis path.
"""

import sys as _sys

if "hypothesis" not in _sys.modules and "kio" not in _sys.modules:
    _sys.modules["hypothesis"] = None  # type: ignore[assignment]
    try:
        import kio.static.primitive  # noqa: F401
    finally:
        del _sys.modules["hypothesis"]
