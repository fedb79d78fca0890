"""Applying a trained pipeline to new recordings (``check-placement``, ``predict``): application code, above the library layers."""
