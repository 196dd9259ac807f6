"""The composition root: builds the consumer, batcher, sender and heartbeat threads from the
settings and runs them until told to stop."""
