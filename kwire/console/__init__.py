"""The web console on the HTTP port (--http-port): server-rendered pages of
the cluster, topics, consumer groups, transactions and a message browser.
Imported only when the HTTP port is on."""

from kwire.console.app import Console, add_routes

__all__ = ["Console", "add_routes"]
