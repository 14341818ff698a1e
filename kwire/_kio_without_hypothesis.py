"""Import kio without hypothesis.

kio imports `hypothesis.strategies` whenever hypothesis is installed (it is
one of our test extras), which adds ~250 ms and several MB to the start of
`kwire serve` and of every command for nothing. When hypothesis is not
already loaded, hide it while kio loads; kio then takes its no-hypothesis
path. The package's __init__ imports this first, so it runs before any
module of kwire imports kio, whatever the import order inside a module.

Not inside pytest: kwire's pytest plugin (entry point pytest11) imports
kwire while pytest starts, before any test module has imported hypothesis,
and test suites (kwire's own) draw kio's entities with hypothesis
strategies, which kio registers only when it loads with hypothesis. There
kio is left to load as it would, when something first imports it.
"""

import sys

if "hypothesis" not in sys.modules and "kio" not in sys.modules and "_pytest" not in sys.modules:
    sys.modules["hypothesis"] = None  # type: ignore[assignment]
    try:
        import kio.static.primitive  # noqa: F401
    finally:
        del sys.modules["hypothesis"]
