"""Fault injection at run time (issue 12): a rule table per node
(`BrokerState.faults`), driven from Python, over HTTP (`kwire serve
--control-port`) or with `kwire fault`. See README "Fault injection"."""

from kwire.faults.injector import EXIT_AFTER_PRODUCE_CODE, RESUMED, FaultInjector
from kwire.faults.rules import KINDS, FaultError, Rule

__all__ = ["EXIT_AFTER_PRODUCE_CODE", "KINDS", "RESUMED", "FaultError", "FaultInjector", "Rule"]
