"""RFC 9457 problem documents: what the API answers on errors and a failed job carries."""

from __future__ import annotations

TYPE_PREFIX = "urn:circuitgrad:problem:"


def problem(status: int, slug: str, title: str, detail: str = "", errors=None) -> dict:
    doc = {"type": TYPE_PREFIX + slug, "title": title, "status": status, "detail": detail or title}
    if errors:
        doc["errors"] = [{"path": path, "message": message} for path, message in errors]
    return doc


def invalid(errors, detail: str = "the request is well-formed but invalid") -> dict:
    """422 naming each offending place: ``errors`` are (JSON pointer, message) pairs."""
    return problem(422, "invalid", "Invalid document", detail, list(errors))
