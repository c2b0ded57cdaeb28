"""The bundled all-MiniLM-L6-v2 on onnxruntime: exported from its PyTorch weights once per
workspace, then run by ``OnnxEmbedder`` (mean pooling, L2 normalisation, MiniLM's tokenizer).

Why our own export: sentence-transformers' ``backend="onnx"`` needs ``optimum``, and the model
package ships only PyTorch weights. The graph is exported with dynamic batch and sequence axes,
then fused by onnxruntime's transformer optimizer (attention, LayerNorm, GELU become single
kernels — the fp32 speed-up, same numbers to ~1e-6). ``int8`` quantizes the weights of the
encoder's MatMuls and fused attention dynamically (activations quantized per batch at run time):
the larger speed-up on CPU, at a small cost in agreement with PyTorch (bench/onnx_speed.py).

Files: ``<workspace>/onnx/all-MiniLM-L6-v2.fp32.onnx`` and ``….<INT8_RECIPE>.onnx``; written to a
temporary name and renamed, so a crash or a concurrent export never leaves half a model behind.
The int8 file is named after its recipe, so a workspace holding an older quantization builds the
current one instead of reusing it (and the embedder's settings, which name the file, change too).
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from pathlib import Path

from .base import EmbedderError

NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # MiniLM's max_seq_length in sentence_bert_config.json
OPSET = 14  # what onnxruntime's BERT fusions were written against
INT8_RECIPE = "int8-v2"  # bump when _quantize changes: v2 = embeddings and FFN-out of layers 0, 2 kept fp32
# The FFN output MatMuls of layers 0 and 2 are the most sensitive to int8 activations (GELU outlier
# channels): leaving either one in fp32 raised mean cosine to PyTorch the most of the 6 layers
# (640 SciFact abstracts: 0.9949 → 0.9961 / 0.9958). Both cost 2 of the 24 quantized GEMMs.
FP32_MATMULS = tuple(f"/model/encoder/layer.{i}/output/dense/MatMul" for i in (0, 2))
_lock = threading.Lock()


def cache_dir(workspace: str | Path | None = None) -> Path:
    from ..workspace import default_root

    return Path(workspace or default_root()) / "onnx"


def model_file(int8: bool = False, workspace: str | Path | None = None) -> Path:
    """The exported model, exporting (and quantizing) it first if this workspace has none."""
    folder = cache_dir(workspace)
    fp32 = folder / f"{NAME}.fp32.onnx"
    int8_path = folder / f"{NAME}.{INT8_RECIPE}.onnx"
    with _lock:  # one export per process; os.replace makes a concurrent process harmless
        if not fp32.exists():
            _atomic(fp32, _export_fused)
        if int8 and not int8_path.exists():
            _atomic(int8_path, lambda dst: _quantize(fp32, dst))
    return int8_path if int8 else fp32


def _atomic(dst: Path, write) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".tmp-", suffix=".onnx")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; the export is no secret
        os.replace(tmp, dst)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _export_fused(dst: Path) -> None:
    raw = dst.with_name(dst.stem + ".raw.onnx")
    try:
        _export(raw)
        _fuse(raw, dst)
    finally:
        raw.unlink(missing_ok=True)


def _export(dst: Path) -> None:
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
        import torch
        from transformers import AutoModel
    except ImportError as e:
        raise EmbedderError(f"exporting MiniLM to ONNX needs torch, transformers and onnx: {e}") from e
    from .sentence_transformers import minilm_path

    class TokenEmbeddings(torch.nn.Module):
        """BertModel → last hidden state, fed only what ``OnnxEmbedder`` feeds (token types
        are all zero for single-segment input, as sentence-transformers passes them)."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=torch.zeros_like(input_ids)).last_hidden_state

    # Eager attention: the SDPA graph does not match onnxruntime's attention fusion patterns,
    # and an unfused graph runs no faster than PyTorch (measured: 1.0× vs 1.1× fused).
    model = AutoModel.from_pretrained(minilm_path(), attn_implementation="eager").eval()
    sample = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    axes = {"batch": 0, "seq": 1}
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns that shape checks become constants (they hold for any batch and length)
        # and about opset-9 indexing: neither matters for this graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(TokenEmbeddings(model), sample, str(dst), input_names=["input_ids", "attention_mask"],
                          output_names=["token_embeddings"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={n: {i: a for a, i in axes.items()}
                                        for n in ("input_ids", "attention_mask", "token_embeddings")})


def _fuse(src: Path, dst: Path) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    # MiniLM-L6: 12 heads, hidden 384. opt_level 0 = only the transformer fusions, which keep
    # the graph portable across CPUs (level 1+ would bake in this machine's kernels).
    optimized = optimize_model(str(src), model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
    optimized.save_model_to_file(str(dst))


def _quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weights: per-tensor scales lose far more (mean cosine 0.936 vs 0.995 measured).
    # Only MatMul and Attention: the default also quantizes EmbedLayerNormalization's tables, which
    # costs agreement (top-10 overlap 0.903 → 0.895 on 640 abstracts) and gains no speed.
    # Deterministic: the same fp32 graph gives the same bytes. The fused ops carry no type
    # information, hence the default tensor type (1 = FLOAT).
    missing = set(FP32_MATMULS) - {n.name for n in _load_graph(src).node}
    if missing:  # renamed nodes would silently be quantized after all
        raise EmbedderError(f"int8 recipe {INT8_RECIPE}: no such nodes in {src.name}: {sorted(missing)}")
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=list(FP32_MATMULS),
                     extra_options={"DefaultTensorType": 1})


def _load_graph(path: Path):
    import onnx

    return onnx.load(str(path), load_external_data=False).graph


def minilm_onnx(int8: bool = False, workspace: str | Path | None = None):
    """all-MiniLM-L6-v2 on onnxruntime, fp32 or int8, from this workspace's export."""
    from .onnx import OnnxEmbedder
    from .sentence_transformers import minilm_path

    path = model_file(int8, workspace)
    emb = OnnxEmbedder(str(path), str(Path(minilm_path()) / "tokenizer.json"), max_tokens=MAX_TOKENS)
    emb.description = f"{NAME} on onnxruntime ({'int8' if int8 else 'fp32'})"
    return emb


def minilm_onnx_int8(workspace: str | Path | None = None):
    return minilm_onnx(True, workspace)
