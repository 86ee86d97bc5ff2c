"""The playground at ``/`` and the assets of the API reference at ``/v1/docs``: public,
served by the service itself (nothing from a CDN, so both work offline).

The playground is three hand-written files in ``static/`` (HTML, CSS, vanilla JS) that
use the public HTTP API only; Flask serves them under ``/static/``. The reference page is
apiflask's Swagger UI page with its scripts and styles pointed at ``/v1/docs/assets/``,
which serves Swagger UI's distribution as the ``flask-swagger-ui`` package ships it (a
Swagger UI 5, which renders OpenAPI 3.1).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("playground", __name__)

PLAYGROUND_PATH = "/"
ASSETS_PATH = "/v1/docs/assets"
MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)


def swagger_ui_dist() -> Path | None:
    """Swagger UI's files, from the flask-swagger-ui package (the service extra)."""
    try:
        import flask_swagger_ui
    except ModuleNotFoundError:
        return None
    dist = Path(flask_swagger_ui.__file__).parent / "dist"
    return dist if dist.is_dir() else None


def docs_config() -> dict:
    """apiflask's settings that make ``/v1/docs`` load its assets from this service (by
    relative URLs: they also work under a script root or behind a proxy's prefix)."""
    assets = ASSETS_PATH.removeprefix("/v1/")  # relative to the page, /v1/docs
    return {
        "SWAGGER_UI_CSS": f"{assets}/swagger-ui.css",
        "SWAGGER_UI_BUNDLE_JS": f"{assets}/swagger-ui-bundle.js",
        "SWAGGER_UI_STANDALONE_PRESET_JS": f"{assets}/swagger-ui-standalone-preset.js",
        "DOCS_FAVICON": f"{assets}/favicon-32x32.png",
        "SWAGGER_UI_CONFIG": {"validatorUrl": None},  # no call to the online validator
    }


@bp.get(PLAYGROUND_PATH)
def playground():
    """The playground page (HTML)."""
    return send_from_directory(Path(current_app.root_path) / "static", "index.html")


@bp.get(f"{ASSETS_PATH}/<name>")
def docs_asset(name: str):
    """A file of Swagger UI's distribution, for ``/v1/docs``."""
    dist = swagger_ui_dist()
    if dist is None or name not in ASSETS:
        abort(404)
    media = MEDIA_TYPES[Path(name).suffix]
    return send_from_directory(dist, name, mimetype=media, max_age=86400)
