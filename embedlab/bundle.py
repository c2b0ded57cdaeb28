"""A comparison as one file: manifest, dataset, vectors, maps and evaluation card, with hashes.

    bundle.json                     format, ids, and sha256 + size of every other member
    comparison/...                  the comparison folder (manifest.json last to be written back)
    dataset/...                     documents.jsonl, chunks.parquet, eval.json, dataset.json
    vectors/<collection>.npz        each model's stored vectors, one row per chunk ordinal

Another EmbedLab opens it (``import_bundle``) without embedding anything: the vectors go into its
own store under the same collection names. A bundle is checked whole before anything is written
— member names, sizes, compression ratios, hashes, ids, row counts — so a tampered, truncated or
hostile one is refused with one clear message and leaves the workspace as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from . import comparison
from .store import sparse_rows_for_storage
from .workspace import Workspace

FORMAT = "embedlab-bundle/1"
HEAD = "bundle.json"
MAX_MEMBERS = 5000
MAX_RATIO = 200  # uncompressed / compressed, for members over 1 MB: more is a zip bomb
MEMBER_RE = re.compile(r"(comparison|dataset|vectors)(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,120}){1,4}")
COLLECTION_RE = re.compile(r"el_[0-9a-f]{24}")
DATASET_RE = re.compile(r"[0-9a-f]{24}(-[0-9a-f]{12})?")
_BLOCK = 4096


class BundleError(ValueError):
    """The file is not a bundle this EmbedLab can open; nothing was changed."""


def max_bytes() -> int:
    return int(os.environ.get("EMBEDLAB_BUNDLE_MAX_MB", "4096")) * 2**20


# -- export ------------------------------------------------------------------------------------
def export(ws: Workspace, cid: str, out: str | Path) -> dict:
    """Write comparison ``cid`` as a bundle at ``out`` (atomically). Returns the bundle's head."""
    comp = comparison.load(ws, cid)
    members: dict[str, bytes] = {}
    comp_dir = ws.comparison_dir(cid)
    for f in sorted(p for p in comp_dir.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")):
        members["comparison/" + f.relative_to(comp_dir).as_posix()] = f.read_bytes()
    ds_dir = ws.root / "datasets" / comp.dataset_key
    for f in sorted(p for p in ds_dir.iterdir() if p.is_file() and not p.name.startswith(".tmp-")):
        members["dataset/" + f.name] = f.read_bytes()
    collections = {}
    for r in comp.results.values():
        name = r.get("collection")
        if r.get("status") == "done" and name and name not in collections:
            members[f"vectors/{name}.npz"] = _vectors_npz(ws.store, name, int(r["chunks"]), bool(r.get("sparse")))
            collections[name] = {"sparse": bool(r.get("sparse")), "rows": int(r["chunks"])}
    head = {"format": FORMAT, "comparison_id": cid, "dataset_key": comp.dataset_key, "collections": collections,
            "exported": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for n, b in members.items()}}
    _write_zip(Path(out), head, members)
    return head


def to_bytes(ws: Workspace, cid: str) -> bytes:
    """The bundle of ``cid`` as bytes (a download)."""
    with tempfile.TemporaryDirectory() as tmp:
        export(ws, cid, Path(tmp) / "bundle.zip")
        return (Path(tmp) / "bundle.zip").read_bytes()


def _vectors_npz(store, name: str, rows: int, sparse: bool) -> bytes:
    held = store.resident(name, sparse)
    if held is not None and np.array_equal(held.ids, np.arange(rows)):
        matrix = held.matrix
    else:
        matrix = store.vectors(name, list(range(rows)), sparse)
    buf = io.BytesIO()
    if sparse:
        m = matrix.tocsr()
        np.savez(buf, data=m.data.astype(np.float32), indices=m.indices.astype(np.int64),
                 indptr=m.indptr.astype(np.int64), shape=np.array(m.shape, dtype=np.int64))
    else:
        np.savez(buf, dense=np.asarray(matrix, dtype=np.float32))
    return buf.getvalue()


