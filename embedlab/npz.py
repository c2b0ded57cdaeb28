"""Arrays named by model, on disk: atomic writes (a reader sees the old file or the new one) and reads that
treat a torn or missing file as absent. Maps, neighbour lists, clusters and vector copies use it."""

from __future__ import annotations

import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np


def save_npz(path: Path, models: list[str], arrays: list[np.ndarray], **extra) -> None:
    """Atomic: a reader sees the old file or the new one, never half of one. Model ids go in a
    string array, not in key names, because ids hold ':' and '/'."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_temp(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, models=np.array(models, dtype=str),
                     **{f"m{i}": a for i, a in enumerate(arrays)}, **extra)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sweep_temp(folder: Path, older_than_s: float = 3600) -> None:
    """Temp files a killed process left behind (a live writer's file is seconds old)."""
    cutoff = time.time() - older_than_s
    for stale in folder.glob(".tmp-*.npz"):
        try:
            if stale.stat().st_mtime < cutoff:
                stale.unlink()
        except OSError:
            pass


def load_npz(path: Path) -> tuple[list[str], list[np.ndarray], dict] | None:
    """What ``save_npz`` wrote, or None when the file is missing or unreadable (then recompute)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            models = [str(m) for m in z["models"]]
            arrays = [z[f"m{i}"] for i in range(len(models))]
            extra = {k: z[k] for k in z.files if k != "models" and not (k[0] == "m" and k[1:].isdigit())}
        return models, arrays, extra
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # torn: not a whole zip
        return None
