"""Scheduled notifications: ingesting events (the timestamp rule), claiming due rows,
and the records of what was rejected or skipped."""
