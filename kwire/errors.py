"""Errors that stop the broker from starting.

`StartupError` carries one line for the user: the setting or path at fault
and what is wrong with it. `kwire serve` prints that line and exits with
status 1, without a traceback.
"""


class StartupError(Exception):
    """The broker cannot start; str(error) names the setting or path and the problem."""
