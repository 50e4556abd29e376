"""Random ids come from a per-thread buffer of system random bytes; a forked child never
continues its parent's buffer (two processes would otherwise hand out the same ids)."""

from __future__ import annotations

import os
import re
import threading

from vnsandbox.ids import random_hex
from vnsandbox.middleware import REQUEST_ID_RE, new_request_id


def test_ids_are_hex_of_the_asked_length_and_do_not_repeat() -> None:
    ids = [random_hex() for _ in range(20_000)]  # several refills of the buffer
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert re.fullmatch(r"[0-9a-f]{8}", random_hex(4))
    assert REQUEST_ID_RE.match(new_request_id())


def test_threads_draw_their_own_ids() -> None:
    seen: list[list[str]] = [[] for _ in range(4)]

    def draw(n: int) -> None:
        seen[n] = [random_hex() for _ in range(3_000)]

    threads = [threading.Thread(target=draw, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for ids in seen for i in ids]
    assert len(set(everything)) == len(everything) == 12_000


def test_a_forked_child_does_not_continue_its_parents_buffer() -> None:
    random_hex()  # the parent's buffer holds bytes not yet handed out
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.write(write, random_hex().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert re.fullmatch(r"[0-9a-f]{32}", child)
    assert child != random_hex()
