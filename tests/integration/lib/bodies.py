# SPDX-License-Identifier: MIT
"""Deterministic bodies shared by the tests and the fake backend.

A body of N bytes with seed S is the prefix of length N of an endless
repetition of a block of PERIOD bytes derived from SHA-256(S:i). PERIOD is a
prime, so chunk boundaries (which are powers of two or test-chosen sizes)
never line up with the repetition and a misplaced or dropped piece changes
the digest. Both sides stream the body in pieces; nothing holds 64 MiB.
"""

import functools
import hashlib

PERIOD = 65521
PIECE = 256 * 1024
MIB = 1024 * 1024


@functools.lru_cache(maxsize=8)
def _block(seed):
    out = bytearray()
    i = 0
    while len(out) < PERIOD:
        out += hashlib.sha256(b"%d:%d" % (seed, i)).digest()
        i += 1
    base = bytes(out[:PERIOD])
    # Enough repetitions that any slice of PIECE bytes starting in the first
    # period is contiguous.
    reps = (PIECE + PERIOD) // PERIOD + 1
    return base * reps


def iter_body(size, seed=0, piece=PIECE):
    """Yields the body of `size` bytes for `seed` in pieces of at most `piece` bytes."""
    piece = max(1, min(piece, PIECE))
    block = _block(seed)
    off = 0
    while off < size:
        n = min(piece, size - off)
        start = off % PERIOD
        yield block[start:start + n]
        off += n


def body(size, seed=0):
    """The whole body as bytes; only for sizes that fit comfortably in memory."""
    return b"".join(iter_body(size, seed))


@functools.lru_cache(maxsize=64)
def sha256(size, seed=0):
    """Hex SHA-256 of the body of `size` bytes for `seed`."""
    h = hashlib.sha256()
    for p in iter_body(size, seed):
        h.update(p)
    return h.hexdigest()


def chunk_sizes(size, pattern=(1, 4093, 65536, 17, 262144, 1000)):
    """Splits `size` into varied chunk sizes (cycling through `pattern`)."""
    out = []
    i = 0
    left = size
    while left > 0:
        n = min(pattern[i % len(pattern)], left)
        out.append(n)
        left -= n
        i += 1
    return out


def iter_chunked(size, seed=0, sizes=None, trailers=(), ext=b""):
    """Yields the chunked encoding (RFC 9112 §7.1) of the body of `size` bytes.

    `sizes` lists the chunk sizes (default: chunk_sizes(size)); `trailers` is a
    list of (name, value) strings sent after the last chunk; `ext` is appended
    to every chunk-size line (e.g. b";name=value")."""
    if sizes is None:
        sizes = chunk_sizes(size)
    assert sum(sizes) == size, "chunk sizes must add up to the body size"
    src = iter_body(size, seed)
    pending = b""
    for n in sizes:
        while len(pending) < n:
            pending += next(src)
        data, pending = pending[:n], pending[n:]
        yield b"%x%s\r\n" % (n, ext) + data + b"\r\n"
    tail = b"0\r\n"
    for name, value in trailers:
        tail += ("%s: %s\r\n" % (name, value)).encode("latin-1")
    yield tail + b"\r\n"
