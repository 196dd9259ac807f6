"""RabbitMQ: the `missedmessage_emails` consumer, a publisher, and a depth probe.

The only package that imports pika (an import-linter contract keeps it so). It knows
nothing of Django or the database: the consumer hands raw bodies to a callback.
"""
