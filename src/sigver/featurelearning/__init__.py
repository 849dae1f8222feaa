"""Feature learning: SigNet models and files, training (SigNet / SigNet-F, triplet,
NT-Xent, multi-task) and feature extraction."""
