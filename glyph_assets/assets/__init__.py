"""Thin Dagster asset definitions: I/O, metadata and checks around the pure sieve functions."""
