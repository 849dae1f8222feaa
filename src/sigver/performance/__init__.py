"""Verification metrics (FRR, FAR, EER with global and per-user thresholds, AUC)."""
