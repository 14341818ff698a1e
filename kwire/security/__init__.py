"""Who a client is and what it may do: listeners' security protocols, TLS,
SASL authentication, SCRAM credentials and ACL authorization.

The pure pieces live here (sans-IO): mechanisms, credentials, ACL matching.
kwire/server/ wraps connections in TLS and drives the SASL exchange;
handlers ask `RequestContext.allowed` before they act.
"""

ANONYMOUS = "User:ANONYMOUS"  # the principal of a PLAINTEXT connection (and SSL without a client certificate)
