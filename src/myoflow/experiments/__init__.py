"""Experiments: typed configs per paper protocol, the fold runner, reproduce."""
from .base import Fold, FoldResult, Headline, Pipeline
from .registry import PIPELINES, get_pipeline, load_config

__all__ = ["Fold", "FoldResult", "Headline", "Pipeline", "PIPELINES", "get_pipeline", "load_config"]
