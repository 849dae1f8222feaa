"""Writer-independent protocol: one dichotomy SVM for everyone (SPEC section 8)."""
