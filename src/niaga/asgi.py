"""ASGI entry point for uvicorn workers: `niaga.asgi:app`."""

from niaga.app import create_app

app = create_app()
