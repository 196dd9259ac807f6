"""Composition: a user's due notifications → one email draft per conversation (behaviour §4)."""
