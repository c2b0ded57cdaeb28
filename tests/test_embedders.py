"""Every bundled model loads offline, embeds, counts its own tokens, and means something."""

import numpy as np
import pytest

from embedlab.embedders import UnknownEmbedderError, canonical_id, get_embedder, list_models, similarity

BUNDLED = [s.id for s in list_models()]
NON_FITTED = [m for m in BUNDLED if m != "bm25"]
DOCS = ["A man is playing a guitar on stage.", "The stock market fell sharply on Monday.",
        "Protein intake supports muscle growth in older adults."]


@pytest.fixture(scope="module", params=BUNDLED)
def embedder(request):
    emb = get_embedder(request.param)
    if emb.needs_fit:
        from embedlab.embedders import fitted

        emb = fitted(request.param, DOCS + ["Guitar lessons for beginners.", "Markets and stocks."])
    return emb


def test_shapes_and_normalisation(embedder):
    d = embedder.encode_documents(DOCS)
    q = embedder.encode_queries(["someone plays the guitar"])
    assert d.shape[0] == 3 and q.shape[0] == 1
    if embedder.sparse:
        assert d.min() >= 0 and d.nnz > 0
    else:
        assert d.shape[1] == embedder.dim
        np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, rtol=1e-5)


def test_relevant_document_ranks_first(embedder):
    scores = similarity(embedder.encode_queries(["someone plays the guitar"]), embedder.encode_documents(DOCS))[0]
    assert int(np.argmax(scores)) == 0, (embedder.id, scores)


def test_token_counts_use_the_models_own_tokenizer(embedder):
    short, long = embedder.count_tokens(["hello", "hello " * 3000])
    assert 1 <= short < 10
    assert long > short
    assert embedder.tokenizer_name
    if embedder.id not in ("bm25", "glove-50d"):  # no context window for these
        assert long > embedder.max_tokens


def test_same_text_same_vector(embedder):
    a = embedder.encode_documents(DOCS[:1])
    b = embedder.encode_documents(DOCS[:1])
    a, b = (a.toarray(), b.toarray()) if embedder.sparse else (a, b)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_e5_uses_query_and_passage_roles():
    e5 = get_embedder("e5-small")
    q, p = e5.encode_queries(["protein"]), e5.encode_documents(["protein"])
    assert float(q[0] @ p[0]) < 0.999  # different prefixes → different vectors
    assert e5.settings()["roles"] == "query:/passage:"


def test_models_are_loaded_once_per_process():
    assert get_embedder("minilm") is get_embedder("all-MiniLM-L6-v2")


def test_unknown_id_lists_valid_choices():
    with pytest.raises(UnknownEmbedderError, match="known: minilm, e5-small"):
        canonical_id("minilmx")
    assert canonical_id("st:BAAI/bge-small-en-v1.5") == "st:BAAI/bge-small-en-v1.5"


def test_st_prefix_loads_a_local_directory():
    from embedlab.embedders.sentence_transformers import minilm_path

    emb = get_embedder("st:" + minilm_path())
    np.testing.assert_allclose(emb.encode_documents(DOCS), get_embedder("minilm").encode_documents(DOCS), atol=1e-5)


def test_st_unreachable_hub_id_is_a_clear_error():
    from embedlab.embedders import EmbedderError

    with pytest.raises(EmbedderError, match="could not load sentence-transformers model 'no-such-org/no-such"):
        get_embedder("st:no-such-org/no-such-model-xyz")


@pytest.mark.parametrize("onnx_id, floor", [("minilm-onnx", 0.9999), ("minilm-onnx-int8", 0.98)])
def test_minilm_onnx_agrees_with_pytorch_on_real_abstracts(onnx_id, floor):
    """The exported graph gives PyTorch's vectors (fp32) or close to them (int8) on whole
    abstracts (truncated at 256 tokens, padded in mixed-length batches), not just on short lines."""
    import json
    from pathlib import Path

    corpus = Path(__file__).resolve().parent.parent / "sample_data" / "scifact-mini" / "corpus.jsonl"
    rows = [json.loads(line) for line in corpus.read_text().splitlines()[:24]]
    texts = [f"{r['title']} {r['text']}" for r in rows] + DOCS
    ref = get_embedder("minilm").encode_documents(texts)
    onnx = get_embedder(onnx_id)
    cos = (onnx.encode_documents(texts) * ref).sum(axis=1)
    assert cos.min() >= floor, (onnx_id, cos.min(), cos.mean())
    q = (onnx.encode_queries(["protein intake"]) * get_embedder("minilm").encode_queries(["protein intake"])).sum()
    assert q >= floor
    assert onnx.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_minilm_onnx_int8_build_follows_its_recipe(tmp_path):
    """The int8 file is named by its recipe (an older quantization in a workspace is not reused),
    keeps the embedding tables and the two sensitive FFN-out MatMuls in fp32, quantizes every other
    MatMul and the fused attention, and is rebuilt byte for byte from the same fp32 export."""
    import onnx

    from embedlab.embedders import onnx_export

    path = onnx_export.model_file(int8=True)
    assert path.name == f"all-MiniLM-L6-v2.{onnx_export.INT8_RECIPE}.onnx"
    assert get_embedder("minilm-onnx-int8").settings()["onnx"] == path.name
    nodes = onnx.load(str(path), load_external_data=False).graph.node
    ops = [n.op_type for n in nodes]
    assert ops.count("EmbedLayerNormalization") == 1 and "QEmbedLayerNormalization" not in ops
    assert ops.count("QAttention") == 6 and "Attention" not in ops
    fp32 = {n.name for n in nodes if n.op_type == "MatMul"}
    assert fp32 == set(onnx_export.FP32_MATMULS) == {f"/model/encoder/layer.{i}/output/dense/MatMul" for i in (0, 2)}
    assert ops.count("MatMulInteger") == 18 - len(fp32)
    again = tmp_path / "again.onnx"
    onnx_export._quantize(onnx_export.model_file(), again)
    assert again.read_bytes() == path.read_bytes()


def test_int8_recipe_refuses_a_graph_without_its_fp32_nodes(tmp_path):
    """An export whose node names changed must fail loudly rather than quantize the kept-fp32 MatMuls."""
    import onnx
    from onnx import TensorProto, helper

    from embedlab.embedders import EmbedderError, onnx_export

    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [1.0, 0.0, 0.0, 1.0])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="other/MatMul")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w])
    src = tmp_path / "src.onnx"
    onnx.save(helper.make_model(graph), str(src))
    with pytest.raises(EmbedderError, match="no such nodes"):
        onnx_export._quantize(src, tmp_path / "dst.onnx")
    assert not (tmp_path / "dst.onnx").exists()
