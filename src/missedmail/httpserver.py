"""The HTTP server of `missedmail run` and `missedmail web`: waitress, in this process.

waitress is a threaded, pure-Python WSGI server: it runs beside the worker threads in one
process without forking (forking a process that holds broker and database connections is
unsafe), and stops cleanly from a signal handler. For many web processes behind a load
balancer, gunicorn can serve `missedmail.wsgi:application` instead (docs/operations.md).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.urls import get_resolver
from waitress import create_server

from missedmail.wsgi import application

logger = logging.getLogger(__name__)


class HttpServer:
    def __init__(self, host: str, port: int, *, threads: int = 8) -> None:
        # Import every view now, not in the first request: the URL configuration pulls in
        # the API, its schemas and the operator UI (~0.4 s of CPU, measured), which would
        # otherwise be the first client's wait.
        get_resolver().url_patterns  # noqa: B018 -- evaluated for its import side effect
        self._server: Any = create_server(
            application, host=host, port=port, threads=threads, ident="missedmail"
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # waitress reports it as a string

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)
        self._thread.start()
        logger.info("action=http_started port=%d", self.port)

    def stop(self) -> None:
        # Finish the requests in flight and end the handler threads first: waitress's
        # close() shuts the trigger socket that a handler thread writes to when it finishes
        # a response, so closing first races with them (EBADF tracebacks at shutdown).
        self._server.task_dispatcher.shutdown(timeout=5)
        self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
