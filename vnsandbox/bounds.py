"""Limits on what a request may carry, defined once for every service and the gateway.

Hostile input must end in a documented 4xx, never in a traceback. What Python or the
database cannot hold (JSON nested thousands deep, integers beyond 64 bits, dates beyond
year 9999) is bounded here, and every schema uses these types rather than a bare ``int``:

- JSON nesting: at most ``<PREFIX>_MAX_JSON_DEPTH`` levels (default 64) in a request body;
  deeper bodies are refused before anything parses them (``JSON_TOO_DEEP``, 400).
- Integers: counts ("the next N calls"), page offsets, seeds, row ids and HTTP statuses each
  have a documented range (the ``MAX_*`` constants below), checked by the schema (422).
- The test clock: its offset from real time stays within ``MAX_CLOCK_OFFSET_S`` (100
  years) either way, however often it is advanced (``CLOCK_OUT_OF_RANGE``, 422).
"""

from __future__ import annotations

import json
from itertools import accumulate
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic.types import AllowInfNan

#: Default deepest nesting of arrays/objects accepted in a JSON request body.
DEFAULT_MAX_JSON_DEPTH = 64
#: Highest value ``<PREFIX>_MAX_JSON_DEPTH`` may be set to (the journal keeps bodies this deep).
MAX_JSON_DEPTH_LIMIT = 256

#: "The next N calls/requests" and other counts: 1 to one billion (fits a 32-bit column).
MAX_COUNT = 1_000_000_000
#: Pagination offsets: 0 to one billion.
MAX_OFFSET = 1_000_000_000
#: Seeds of reproducible random streams: 0 to 2^31 - 1.
MAX_SEED = 2**31 - 1
#: Numeric ids of rows (fault rules, ...): 1 to 2^31 - 1.
MAX_ROW_ID = 2**31 - 1
#: Largest amount of money in VND a message may carry (one thousand billion đồng).
MAX_VND = 10**12
#: Furthest the test clock may be from real time, in seconds: 100 years of 365 days.
MAX_CLOCK_OFFSET_S = 100 * 365 * 86_400

Count = Annotated[int, Ge(1), Le(MAX_COUNT)]
"""How many: "apply to the next N requests", a page size (1 … 10^9)."""
Amount = Annotated[int, Ge(0), Le(MAX_COUNT)]
"""How many, zero allowed (0 … 10^9)."""
PageOffset = Annotated[int, Ge(0), Le(MAX_OFFSET)]
"""Rows to skip before a page (0 … 10^9)."""
Seed = Annotated[int, Ge(0), Le(MAX_SEED)]
"""Seed of a reproducible random stream (0 … 2^31 - 1)."""
RowId = Annotated[int, Ge(1), Le(MAX_ROW_ID)]
"""Numeric id of a stored row (1 … 2^31 - 1)."""
Vnd = Annotated[int, Ge(0), Le(MAX_VND)]
"""An amount of money in đồng (0 … 10^12)."""
HttpStatus = Annotated[int, Ge(100), Le(599)]
"""An HTTP status code (100 … 599)."""
#: A real wait a failure switch makes a request sit through (seconds; at most two minutes).
MAX_SWITCH_WAIT_S = 120.0
WaitSeconds = Annotated[float, Ge(0), Le(MAX_SWITCH_WAIT_S), AllowInfNan(False)]
ClockSeconds = Annotated[float, Ge(-MAX_CLOCK_OFFSET_S), Le(MAX_CLOCK_OFFSET_S), AllowInfNan(False)]
"""Seconds of test-clock movement or offset (± 100 years, finite)."""


def clock_offset_in_range(seconds: float) -> bool:
    """Whether a test-clock offset keeps "now" within ``MAX_CLOCK_OFFSET_S`` of real time."""
    return -MAX_CLOCK_OFFSET_S <= seconds <= MAX_CLOCK_OFFSET_S


def numbers_in_range(value: Any, limit: float = MAX_COUNT) -> bool:
    """Whether every number inside a JSON value (free-form parameters) is finite and within
    ``±limit``. Iterative: safe on any nesting the depth limit lets through."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int | float) and not isinstance(item, bool) and not -limit <= item <= limit:
            return False  # also NaN and ±Infinity
    return True


# -- JSON nesting depth --------------------------------------------------------------------------

_BRACKETS = b"[]{}"
_NOT_QUOTES_OR_BRACKETS = bytes(b for b in range(256) if b not in b'"' + _BRACKETS)
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def json_depth(raw: bytes | str) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without parsing it.

    Linear time, no recursion, so it is safe on any input (an invalid text gets some
    number; the parser refuses it afterwards).
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    return max(accumulate(map(_STEP.__getitem__, _brackets_outside_strings(data))), default=0)


def _brackets_outside_strings(data: bytes) -> bytes:
    """``data``'s brackets that are not in its JSON strings, in C: in a string a backslash
    escapes the next character, so escaped backslashes and quotes go first; every quote left
    then opens or closes a string, and splitting at the quotes (of the text cut down to quotes
    and brackets, so the pieces are short) drops what they enclose (an unterminated last
    string's brackets stay). A backslash outside any string (no JSON text has one) may make a
    text after it look shallower, but ``json.loads`` stops at that backslash."""
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    parts = data.translate(None, _NOT_QUOTES_OR_BRACKETS).split(b'"')
    outside = b"".join(parts[::2])
    return outside if len(parts) % 2 else outside + parts[-1]


def json_too_deep(raw: bytes | str, max_depth: int) -> bool:
    """Whether a JSON text nests deeper than ``max_depth`` (cheap for ordinary bodies)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return data.count(b"[") + data.count(b"{") > max_depth and json_depth(data) > max_depth


class JSONTooDeepError(ValueError):
    """A JSON text nests deeper than allowed (a ``ValueError``, like any unreadable JSON)."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        super().__init__(f"JSON nested deeper than {max_depth} levels")


def loads(raw: bytes | str, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses texts nested deeper than ``max_depth`` before parsing.

    Every error is a ``ValueError`` (``JSONTooDeepError``, ``json.JSONDecodeError``,
    ``UnicodeDecodeError``), so one ``except ValueError`` covers hostile input.
    """
    if json_too_deep(raw, max_depth):
        raise JSONTooDeepError(max_depth)
    return json.loads(raw)
