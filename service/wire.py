"""Content negotiation: request bodies in, documents out, as JSON or msgpack.

Both encodings carry the same documents. In JSON, non-finite numbers are the strings
"NaN", "Infinity", "-Infinity"; msgpack carries them natively.
"""

from __future__ import annotations

import gc

import msgpack
import orjson
from flask import Response, current_app, g, request

from circuitgrad.engine.formats.codec import jsonable
from circuitgrad.engine.gcpause import gc_paused

from .errors import CLOSE, BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType
from .offload import cpu

JSON = "application/json"
MSGPACK = "application/msgpack"
PROBLEM_JSON = "application/problem+json"
JSON_TYPES = frozenset({JSON, "text/json"})
MSGPACK_TYPES = frozenset({MSGPACK, "application/x-msgpack", "application/vnd.msgpack"})


def read_body():
    """The decoded request body: 415, 413 (over the byte limit of its encoding, whether it
    has a Content-Length or arrives chunked; or more values than a document may have,
    counted before decoding), 408 (stalled), 400."""
    mimetype = request.mimetype
    if mimetype not in JSON_TYPES and mimetype not in MSGPACK_TYPES:
        raise UnsupportedMediaType(
            f"send {JSON} or {MSGPACK}, not {mimetype or 'a body without Content-Type'}"
        )
    s = current_app.extensions["circuitgrad"].settings
    packed = mimetype in MSGPACK_TYPES
    if packed:
        limit, name = s.max_body_bytes, "CIRCUITGRAD_MAX_BODY_BYTES"
    else:
        limit = min(s.max_json_body_bytes, s.max_body_bytes)
        name = "CIRCUITGRAD_MAX_JSON_BODY_BYTES"
    data = read_limited(request.environ, request.content_length, limit, name)
    if not data:
        raise BadRequest("the request body is empty")
    if len(data) > OFFLOAD_BYTES:  # decoding holds the event loop: not here
        pause_collector()
        return cpu(decode, data, packed, s.max_document_items)
    return decode(data, packed, s.max_document_items)


OFFLOAD_BYTES = 1 << 20
_paused = 0  # requests of this process holding a large decoded document


def pause_collector() -> None:
    """Keep the cyclic collector off until this request ends (``resume_collector``): a
    large document is millions of containers, all alive until the view returns; a
    collection meanwhile would walk them all and find nothing."""
    global _paused
    if not g.get("circuitgrad_gc_paused"):
        g.circuitgrad_gc_paused = True
        _paused += 1
        gc.disable()


def resume_collector(_error=None) -> None:
    """Teardown: the request's document is gone; the last one out turns the collector on."""
    global _paused
    if g.pop("circuitgrad_gc_paused", False):
        _paused -= 1
        if _paused == 0:
            gc.enable()


def decode(data, packed: bool, max_items: int):
    """The document of a body; the cyclic collector paused meanwhile (a large document is
    millions of young containers: collections that find nothing would cost ~7x the
    decoding)."""
    if packed:
        with gc_paused():
            return decode_msgpack(data, max_items)
    items = json_items(data)
    if items > max_items:
        raise too_many_items(items, max_items)
    try:
        with gc_paused():
            return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"malformed JSON: {e}") from None


READ_CHUNK = 1 << 20


