"""Webhook calls: the WebhookRequest the engine sends and a real HTTP caller built on urllib.

The engine takes any ``WebhookCaller``: ``caller(webhook, request, timeout) -> response`` where
``webhook`` is the webhook resource (package JSON), ``request`` a WebhookRequest in proto JSON and
the return value a WebhookResponse in proto JSON. Failures raise :class:`WebhookError` whose
``kind`` names the CX event it maps to: ``webhook.error.timeout``, ``…unavailable``,
``…bad-request``, ``…not-found`` or plain ``webhook.error``.

A host that could not be reached (name not resolved, connection refused, no answer in time) is
remembered for ``UNREACHABLE_TTL`` seconds: calls to it in that window fail at once with the same
event, so an offline machine replays a thousand test cases without a thousand DNS look-ups.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 5.0

WebhookCaller = Callable[[dict[str, Any], dict[str, Any], float], dict[str, Any]]


class WebhookError(Exception):
    """A webhook call failed; ``kind`` is the suffix of the ``webhook.error.*`` event it raises."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def event(self) -> str:
        return "webhook.error" if self.kind == "error" else f"webhook.error.{self.kind}"


def timeout_of(webhook: dict[str, Any]) -> float:
    timeout = webhook.get("timeout") or {}
    seconds = float(timeout.get("seconds", 0) or 0) + float(timeout.get("nanos", 0) or 0) / 1e9
    return seconds or DEFAULT_TIMEOUT_SECONDS


def endpoint_of(webhook: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The URL and request headers of a generic web service webhook."""
    service = webhook.get("genericWebService") or {}
    uri = str(service.get("uri", ""))
    headers = service.get("requestHeaders") or {}
    if isinstance(headers, list):  # the package format writes headers as key/value entries
        headers = {str(h.get("key", "")): str(h.get("value", "")) for h in headers}
    if not uri:
        raise WebhookError("not-found", f"webhook {webhook.get('displayName', '')!r} has no generic web service URI")
    return uri, {str(k): str(v) for k, v in headers.items()}


_ssl_context: ssl.SSLContext | None = None
_ssl_lock = threading.Lock()


def ssl_context() -> ssl.SSLContext:
    """One default TLS context for every call: loading the trust store costs tens of milliseconds."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = ssl.create_default_context()
        return _ssl_context


UNREACHABLE_TTL = 30.0
_unreachable: dict[str, tuple[float, WebhookError]] = {}
_unreachable_lock = threading.Lock()


def _known_unreachable(host: str) -> WebhookError | None:
    with _unreachable_lock:
        entry = _unreachable.get(host)
        if entry is None or entry[0] < time.monotonic():
            _unreachable.pop(host, None)
            return None
        return entry[1]


def _remember_unreachable(host: str, error: WebhookError) -> None:
    with _unreachable_lock:
        if len(_unreachable) > 1024:
            _unreachable.clear()
        _unreachable[host] = (time.monotonic() + UNREACHABLE_TTL, error)


def http_webhook_caller(webhook: dict[str, Any], request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST the WebhookRequest as JSON to the webhook's URI with its headers; parse the WebhookResponse."""
    uri, headers = endpoint_of(webhook)
    host = urllib.parse.urlsplit(uri).netloc
    known = _known_unreachable(host)
    if known is not None:
        raise WebhookError(known.kind, str(known))
    try:
        return _post(uri, headers, request, timeout)
    except WebhookError as exc:
        if exc.kind in ("unavailable", "timeout") and not isinstance(exc.__cause__, urllib.error.HTTPError):
            _remember_unreachable(host, exc)
        raise


def _post(uri: str, headers: dict[str, str], request: dict[str, Any], timeout: float) -> dict[str, Any]:
    body = json.dumps(request).encode()
    http_request = urllib.request.Request(uri, data=body, method="POST")
    http_request.add_header("Content-Type", "application/json")
    for key, value in headers.items():
        http_request.add_header(key, value)
    try:
        context = ssl_context() if uri.lower().startswith("https:") else None
        with urllib.request.urlopen(http_request, timeout=timeout, context=context) as reply:
            payload = reply.read()
    except urllib.error.HTTPError as exc:
        kind = {400: "bad-request", 404: "not-found", 503: "unavailable"}.get(exc.code, "error")
        raise WebhookError(kind, f"webhook {uri} answered HTTP {exc.code}") from exc
    except TimeoutError as exc:
        raise WebhookError("timeout", f"webhook {uri} did not answer within {timeout:g}s") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError | socket.timeout):
            raise WebhookError("timeout", f"webhook {uri} did not answer within {timeout:g}s") from exc
        raise WebhookError("unavailable", f"webhook {uri} is unreachable: {reason}") from exc
    try:
        response = json.loads(payload or b"{}")
    except ValueError as exc:
        raise WebhookError("error", f"webhook {uri} returned a body that is not JSON") from exc
    if not isinstance(response, dict):
        raise WebhookError("error", f"webhook {uri} returned JSON that is not an object")
    return response


def unreachable_webhook_caller(webhook: dict[str, Any], request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """A caller for machines without network: every call fails as CX does when the URL is unreachable."""
    raise WebhookError("unavailable", f"webhook {webhook.get('displayName', '')!r} is not reachable from here")
