"""What the writer-dependent and writer-independent protocols share: user splits,
random draws, per-user test sets, kernels, results files, tables and plots."""
