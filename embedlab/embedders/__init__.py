from .base import Embedder, EmbedderError, similarity
from .registry import UnknownEmbedderError, canonical_id, fitted, fresh, get_embedder, list_models

__all__ = ["Embedder", "EmbedderError", "UnknownEmbedderError", "canonical_id", "fitted", "fresh", "get_embedder",
           "list_models", "similarity"]
