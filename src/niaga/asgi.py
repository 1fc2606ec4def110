"""ASGI entry point for uvicorn workers: `niaga.asgi:app`."""

from niaga.app import create_app
from niaga.kit.heap import settle_heap

app = create_app()
settle_heap()  # the app is built: what is alive now lives as long as the process
