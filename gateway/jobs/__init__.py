"""Delivery of outbox rows: job registry, retry policy, in-process runner, arq worker, sweeper."""
