"""W3C Bitstring Status List v1.0: the bitstring and its published encoding, without I/O.

Bit 0 is the most significant bit of the first byte (the spec's "left-most bit"). The published
`encodedList` is the GZIP of the whole bitstring, base64url without padding, with the multibase
prefix `u`. 131,072 bits (16 KB, the spec's minimum) hide which index belongs to whom.
"""

from __future__ import annotations

import base64
import gzip
import io

SIZE = 131_072  # bits in one list
PURPOSES = ("revocation", "suspension")


def empty() -> bytes:
    return bytes(SIZE // 8)


def get_bit(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise IndexError(index)
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def with_bit(bits: bytes, index: int, value: bool) -> bytes:
    if not 0 <= index < len(bits) * 8:
        raise IndexError(index)
    changed = bytearray(bits)
    mask = 0x80 >> (index % 8)
    changed[index // 8] = (changed[index // 8] | mask) if value else (changed[index // 8] & ~mask)
    return bytes(changed)


def encode(bits: bytes) -> str:
    # mtime=0: the same bits always give the same text (a stable ETag for caches).
    packed = gzip.compress(bits, compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode(encoded: str, limit: int = 16 * SIZE) -> bytes:
    """The bitstring of an `encodedList`; ValueError when it is not one (or inflates past `limit`
    bytes: a list is small, a decompression bomb is not)."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url ('u' prefix)")
    try:
        packed = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
        with gzip.GzipFile(fileobj=io.BytesIO(packed)) as stream:
            bits = stream.read(limit + 1)
    except (OSError, EOFError, ValueError) as error:
        raise ValueError("encodedList is not a GZIP bitstring") from error
    if len(bits) > limit:
        raise ValueError("encodedList is too large")
    return bits
