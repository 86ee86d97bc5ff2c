"""Who is calling: API keys to tenants, and a per-tenant request rate limit.

Without configured keys every caller is the one default tenant. With keys
(``CIRCUITGRAD_API_KEYS="key1:tenantA,key2:tenantB"``) every call but the public ones
needs ``Authorization: Bearer <key>``, and a tenant sees only its own circuits and jobs.
"""

from __future__ import annotations

import hmac
import time

from flask import g, request

from circuitgrad.worker.connection import store_errors
from circuitgrad.worker.errors import StoreFull
from circuitgrad.worker.runtime import Runtime
from circuitgrad.worker.settings import DEFAULT_TENANT

from .errors import RateLimited, Unauthorized

PUBLIC_PATHS = frozenset(
    {"/", "/v1/health", "/v1/ready", "/v1/openapi.json", "/v1/docs", "/metrics"}
)
PUBLIC_PREFIXES = ("/static/", "/v1/docs/assets/")  # the playground's and the docs' files


def is_public(path: str) -> bool:
    """Needs no key: health, readiness, metrics, the OpenAPI document and its page, the
    playground."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def identify(rt: Runtime) -> str:
    """The calling tenant (401 for a missing or unknown key when keys are configured)."""
    keys = rt.settings.api_keys
    if not keys:
        return DEFAULT_TENANT
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer <API key>")
    for key, tenant in keys:  # compare every key in constant time
        if hmac.compare_digest(key.encode(), token.encode()):
            return tenant
    raise Unauthorized("unknown API key")


def limit_rate(rt: Runtime, tenant: str) -> None:
    """At most ``rate_limit`` requests per second per tenant (a fixed one-second window)."""
    limit = rt.settings.rate_limit
    if limit <= 0:
        return
    key = rt.keys.rate(tenant, int(time.time()))
    try:
        with store_errors():
            pipe = rt.redis.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 2)
            count = pipe.execute()[0]
    except StoreFull:  # a full store still serves reads: count nothing rather than refuse
        return
    if count > limit:
        raise RateLimited(retry_after=1)


def before_request(rt: Runtime) -> None:
    if is_public(request.path) or request.method == "OPTIONS":
        return
    g.tenant = identify(rt)
    limit_rate(rt, g.tenant)


def tenant() -> str:
    return g.get("tenant", DEFAULT_TENANT)
