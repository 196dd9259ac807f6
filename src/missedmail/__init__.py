"""missedmail: missed-message emails for chat servers, batched, punctual and durable."""

__version__ = "0.1.0"
