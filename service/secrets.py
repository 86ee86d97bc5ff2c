"""``circuitgrad secrets --dir DIR``: the deployment's secrets, generated on first start.

docker-compose runs this once (service ``secrets``) before anything else, into a volume
that only its services mount. Files already there are kept, so secrets survive restarts
and can be replaced by hand (or by real Compose/Docker secrets pointing the same
variables elsewhere):

    DIR/redis_password   Redis's password (CIRCUITGRAD_REDIS_PASSWORD_FILE)
    DIR/redis.conf       ``requirepass`` for redis-server (its first argument)
    DIR/api_keys         ``<key>:default``: the API key (CIRCUITGRAD_API_KEYS_FILE; more
                         ``key:tenant`` lines may be added)

Nothing secret is printed: only where to find it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _write_new(path: Path, text: str, mode: int) -> bool:
    """Write ``text`` to ``path`` unless it exists; whether it was written."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)  # whatever the umask
    return True


def ensure_secrets(folder: str | os.PathLike) -> dict[str, Path]:
    """Create the missing secrets in ``folder``; their paths."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    paths = {name: d / name for name in ("redis_password", "redis.conf", "api_keys")}
    _write_new(paths["redis_password"], secrets.token_urlsafe(32) + "\n", 0o644)
    password = paths["redis_password"].read_text().strip()
    # redis-server runs as its own user: these two are readable inside the volume only
    _write_new(paths["redis.conf"], f'requirepass "{password}"\n', 0o644)
    _write_new(paths["api_keys"], f"cg_{secrets.token_urlsafe(32)}:default\n", 0o600)
    return paths


def main(folder: str) -> int:
    created = not (Path(folder) / "api_keys").exists()
    paths = ensure_secrets(folder)
    state = "generated" if created else "kept"
    print(
        f"circuitgrad secrets {state} in {folder}: the API key is in {paths['api_keys']} "
        f"(docker compose exec api cat {paths['api_keys']}), Redis's password in "
        f"{paths['redis_password']}",
        flush=True,
    )
    return 0
