"""Signature image preprocessing (docs/preprocessing.md) and ``process_dataset``."""
