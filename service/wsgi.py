"""The WSGI entry point: ``gunicorn circuitgrad.service.wsgi:app``."""

from circuitgrad.worker.runtime import warm_up
from circuitgrad.worker.settings import settings

from .app import create_app

app = create_app()
if settings().warm_up:
    warm_up(batch=True)  # compiled code loaded before the first request, not during it