def read_limited(environ, length: int | None, limit: int, setting: str) -> bytes | bytearray:
    """At most ``limit`` bytes of the body, read as they come (``wsgi.input``; a chunked
    body has no length): 413 as soon as it is known to be longer, without reading the rest,
    408 when it stalls (the HTTP front's socket timeout). Memory: the body once (a chunked
    one twice for a moment, when its pieces are joined; a refused one never more than
    ``limit``)."""
    what = f"the limit for this media type is {limit} bytes ({setting})"
    if length is not None and length > limit:
        raise PayloadTooLarge(f"the body has {length} bytes; {what}", headers=CLOSE)
    stream = environ.get("wsgi.input")
    if stream is None or length == 0:
        return b""
    buf = bytearray(length) if length is not None else None
    pieces: list[bytes] = []
    got = 0
    want = length if length is not None else limit + 1
    try:
        while got < want:
            chunk = stream.read(min(READ_CHUNK, want - got))
            if not chunk:
                break
            if buf is not None:
                buf[got : got + len(chunk)] = chunk
            else:
                pieces.append(chunk)
            got += len(chunk)
    except OSError:  # socket.timeout included: the client stalled mid-body
        raise RequestTimeout(
            f"the body stopped arriving after {got} bytes (CIRCUITGRAD_BODY_TIMEOUT)",
            headers=CLOSE,
        ) from None
    if got > limit:
        pieces.clear()
        raise PayloadTooLarge(f"the body has more than {limit} bytes; {what}", headers=CLOSE)
    if buf is None:
        return b"".join(pieces)
    if got < length:
        raise BadRequest(f"the body ended after {got} of {length} bytes", headers=CLOSE)
    return buf


def json_items(data) -> int:
    """An upper bound of the values a JSON text decodes to (every value after a container's
    first one follows a comma), counted in a few passes of ``bytes.count`` before decoding."""
    return data.count(b",") + data.count(b"[") + data.count(b"{") + 1


def too_many_items(items: int | None, limit: int) -> PayloadTooLarge:
    held = f"about {items:,}" if items is not None else f"more than {limit:,}"
    return PayloadTooLarge(
        f"the document holds {held} values; the limit is {limit:,} "
        "(CIRCUITGRAD_MAX_DOCUMENT_ITEMS; large circuits fit in msgpack's packed form)"
    )


class _TooManyItems(Exception):
    pass


def decode_msgpack(data, limit: int):
    """msgpack with at most ``limit`` array items and map entries in all (counted as the
    decoder builds them: a container longer than the limit is refused before it is built)."""
    count = 0

    def counted(x):
        nonlocal count
        count += len(x)
        if count > limit:
            raise _TooManyItems()
        return x

    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            list_hook=counted,
            object_hook=counted,
            max_array_len=limit,
            max_map_len=limit,
        )
    except _TooManyItems:
        raise too_many_items(count, limit) from None
    except ValueError as e:
        if "exceeds max" in str(e):
            raise too_many_items(None, limit) from None
        raise BadRequest(f"malformed msgpack: {e or type(e).__name__}") from None
    except Exception as e:  # the decoder raises several types; all mean a bad body
        raise BadRequest(f"malformed msgpack: {e or type(e).__name__}") from None


def wants_msgpack() -> bool:
    best = request.accept_mimetypes.best_match(
        [JSON, MSGPACK, "application/x-msgpack"], default=JSON
    )
    return best != JSON


def encode(doc) -> tuple[bytes, str]:
    """``doc`` in the negotiated encoding: (bytes, media type)."""
    if wants_msgpack():
        return msgpack.packb(doc, use_bin_type=True, default=_plain), MSGPACK
    return orjson.dumps(jsonable(doc), option=orjson.OPT_SERIALIZE_NUMPY), JSON


def respond(doc, status: int = 200, headers: dict | None = None) -> Response:
    body, mimetype = encode(doc)
    return raw_response(body, mimetype, status, headers)


def raw_response(body: bytes, mimetype: str, status: int = 200, headers=None) -> Response:
    r = Response(body, status=status, mimetype=mimetype, headers=headers)
    r.vary.add("Accept")
    return r


def problem_response(problem: dict, headers: dict | None = None) -> Response:
    """Problems are always JSON (``application/problem+json``)."""
    return Response(
        orjson.dumps(problem), status=problem["status"], mimetype=PROBLEM_JSON, headers=headers
    )


def _plain(x):
    import numpy as np

    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"cannot encode {type(x).__name__}")
