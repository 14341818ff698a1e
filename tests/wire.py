"""Encode requests and decode responses with kio, for tests that speak the
raw protocol to a broker (the same helpers the CLI uses)."""

from kwire.admin.wire_client import decode_response, request_frame

__all__ = ["decode_response", "request_frame"]
