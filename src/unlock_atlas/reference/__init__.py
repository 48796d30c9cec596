"""Reference genome, coordinates, transcript models and panel targets (shared core)."""
