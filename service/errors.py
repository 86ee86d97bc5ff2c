"""Errors of the HTTP layer; each one is a problem document (RFC 9457).

    ApiError                 500  base: status, slug, title; ``problem()`` builds the document
      BadRequest             400  the body cannot be parsed (malformed JSON or msgpack)
      Unauthorized           401  missing or unknown API key
      NotFound               404  unknown id (also another tenant's)
      MethodNotAllowed       405
      RequestTimeout         408  the headers or the body did not arrive in time
      Conflict               409  the job is final already
      PayloadTooLarge        413  body, document or circuit over the configured limits
      UriTooLong             414  request line over gunicorn's limit (the HTTP front)
      UnsupportedMediaType   415  neither JSON nor msgpack
      Invalid                422  well-formed but invalid: ``errors`` names each place
      RateLimited            429  with Retry-After
      HeadersTooLarge        431  header fields over gunicorn's limits (the HTTP front)
      Unavailable            503  store or queue unreachable, store full; with Retry-After

One handler (``app.py``) turns every exception — ours, werkzeug's, the engine's and the
store's — into one of these, so no request ends in an HTML page or a bare 500.
"""

from __future__ import annotations

from circuitgrad.worker.problems import problem


class ApiError(Exception):
    status = 500
    slug = "internal"
    title = "Internal error"

    def __init__(self, detail: str = "", errors=None, headers: dict | None = None):
        self.errors = list(errors or [])  # (path, message) pairs
        if not detail and self.errors:  # the first place, and how many more
            path, message = self.errors[0]
            more = len(self.errors) - 1
            detail = f"{path or '/'}: {message}" + (f" (and {more} more)" if more else "")
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = dict(headers or {})

    def problem(self) -> dict:
        return problem(self.status, self.slug, self.title, self.detail, self.errors)


class BadRequest(ApiError):
    status, slug, title = 400, "malformed", "Malformed body"


class Unauthorized(ApiError):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str = ""):
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="circuitgrad"'})


class NotFound(ApiError):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(ApiError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class RequestTimeout(ApiError):
    status, slug, title = 408, "request-timeout", "Request timeout"


class Conflict(ApiError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(ApiError):
    status, slug, title = 413, "too-large", "Payload too large"


class UriTooLong(ApiError):
    status, slug, title = 414, "uri-too-long", "URI too long"


class UnsupportedMediaType(ApiError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class Invalid(ApiError):
    status, slug, title = 422, "invalid", "Invalid document"


class RateLimited(ApiError):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, retry_after: int = 1):
        super().__init__("request rate limit exceeded", headers={"Retry-After": str(retry_after)})


class HeadersTooLarge(ApiError):
    status, slug, title = 431, "headers-too-large", "Request header fields too large"


class Unavailable(ApiError):
    status, slug, title = 503, "unavailable", "Service unavailable"

    def __init__(self, detail: str = "", retry_after: int = 5):
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class NotImplementedStatus(ApiError):
    status, slug, title = 501, "not-implemented", "Not implemented"


BY_STATUS = {cls.status: cls for cls in ApiError.__subclasses__()}
CLOSE = {"Connection": "close"}  # the HTTP front closes the connection after this answer
