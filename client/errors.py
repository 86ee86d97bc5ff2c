"""Errors raised by the SDK: the service's problem documents turned back into types.

    CircuitgradError              every error the SDK raises
    ├── APIError                  the service answered with a problem document (.status, .problem)
    │   ├── BadRequest            400 unparseable body, 405, 415: a request the SDK got wrong
    │   ├── Unauthorized          401 missing or unknown API key
    │   ├── NotFound              404 unknown circuit or job id (also another tenant's)
    │   ├── Conflict              409 e.g. cancelling a job that is already final
    │   ├── PayloadTooLarge       413 body or circuit over the service's limits
    │   ├── ValidationError       422 well-formed but invalid; .errors names each place
    │   ├── RateLimited           429; .retry_after in seconds (retried automatically)
    │   ├── ServiceUnavailable    503 store or queue unreachable; .retry_after (retried)
    │   │   └── ConnectionFailed  no answer at all: refused, reset, DNS (retried)
    │   └── ServerError           any other 5xx
    ├── JobFailed                 a job ended ``failed``; .job, .problem, .errors
    │   └── JobCancelled          a job ended ``cancelled`` while being waited for
    └── Timeout                   a request or ``Job.wait(timeout)`` ran out of time

``ValidationError.errors`` is the problem document's list of ``ErrorItem(path, message)``,
each ``path`` a JSON pointer into the body the SDK sent (``/gates/12/args/1``) — the same
items the engine raises in local mode. ``ValidationError`` is also a ``ValueError`` and
``Timeout`` a ``TimeoutError``, so generic handlers keep working.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class ErrorItem(NamedTuple):
    """One offending place: a JSON pointer and what is wrong there."""

    path: str
    message: str


class CircuitgradError(Exception):
    """Base of every error the SDK raises."""


class APIError(CircuitgradError):
    """The service answered with an error status; ``problem`` is its RFC 9457 document."""

    def __init__(self, problem: dict[str, Any] | None = None, status: int | None = None):
        problem = dict(problem or {})
        self.problem = problem
        self.status = status if status is not None else problem.get("status")
        self.type: str = problem.get("type", "about:blank")
        self.title: str = problem.get("title", "")
        self.detail: str = problem.get("detail", "")
        self.errors: list[ErrorItem] = [
            ErrorItem(str(e.get("path", "")), str(e.get("message", "")))
            for e in problem.get("errors") or []
            if isinstance(e, dict)
        ]
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"{self.status} {self.title}".strip() if self.status else self.title
        text = ": ".join(t for t in (head, self.detail) if t) or type(self).__name__
        places = "; ".join(f"{e.path or '/'}: {e.message}" for e in self.errors[:5])
        if len(self.errors) > 5:
            places += f" (and {len(self.errors) - 5} more)"
        return f"{text} [{places}]" if places else text


class BadRequest(APIError):
    pass


class Unauthorized(APIError):
    pass


class NotFound(APIError):
    pass


class Conflict(APIError):
    pass


class PayloadTooLarge(APIError):
    pass


class ValidationError(APIError, ValueError):
    """422: the body was well-formed but invalid; ``errors`` lists every place."""


class _Retryable(APIError):
    def __init__(self, problem=None, status=None, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(problem, status)


class RateLimited(_Retryable):
    pass


class ServiceUnavailable(_Retryable):
    pass


class ConnectionFailed(ServiceUnavailable):
    """No HTTP answer at all (refused, reset, unresolvable); ``__cause__`` is httpx's error."""

    def __init__(self, message: str):
        super().__init__({"title": "Connection failed", "detail": message})


class ServerError(APIError):
    pass


class JobFailed(CircuitgradError):
    """A job ended ``failed``: ``problem`` is its error document, ``errors`` its places."""

    def __init__(self, job: Any, problem: dict[str, Any] | None = None):
        self.job = job
        self.problem = dict(problem or {})
        self.errors = APIError(self.problem).errors
        detail = self.problem.get("detail") or self.problem.get("title") or "no detail given"
        super().__init__(f"job {getattr(job, 'id', '?')} {getattr(job, 'status', '')}: {detail}")


class JobCancelled(JobFailed):
    pass


class Timeout(CircuitgradError, TimeoutError):
    pass


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    405: BadRequest,
    409: Conflict,
    413: PayloadTooLarge,
    415: BadRequest,
    422: ValidationError,
    429: RateLimited,
    503: ServiceUnavailable,
}


def from_problem(
    status: int, problem: dict[str, Any] | None, retry_after: float | None = None
) -> APIError:
    """The typed error for an HTTP error status and its problem document."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    if issubclass(cls, _Retryable):
        return cls(problem, status, retry_after=retry_after)
    return cls(problem, status)
