"""Synthetic data: drawn signature scans and feature sets for tests and benchmarks."""
