"""A dataset read back from disk holds its corpus once: chunk texts are cut from the documents'
own strings (a whole-document chunk *is* the document's string), equal to what was stored; a
dataset whose stored chunk texts are not those cuts keeps the stored texts. Real files, real
chunking."""

import json

import pandas as pd

from embedlab.chunking import Chunk, Chunking, corpus_key
from embedlab.documents import Document
from embedlab.workspace import Workspace

LONG = " ".join(f"word{i} ünïcode" for i in range(60))  # several windows of 16 tokens


def docs():
    return [Document("a", "", "A short untitled abstract about bone density."),
            Document("b", "A title", "Its text, one chunk with the title in front."),
            Document("c", "", LONG),
            Document("d", "Title of a long one", LONG + " and more"),
            Document("e", "", "  padded text  ", {"language": "en"})]


def as_rows(ds):
    return ([(d.id, d.title, d.text, d.meta) for d in ds.documents],
            [(c.doc_id, c.ordinal, c.start, c.end, c.text) for c in ds.chunks])


def test_a_reloaded_dataset_equals_the_stored_one_and_holds_each_text_once(tmp_path):
    for chunking in (Chunking(0, 0), Chunking(16, 4)):
        written = Workspace(tmp_path / str(chunking.size)).add_dataset(docs(), chunking, name="t")
        assert len(written.chunks) > len(written.documents) or chunking.size == 0
        read = Workspace(tmp_path / str(chunking.size)).load_dataset(written.key)  # a new process's view
        assert as_rows(read) == as_rows(written)
        assert read.corpus_key == written.corpus_key and read.chunking == chunking
        by_id = {d.id: d for d in read.documents}
        whole = [c for c in read.chunks if c.start == 0 and c.end == len(by_id[c.doc_id].full_text)]
        shared = [c for c in whole if by_id[c.doc_id].full_text == by_id[c.doc_id].text]
        assert {c.doc_id for c in shared} >= {"a"}  # untitled, unpadded, one chunk
        assert all(c.text is by_id[c.doc_id].text for c in shared)


def test_stored_chunk_texts_that_are_not_cuts_of_the_documents_are_kept(tmp_path):
    """A workspace written when a document's full text was put together differently: its chunk
    texts (and so its corpus key and vector collections) are what was stored, whatever the cut says."""
    ws = Workspace(tmp_path)
    ds = ws.add_dataset(docs(), Chunking(0, 0), name="t")
    folder = tmp_path / "datasets" / ds.key
    older = [Chunk(c.doc_id, c.ordinal, c.start, c.end, c.text.replace(" ", "\n", 1)) for c in ds.chunks]
    pd.DataFrame([c.__dict__ for c in older]).to_parquet(folder / "chunks.parquet")
    meta = json.loads((folder / "dataset.json").read_text())
    meta["corpus_key"] = corpus_key(older, Chunking(0, 0))
    (folder / "dataset.json").write_text(json.dumps(meta))
    read = Workspace(tmp_path).load_dataset(ds.key)
    assert [c.text for c in read.chunks] == [c.text for c in older] != [c.text for c in ds.chunks]
    assert read.corpus_key == meta["corpus_key"]


def test_an_empty_dataset_reads_back_empty(tmp_path):
    ds = Workspace(tmp_path).add_dataset([Document("x", "", "   ")], Chunking(0, 0), name="empty")
    read = Workspace(tmp_path).load_dataset(ds.key)
    assert read.chunks == [] and [d.id for d in read.documents] == ["x"]


def test_pca_preview_is_exact_pca_without_a_copy_of_the_vectors():
    import tracemalloc

    import numpy as np
    from sklearn.decomposition import PCA

    from embedlab.projection import pca_preview

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(20_000, 384)) * np.linspace(3, 0.1, 384)).astype(np.float32)  # 29 MB
    x.setflags(write=False)  # the store's held matrix is shared with search
    tracemalloc.start()
    y = pca_preview(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * 2**20  # blocks of rows, never a centred 20k × 384 copy (29 MB)
    ref = PCA(2, svd_solver="full").fit_transform(x.astype(np.float64))
    assert y.dtype == np.float32 and np.allclose(y, ref, atol=1e-4)  # same signs as sklearn's svd_flip
