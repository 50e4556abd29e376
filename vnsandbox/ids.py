"""Random identifiers (request ids, token ids) from a buffer of the system's random bytes.

``os.urandom`` is one system call per use, and CPython releases the GIL around it: on a busy
event loop every request id then waited to take the GIL back from worker threads (a few per
cent of a token request's time). Here each thread draws 4 KiB at a time from the same source
and slices it; a forked child starts with an empty buffer, so processes never share ids.
"""

from __future__ import annotations

import os
import threading

_CHUNK = 4096


class _Buffer(threading.local):
    data = b""
    used = 0


_buffer = _Buffer()


def _forget() -> None:
    _buffer.data, _buffer.used = b"", 0


os.register_at_fork(after_in_child=_forget)


def random_hex(nbytes: int = 16) -> str:
    """``nbytes`` random bytes (at most 4096) as hex: what ``os.urandom(nbytes).hex()`` gives."""
    buffer = _buffer
    start = buffer.used
    if start + nbytes > len(buffer.data):
        buffer.data, start = os.urandom(_CHUNK), 0
    buffer.used = start + nbytes
    return buffer.data[start : start + nbytes].hex()
