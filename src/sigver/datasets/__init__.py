"""Dataset readers (folder layouts of the public signature datasets) and the dataset store."""
