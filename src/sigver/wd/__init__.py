"""Writer-dependent protocol: one SVM per user (SPEC section 7)."""
