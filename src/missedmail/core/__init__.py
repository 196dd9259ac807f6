"""The host application's data that emails are made of: realms, users, channels, groups,
messages and per-user flags. Written by the HTTP API, read by the composer."""
