"""The Map's selection, fields and figures without a browser: ids survive the URL encoding,
fields give one category per chunk, the selection is ringed on every map with exactly its chunk
ids, a filter leaves hidden chunks out of every trace, and events read chunk ids in every shape
Streamlit sends them."""

import numpy as np
import pytest

from app_support import maps
from embedlab import mapdata, neighbours
from embedlab.chunking import Chunk
from embedlab.documents import Document, EvalSet
from embedlab.projection import MapSet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # st.cache_data without a runtime


class DS:
    def __init__(self, docs, eval_set=None):
        self.documents = docs
        self.chunks = [Chunk(d.id, 0, 0, len(d.text), d.text) for d in docs]
        self.eval_set = eval_set


def dataset() -> DS:
    docs = [Document(f"notes/a{i}.txt" if i < 4 else f"table.csv#{i}", f"t{i}", "word " * (i * 10 + 1),
                     {"source": f"notes/a{i}.txt" if i < 4 else "table.csv", "language": "en" if i % 2 else "ko",
                      **({"fields": {"kind": ["x", "y"][i % 2], "score": i}} if i >= 4 else {})})
            for i in range(30)]
    return DS(docs, EvalSet({"q1": "find a3"}, {"q1": {"notes/a3.txt": 1}}))


@pytest.mark.parametrize("ids", [[], [0], [5, 3, 3, 1], list(range(0, 50_000, 7)), [2**40, 7]])
def test_selection_ids_round_trip_through_the_url(ids):
    text = mapdata.encode_ids(ids)
    assert mapdata.decode_ids(text) == sorted(set(ids))
    assert all(ch.isalnum() or ch in "-_" for ch in text)  # URL-safe as it is


def test_a_selection_link_stays_short_and_a_damaged_one_is_refused():
    rng = np.random.default_rng(0)
    lasso = np.sort(rng.choice(50_000, 5_000, replace=False))
    assert len(mapdata.encode_ids(lasso)) < 9_000
    with pytest.raises(ValueError):
        mapdata.decode_ids("not-a-selection")
    with pytest.raises(ValueError):
        mapdata.decode_ids(mapdata.encode_ids([3, 99]), n=50)  # a chunk this comparison does not have


def test_fields_and_categories():
    ds = dataset()
    fields = mapdata.fields(ds)
    assert {"source", "folder", "length", "language", "col:kind", "col:score"} <= set(fields)
    codes, names, ordered = mapdata.chunk_categories(ds, "folder", range(30))
    assert not ordered and names == ["(top level)", "notes"] and codes.tolist() == [1] * 4 + [0] * 26
    codes, names, ordered = mapdata.chunk_categories(ds, "language", range(30))
    assert names == ["en", "ko"] and codes[1] == 0 and codes[2] == 1
    codes, names, ordered = mapdata.chunk_categories(ds, "length", range(30))
    assert ordered and len(names) == mapdata.BINS and names[0].endswith("chars")
    assert (np.diff(codes) >= 0).all()  # longer documents never fall in a lower bin
    codes, names, _ = mapdata.chunk_categories(ds, "col:kind", range(30))
    assert names == ["(none)", "x", "y"] and codes[:4].tolist() == [0] * 4  # files have no table column


def test_query_categories_and_relevant_chunks():
    ds = dataset()
    assert mapdata.relevant_chunks(ds, "find a3") == {3}
    assert mapdata.relevant_chunks(ds, "something else") == set()
    codes, names = mapdata.query_categories({"a": [3, 5], "b": [5, 6]}, {3, 7}, [3, 5, 6, 7, 8])
    assert [names[c] for c in codes] == ["relevant, in 1/2 top-k", "in 2/2 top-k", "in 1/2 top-k",
                                         "relevant, in 0/2 top-k", "other"]


def test_selection_table_and_overlap():
    ds = dataset()
    frame = mapdata.selection_table(ds, [4, 2], {"overlap b": np.array([0.5, 1 / 3])}, text_chars=8)
    assert frame["chunk"].tolist() == [4, 2] and frame["document"].tolist() == ["table.csv#4", "notes/a2.txt"]
    assert frame["text"].str.len().max() <= 8 and frame["overlap b"].tolist() == [0.5, 0.333]
    x = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    rows = [3, 17, 0]
    assert np.array_equal(neighbours.knn_rows(x, rows, 5), neighbours.knn(x, 5)[rows])
    knn = {"a": neighbours.knn(x, 5), "b": neighbours.knn(x[:, ::-1] * [1, 1, 1, 1, 1, 1, 1, -1], 5)}
    change = neighbours.reference_disagreement(knn, "a")
    assert np.allclose(change["b"], 1 - neighbours.jaccard_at_k(knn["a"], knn["b"]))
    assert np.allclose(change["a"], change["b"])  # the first map: the mean over the others


def map_set(n: int = 200) -> MapSet:
    rng = np.random.default_rng(1)
    coords = {m: rng.normal(0, 1, (n, 2)).astype(np.float32) for m in ["a", "b"]}
    return MapSet(coords, np.arange(1000, 1000 + n), "a", dict.fromkeys(coords, 0.1))


def test_selection_is_ringed_with_its_chunk_ids_and_a_filter_hides_points_everywhere():
    ms = map_set()
    colour = (np.arange(200) % 4).astype(np.int16)
    visible = np.arange(200) % 2 == 0
    chosen = [1000, 1001, 1002, 1010, 5]  # 5 is not on this map (outside its sample)
    for mid in ms.coords:
        fig = maps.figure(mid, ms, colour, list("pqrs"), [""] * 200, {}, None, ["a", "b"], False,
                          selection=chosen, visible=visible, labels=True)
        ring = [t for t in fig.data if t.meta and t.meta[0] == "selection"]
        assert len(ring) == 1 and list(ring[0].customdata) == [1000, 1002, 1010]  # hidden 1001 left out
        shown = [c for t in fig.data if t.meta and t.meta[0] == "chunks" for c in t.customdata]
        assert sorted(shown) == list(ms.ids[visible])
        assert [a.text for a in fig.layout.annotations] == ["p", "r"]  # q and s are filtered away
        assert fig.layout.dragmode == "pan"  # a click selects one chunk; box and lasso are in the modebar


def test_events_give_chunk_ids_in_every_shape():
    box = {"selection": {"box": [{"x": [0, 1]}], "points": [{"customdata": {"0": 12}}, {"customdata": [3]},
                                                             {"customdata": 12}, {"customdata": None}]}}
    assert maps.selection_of(box) == ("area", [3, 12])
    assert maps.selection_of({"selection": {"lasso": [{}], "points": []}}) == ("area", [])
    assert maps.selection_of({"selection": {"points": [{"customdata": 7}, {"customdata": 4}]}}) == ("point", [7])
    assert maps.selection_of({"selection": {"points": []}}) is None and maps.selection_of(None) is None