def _write_zip(out: Path, head: dict, members: dict[str, bytes]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            z.writestr(HEAD, json.dumps(head, indent=1, ensure_ascii=False))
            for name, data in members.items():
                z.writestr(name, data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- import ------------------------------------------------------------------------------------
def import_bundle(ws: Workspace, src: str | Path | bytes) -> comparison.Comparison:
    """Open a bundle in ``ws``: check all of it, then write dataset, vectors and comparison."""
    checked = read(src)
    existing = _existing(ws, checked)
    if existing is not None:
        return existing
    _write_dataset(ws, checked)
    _write_vectors(ws, checked)
    _write_comparison(ws, checked)
    ws.bring_up_to_date()  # a bundle from a workspace where MiniLM was keyed by its path
    return comparison.load(ws, checked["comp"].id)


def read(src: str | Path | bytes) -> dict:
    """Every member, checked against the head's hashes and each other; raises BundleError."""
    try:
        z = zipfile.ZipFile(io.BytesIO(src) if isinstance(src, bytes | bytearray) else src)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise BundleError(f"not an EmbedLab bundle: not a readable zip file ({e})") from None
    with z:
        infos = _checked_infos(z)
        head = _head(z, infos)
        files = {name: _member(z, infos[name], meta) for name, meta in head["files"].items()}
    return _validated(head, files)


def _checked_infos(z: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS:
        raise BundleError(f"refused: {len(infos)} files in the bundle (at most {MAX_MEMBERS})")
    total, out = 0, {}
    for info in infos:
        name = info.filename
        if name != HEAD and not MEMBER_RE.fullmatch(name) or ".." in name.split("/"):
            raise BundleError(f"refused: unexpected path in the bundle: {name[:200]!r}")
        if name in out:
            raise BundleError(f"refused: {name!r} appears twice in the bundle")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise BundleError(f"refused: {name!r} is a symbolic link")
        total += info.file_size
        if total > max_bytes():
            raise BundleError(f"refused: the bundle unpacks to more than {max_bytes() // 2**20} MB")
        if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise BundleError(f"refused: {name!r} is compressed {info.file_size // max(info.compress_size, 1)}:1 "
                              "(a zip bomb?)")
        out[name] = info
    if HEAD not in out:
        raise BundleError(f"not an EmbedLab bundle: no {HEAD}")
    return out


def _head(z, infos) -> dict:
    if infos[HEAD].file_size > 64 * 2**20:
        raise BundleError(f"refused: {HEAD} is too large")
    try:
        head = json.loads(_read_member(z, infos[HEAD], infos[HEAD].file_size))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"damaged bundle: {HEAD} is not JSON ({e})") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT or not isinstance(head.get("files"), dict):
        raise BundleError(f"not an EmbedLab bundle of format {FORMAT}")
    listed, present = set(head["files"]), set(infos) - {HEAD}
    if listed != present:
        extra, lost = sorted(present - listed)[:3], sorted(listed - present)[:3]
        raise BundleError(f"damaged bundle: files missing {lost} or not listed {extra}")
    return head


def _read_member(z, info, size: int) -> bytes:
    try:
        with z.open(info) as f:
            data = f.read(size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise BundleError(f"damaged bundle: {info.filename!r} cannot be read ({e})") from None
    if len(data) != size:
        raise BundleError(f"damaged bundle: {info.filename!r} is {len(data)} bytes, expected {size}")
    return data


def _member(z, info, meta) -> bytes:
    if not isinstance(meta, dict) or not isinstance(meta.get("size"), int) or meta["size"] != info.file_size:
        raise BundleError(f"damaged bundle: the size of {info.filename!r} does not match its manifest entry")
    data = _read_member(z, info, meta["size"])
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise BundleError(f"damaged or tampered bundle: {info.filename!r} does not match its sha256")
    return data


def _validated(head: dict, files: dict[str, bytes]) -> dict:
    try:
        comp = comparison.Comparison(**json.loads(files["comparison/manifest.json"]))
        meta = json.loads(files["dataset/dataset.json"])
    except (KeyError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"damaged bundle: no readable comparison or dataset manifest ({type(e).__name__})") from None
    if not (comparison.ID_RE.fullmatch(str(comp.id)) and comp.id == head.get("comparison_id")):
        raise BundleError("damaged bundle: the comparison id is not valid")
    if not (DATASET_RE.fullmatch(str(comp.dataset_key)) and comp.dataset_key == head.get("dataset_key")
            and meta.get("key") == comp.dataset_key):
        raise BundleError("damaged bundle: the dataset key is not valid")
    if not {"documents.jsonl", "chunks.parquet"} <= {n.split("/", 1)[1] for n in files if n.startswith("dataset/")}:
        raise BundleError("damaged bundle: the dataset is incomplete")
    n_chunks = _chunk_count(files["dataset/chunks.parquet"])
    vectors = {}
    for r in comp.results.values():
        name = r.get("collection")
        if r.get("status") != "done" or not name or name in vectors:
            continue
        if not COLLECTION_RE.fullmatch(str(name)) or f"vectors/{name}.npz" not in files:
            raise BundleError(f"damaged bundle: no vectors for collection {str(name)[:40]!r}")
        vectors[name] = _matrix(files[f"vectors/{name}.npz"], bool(r.get("sparse")), n_chunks, name)
    return {"head": head, "files": files, "comp": comp, "vectors": vectors}


def _chunk_count(data: bytes) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
    except Exception as e:  # noqa: BLE001 - any parse failure of an untrusted file is a refusal
        raise BundleError(f"damaged bundle: chunks.parquet is not readable ({type(e).__name__})") from None


def _matrix(data: bytes, sparse: bool, rows: int, name: str):
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
        if sum(i.file_size for i in inner.infolist()) > max_bytes():
            raise BundleError(f"refused: the vectors of {name} unpack to more than {max_bytes() // 2**20} MB")
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            if sparse:
                import scipy.sparse as sp

                shape = tuple(int(v) for v in z["shape"])
                m = sp.csr_matrix((z["data"].astype(np.float32), z["indices"], z["indptr"]), shape=shape)
                m.check_format(full_check=True)
            else:
                m = np.asarray(z["dense"], dtype=np.float32)
                if m.ndim != 2 or not np.isfinite(m).all():
                    raise ValueError("not a finite 2-d matrix")
    except BundleError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure of an untrusted file is a refusal
        raise BundleError(f"damaged bundle: the vectors of {name} are not readable ({e})") from None
    if m.shape[0] != rows:
        raise BundleError(f"damaged bundle: {m.shape[0]} vectors for {rows} chunks in {name}")
    return m


# -- writing what was checked ------------------------------------------------------------------
def _existing(ws: Workspace, checked: dict):
    comp = checked["comp"]
    path = ws.comparison_dir(comp.id) / "manifest.json"
    if not path.exists():
        return None
    here = comparison.load(ws, comp.id)  # 144 random bits: the same comparison, maybe run again since
    if here.dataset_key != comp.dataset_key:
        raise BundleError(f"a different comparison with id {comp.id} is already in this workspace")
    return here  # opened as it is here, not overwritten


def _write_dataset(ws: Workspace, checked: dict) -> None:
    folder = ws.root / "datasets" / checked["comp"].dataset_key
    if (folder / "dataset.json").exists():
        return  # the same key is the same chunked texts and eval set: already here
    folder.mkdir(parents=True, exist_ok=True)
    files = {n.split("/", 1)[1]: b for n, b in checked["files"].items() if n.startswith("dataset/")}
    for name, data in sorted(files.items(), key=lambda kv: kv[0] == "dataset.json"):  # dataset.json last
        _atomic(folder / name, data)


def _write_vectors(ws: Workspace, checked: dict) -> None:
    store = ws.store
    for name, matrix in checked["vectors"].items():
        sparse = hasattr(matrix, "tocsr")
        rows = matrix.shape[0]
        have = store.existing_ids(name, rows) if store.exists(name) else set()
        if len(have) == rows:
            continue
        store.ensure(name, None if sparse else matrix.shape[1], sparse)
        todo = np.array([i for i in range(rows) if i not in have], dtype=np.int64)
        for s in range(0, len(todo), _BLOCK):
            ids = todo[s : s + _BLOCK]
            part = matrix[ids]
            store.upsert(name, ids.tolist(), sparse_rows_for_storage(part) if sparse else part)
        store.flush(name)
        if not have:
            store.hold(name, np.arange(rows), matrix)


def _write_comparison(ws: Workspace, checked: dict) -> None:
    folder = ws.comparison_dir(checked["comp"].id)
    files = {n.split("/", 1)[1]: b for n, b in checked["files"].items() if n.startswith("comparison/")}
    for rel, data in sorted(files.items(), key=lambda kv: kv[0] == "manifest.json"):  # the manifest last
        path = folder / rel
        if folder.resolve() not in path.resolve().parents:
            raise BundleError(f"refused: unexpected path in the bundle: {rel!r}")
        _atomic(path, data)


def _atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
