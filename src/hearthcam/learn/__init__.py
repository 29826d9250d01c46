"""Learning from feedback: the model registry and its lineage (``registry``)."""
