"""Seeing inside the broker: request events, metrics, health, the request log."""
