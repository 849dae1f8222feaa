"""Signature image preprocessing (SPEC section 2) and ``process_dataset``."""
