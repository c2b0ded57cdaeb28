"""Files and folders on disk, as entries to load: sizes checked before reading, folders walked in order."""

from __future__ import annotations

import os
import stat
from functools import partial
from pathlib import Path

from embedlab.readers.model import Budget, Entry, Skip, clean_name


def read_file(path: Path, budget: Budget) -> bytes:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise Skip("not found") from None
    except OSError as exc:
        raise Skip(f"cannot open it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise Skip("not a regular file (a device, pipe or socket)")
    budget.check(info.st_size)
    cap = min(budget.limits.max_file_bytes, budget.remaining())
    try:
        with path.open("rb") as handle:
            data = handle.read(cap + 1)  # the size on disk may be stale; never read past the cap
    except OSError as exc:
        raise Skip(f"cannot read it ({exc.strerror or exc})") from None
    budget.check(len(data))
    return data


def _refuse(reason: str, _budget: Budget) -> bytes:
    raise Skip(reason)


def walk(root: Path) -> list[Entry]:
    """Every file under root in sorted order; hidden files, links and unreadable folders as refusals."""
    entries: list[Entry] = []
    base = root.resolve().name or "folder"

    def unreadable(error: OSError) -> None:
        shown = clean_name(f"{base}/{Path(error.filename).relative_to(root).as_posix()}")
        entries.append(Entry(shown, partial(_refuse, f"folder cannot be opened ({error.strerror})")))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        here = Path(dirpath)
        refused = {d: "hidden folder, not read" for d in dirnames if d.startswith(".")}
        refused |= {d: "link to a folder, not followed" for d in dirnames if (here / d).is_symlink()}
        dirnames[:] = sorted(d for d in dirnames if d not in refused)
        for name in sorted(refused) + sorted(filenames):
            path = here / name
            shown = clean_name(f"{base}/{path.relative_to(root).as_posix()}")
            if name in refused:
                entries.append(Entry(shown, partial(_refuse, refused[name])))
            elif name.startswith(".") or path.is_symlink():
                entries.append(Entry(shown, partial(_refuse, "hidden file or link, not read")))
            else:
                entries.append(Entry(shown, partial(read_file, path)))
    return entries
