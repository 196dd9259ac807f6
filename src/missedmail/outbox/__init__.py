"""The durable outbox: one row per composed email, its delivery state and attempts, the
transports (SMTP, .eml files, in-memory) and the sender that drives them."""
