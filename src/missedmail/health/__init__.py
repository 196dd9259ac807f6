"""Liveness of worker processes (heartbeats) and the readiness checks built on them."""
