from .base import Embedder, EmbedderError, similarity
from .registry import UnknownEmbedderError, borrowed, canonical_id, fitted, fresh, get_embedder, list_models

__all__ = ["Embedder", "EmbedderError", "UnknownEmbedderError", "borrowed", "canonical_id", "fitted", "fresh",
           "get_embedder", "list_models", "similarity"]
