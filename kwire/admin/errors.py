"""The command line's one failure type."""

from __future__ import annotations


class ClusterError(Exception):
    """A failure to print as one line (the command exits 1)."""
