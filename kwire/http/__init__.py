"""kwire's HTTP side (`--http-port`): a small h11 server on trio and the
routes it serves (/metrics, /healthz, /readyz, the web console)."""
