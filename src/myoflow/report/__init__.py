"""Self-contained HTML reports from run directories (no training code imported)."""
from .html import build_index, build_report

__all__ = ["build_report", "build_index"]
