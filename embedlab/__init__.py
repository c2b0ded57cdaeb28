"""EmbedLab: compare embedding models on your own documents."""

__version__ = "0.1.0"
