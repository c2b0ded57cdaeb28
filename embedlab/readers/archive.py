"""Zip archives: members as lazily-read entries; paths, sizes and ratios checked before and while reading."""

from __future__ import annotations

import io
import re
import stat
import zipfile
from functools import partial

from embedlab.readers.formats import short_error
from embedlab.readers.model import Budget, Entry, Limits, Skip, clean_name, human_bytes

_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_OS_JUNK = {".DS_Store", "Thumbs.db", "desktop.ini"}
_OFFICE_ZIPS = {
    "xl/workbook.xml": "an Excel workbook (export the sheet as CSV)",
    "ppt/presentation.xml": "a PowerPoint file (not supported; export it as PDF)",
    "mimetype": "an OpenDocument/EPUB file (not supported; save it as .docx or PDF)",
}


def _unsafe_reason(member: str) -> str | None:
    path = member.replace("\\", "/")
    if path.startswith("/") or _DRIVE.match(path):
        return f"unsafe path in the zip: '{member}' is absolute; not read"
    if ".." in path.split("/"):
        return f"unsafe path in the zip: '{member}' points outside the archive ('..'); not read"
    return None


def _declared_reason(info: zipfile.ZipInfo, limits: Limits) -> str | None:
    """Reject by the header before inflating anything (the header is checked again while reading)."""
    if info.flag_bits & 0x1:
        return "password-protected zip member"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link inside the zip, not a file"
    base = info.filename.rsplit("/", 1)[-1]
    if info.filename.startswith("__MACOSX/") or base in _OS_JUNK or base.startswith("._"):
        return "operating-system metadata (macOS/Windows), not a document"
    ratio = info.file_size / max(1, info.compress_size)
    if info.file_size > limits.zip_ratio_floor_bytes and ratio > limits.max_zip_ratio:
        return (
            f"compressed {ratio:,.0f}:1 ({human_bytes(info.compress_size)} → {human_bytes(info.file_size)}), "
            f"over the {limits.max_zip_ratio:,.0f}:1 limit (Limits.max_zip_ratio): looks like a zip bomb"
        )
    return None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> bytes:
    reason = _unsafe_reason(info.filename) or _declared_reason(info, budget.limits)
    if reason:
        raise Skip(reason)
    budget.check(info.file_size)
    lim = budget.limits
    ratio_cap = max(lim.zip_ratio_floor_bytes, int(info.compress_size * lim.max_zip_ratio))
    cap = min(lim.max_file_bytes, budget.remaining(), ratio_cap)
    chunks, total = [], 0
    try:
        with zf.open(info) as member:
            while chunk := member.read(_CHUNK):
                total += len(chunk)
                if total > cap:  # never trust the header: count what actually comes out
                    raise Skip(
                        f"unpacks to more than {human_bytes(cap)} although its header says "
                        f"{human_bytes(info.file_size)}: a malformed or malicious zip"
                    )
                chunks.append(chunk)
    except Skip:
        raise
    except Exception as exc:  # noqa: BLE001 - hostile input: any parser error means 'skip this file'
        raise Skip(f"damaged zip member ({short_error(exc)})") from None
    return b"".join(chunks)


def open_archive(data: bytes, name: str) -> tuple[str, list[Entry]]:
    """('docx', []) for a Word document in disguise, else ('zip', members in archive order, read lazily)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except Exception as exc:  # noqa: BLE001 - hostile input: any parser error means 'skip this file'
        raise Skip(f"not a readable zip archive ({short_error(exc)})") from None
    names = {i.filename for i in infos[:50]}  # office files list their markers among the first parts
    if "word/document.xml" in names:
        return "docx", []
    for marker, what in _OFFICE_ZIPS.items():
        if marker in names:
            raise Skip(f"{what}, not a document this app reads")
    if not infos:
        raise Skip("empty zip archive (no files inside)")
    return "zip", [Entry(clean_name(f"{name}/{i.filename}"), partial(_read_member, zf, i)) for i in infos]


def check_office_zip(data: bytes, limits: Limits) -> None:
    """A .docx is a zip too: refuse one whose parts would inflate like a bomb before the parser opens it."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except Exception:  # noqa: BLE001 - the document parser reports a broken zip in its own words
        return
    unpacked = sum(i.file_size for i in infos)
    if unpacked > max(limits.zip_ratio_floor_bytes, len(data) * limits.max_zip_ratio):
        raise Skip(
            f"document unpacks to {human_bytes(unpacked)} from {human_bytes(len(data))}, over the "
            f"{limits.max_zip_ratio:,.0f}:1 limit (Limits.max_zip_ratio): looks like a zip bomb"
        )
    if unpacked > limits.max_file_bytes:
        raise Skip(
            f"document unpacks to {human_bytes(unpacked)}, over the per-file limit (Limits.max_file_bytes)"
        )
