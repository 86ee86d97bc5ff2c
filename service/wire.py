"""Content negotiation: request bodies in, documents out, as JSON or msgpack.

Both encodings carry the same documents. In JSON, non-finite numbers are the strings
"NaN", "Infinity", "-Infinity"; msgpack carries them natively.
"""

from __future__ import annotations

import msgpack
import orjson
from flask import Response, request

from circuitgrad.engine.formats.codec import jsonable

from .errors import BadRequest, UnsupportedMediaType

JSON = "application/json"
MSGPACK = "application/msgpack"
PROBLEM_JSON = "application/problem+json"
JSON_TYPES = frozenset({JSON, "text/json"})
MSGPACK_TYPES = frozenset({MSGPACK, "application/x-msgpack", "application/vnd.msgpack"})


def body_is_msgpack() -> bool:
    return request.mimetype in MSGPACK_TYPES


def read_body():
    """The decoded request body (413 before parsing when over the limit, 400, 415)."""
    mimetype = request.mimetype
    if mimetype not in JSON_TYPES and mimetype not in MSGPACK_TYPES:
        raise UnsupportedMediaType(
            f"send {JSON} or {MSGPACK}, not {mimetype or 'a body without Content-Type'}"
        )
    data = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    if not data:
        raise BadRequest("the request body is empty")
    if mimetype in MSGPACK_TYPES:
        try:
            return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
        except Exception as e:  # the decoder raises several types; all mean a bad body
            raise BadRequest(f"malformed msgpack: {e or type(e).__name__}") from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"malformed JSON: {e}") from None


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
