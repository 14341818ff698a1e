"""Run a test file through kwire's pytest plugin in a suite of its own
(pytester), loaded as users load it: by `-p`, with autoloading off."""

from __future__ import annotations

import os
import sys

import pytest


def run_with_the_plugin(pytester: pytest.Pytester) -> pytest.RunResult:
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return pytester.runpytest(
            "-p", "kwire.pytest_plugin", "-W", "ignore::pytest.PytestAssertRewriteWarning", "-p", "no:cacheprovider"
        )
