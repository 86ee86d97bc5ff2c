"""circuitgrad's Python SDK: upload circuits, get gradient circuits, evaluate them.

    from circuitgrad.client import Client

    client = Client("http://127.0.0.1:8000")       # or Client("local"): no server
    f = client.upload("(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2")
    grad = f.gradient(mode="backward").wait(timeout=60).result
    grad.evaluate({"x": 1.0, "y": 2.0, "z": 3.0})  # array([df/dx, df/dy, df/dz])

The SDK speaks HTTP only (httpx underneath), plus the engine for local mode and for the
circuit codec. See docs/sdk.md.
"""

from .client import AsyncClient, Client
from .errors import (
    APIError,
    BadRequest,
    CircuitgradError,
    Conflict,
    ConnectionFailed,
    ErrorItem,
    JobCancelled,
    JobFailed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Timeout,
    Unauthorized,
    ValidationError,
)
from .resources import CircuitRef, Job
from .retry import RetryPolicy

__all__ = [
    "APIError",
    "AsyncClient",
    "BadRequest",
    "CircuitRef",
    "CircuitgradError",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "ErrorItem",
    "Job",
    "JobCancelled",
    "JobFailed",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "Timeout",
    "Unauthorized",
    "ValidationError",
]
