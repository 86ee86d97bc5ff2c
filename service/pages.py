"""Page tokens of the listings (AIP-158): opaque to clients, signed, tied to their query.

A token carries where the previous page stopped (``catalog.Cursor``) and a digest of what
was asked (the listing, the tenant, the filters, not the page size). It is signed with
HMAC-SHA256 under a key kept in Redis (``keys.secret``, made on first use, expiring with
the retention period: a token never outlives what it points into). A token that does
not decode, is not signed by this deployment, or was made for another query is a 422
naming ``/query/page_token``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time

import orjson

from circuitgrad.worker.catalog import Cursor
from circuitgrad.worker.connection import store_errors
from circuitgrad.worker.runtime import Runtime

from .errors import Invalid

VERSION = 1
SECRET_CHECK_SECONDS = 60

_secrets: dict[str, tuple[bytes, float]] = {}
_lock = threading.Lock()


def _secret(rt: Runtime) -> bytes:
    key = rt.keys.secret()
    where = f"{rt.settings.redis_url} {key}"
    with _lock:
        found = _secrets.get(where)
    if found is not None and time.monotonic() - found[1] < SECRET_CHECK_SECONDS:
        return found[0]
    r, ttl = rt.redis, rt.settings.retention_seconds
    with store_errors():
        value = r.get(key)
        if value is None:
            r.set(key, os.urandom(32), nx=True, ex=ttl)
            value = r.get(key)
        else:
            r.expire(key, ttl)
    with _lock:
        _secrets[where] = (value, time.monotonic())
    return value


def _digest(query: dict) -> str:
    return hashlib.sha256(orjson.dumps(query, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode(rt: Runtime, query: dict, cursor: Cursor | None) -> str:
    """The token of the page after ``cursor`` ("" when there is none)."""
    if cursor is None:
        return ""
    body = orjson.dumps([VERSION, _digest(query), repr(cursor.score), cursor.member])
    mac = hmac.new(_secret(rt), body, hashlib.sha256).digest()[:16]
    return _b64(body) + "." + _b64(mac)


def decode(rt: Runtime, query: dict, token: str | None) -> Cursor | None:
    """The cursor a token carries (None for no token), or a 422."""
    if not token:
        return None

    def bad(why: str) -> Invalid:
        return Invalid(errors=[("/query/page_token", why)])

    try:
        body_text, _, mac_text = token.partition(".")
        body = base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4))
        mac = base64.urlsafe_b64decode(mac_text + "=" * (-len(mac_text) % 4))
    except (ValueError, TypeError):
        raise bad("not a page token of this service") from None
    expected = hmac.new(_secret(rt), body, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(mac, expected):
        raise bad("not a page token of this service (or an expired one)")
    try:
        version, digest, score, member = orjson.loads(body)
        cursor = Cursor(float(score), str(member))
    except (ValueError, TypeError):
        raise bad("not a page token of this service") from None
    if version != VERSION or digest != _digest(query):
        raise bad("made for another listing or other filters: ask again without it")
    return cursor
