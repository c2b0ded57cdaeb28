"""What a file really is, from its bytes (never its name), and its text once decoded and cleaned."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from embedlab.readers.model import Skip

# (prefix, what it is) — checked in order, longest signatures first where they overlap.
_MAGIC: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xca\xfe\xba\xbe", "a Java class or Mach-O binary"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\x1f\x8b", "a gzip archive (upload a .zip instead)"),
    (b"\xfd7zXZ\x00", "an xz archive (upload a .zip instead)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (upload a .zip instead)"),
    (b"Rar!\x1a\x07", "a RAR archive (upload a .zip instead)"),
    (b"(\xb5/\xfd", "a zstd archive (upload a .zip instead)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office file (.doc/.xls/.ppt; save it as .docx)"),
    (b"OggS", "an Ogg audio/video file"),
    (b"fLaC", "a FLAC audio file"),
    (b"\x00asm", "a WebAssembly module"),
    (b"{\\rtf", "an RTF document (not supported; save it as .docx or .txt)"),
]
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_CLEAN = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff]")
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_SAMPLE = 64 * 1024
# Real text has almost no control characters; random bytes have ~12%. Valid UTF-8 is already strong
# evidence of text (random bytes never are), so a short note with a few stray controls still loads.
_BINARY_SHARE = 0.05
_BINARY_SHARE_UTF8 = 0.30


def _magic(data: bytes) -> str | None:
    for prefix, what in _MAGIC:
        if data.startswith(prefix):
            return what
    if data[:2] == b"MZ" and b"\x00" in data[:64]:
        return "a Windows executable"
    if data[4:8] == b"ftyp":
        return "an MP4/QuickTime video"
    if data[:4] == b"RIFF" and data[8:12] in (b"WAVE", b"AVI ", b"WEBP"):
        return "a RIFF media file (WAV/AVI/WebP)"
    if data[257:262] == b"ustar":
        return "a tar archive (upload a .zip instead)"
    return None


def sniff(data: bytes, ext: str) -> str:
    """Return 'pdf', 'docx', 'zip' or 'text'; raise Skip for binary content.

    A zip may still turn out to be a Word document: ``archive.open_archive`` looks inside.
    """
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "docx" if ext in (".docx", ".docm", ".dotx") else "zip"
    # The PDF spec allows junk before the header; a text file that merely mentions "%PDF-" must not
    # become a broken PDF, so only a file named .pdf gets that leeway.
    if data.lstrip()[:5] == b"%PDF-" or (ext == ".pdf" and b"%PDF-" in data[:1024]):
        return "pdf"
    what = _magic(data)
    if what:
        raise Skip(f"binary file (looks like {what}), not text")
    return "text"


def _bom(data: bytes) -> str | None:
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return encoding
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    # ASCII-range UTF-16 puts a NUL in every other byte; charset detectors can miss short files.
    sample = data[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even, odd = sample[0::2].count(0) / pairs, sample[1::2].count(0) / pairs
    if odd > 0.4 and even < 0.05:
        return "utf-16-le"
    if even > 0.4 and odd < 0.05:
        return "utf-16-be"
    return None


def _cp1252_fallback(err: UnicodeDecodeError) -> tuple[str, int]:
    bad = err.object[err.start : err.end]
    return bad.decode("cp1252", errors="replace"), err.end


codecs.register_error("embedlab-cp1252", _cp1252_fallback)


def _guess_encoding(data: bytes) -> str:
    sample = data[: 1024 * 1024]
    matches = list(charset_normalizer.from_bytes(sample))
    if not matches:
        raise Skip("binary data, not text (no text encoding fits these bytes)")
    best = matches[0]
    try:
        western = sample.decode("cp1252")
    except UnicodeDecodeError:
        return best.encoding
    # A short latin-1 note ("café") fits a dozen code pages equally well and the detector's pick
    # among the ties is arbitrary (cp1006, Farsi). Among equally good fits, prefer Western European.
    for match in matches:
        if match.chaos > best.chaos or match.coherence < best.coherence:
            continue
        if match.encoding in ("cp1252", "latin_1") or sample.decode(match.encoding, "replace") == western:
            return "cp1252"
    return best.encoding


def decode(data: bytes) -> tuple[str, str]:
    """Bytes → (text, encoding name). Raise Skip when the bytes are not text."""
    encoding = _bom(data) or _utf16_without_bom(data)
    if encoding:
        return data.decode(encoding, errors="replace"), encoding
    data = data.rstrip(b"\x00")  # crashed writers pad files with NULs; that padding is not content
    try:
        text, limit = data.decode("utf-8"), _BINARY_SHARE_UTF8
    except UnicodeDecodeError:
        text, limit = None, _BINARY_SHARE
    share = len(_CONTROL_BYTES.findall(data[:_SAMPLE])) / max(1, len(data[:_SAMPLE]))
    if share > limit:
        raise Skip(f"binary data, not text ({share:.0%} of the first bytes are control characters)")
    if text is not None:
        return text, "utf-8"
    encoding = _guess_encoding(data)
    if _UTF8_MULTIBYTE.search(data):
        # Valid UTF-8 sequences next to invalid bytes: a file pasted together from two encodings.
        return data.decode("utf-8", errors="embedlab-cp1252"), "utf-8 mixed with cp1252"
    return data.decode(encoding, errors="replace"), encoding


def needs_cleaning(text: str) -> bool:
    return "\r" in text or "\x0c" in text or _CLEAN.search(text) is not None


def clean(text: str) -> str:
    """Normalise newlines and drop NUL/control characters (keeping \\n and \\t)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
    return _CLEAN.sub("", text)
