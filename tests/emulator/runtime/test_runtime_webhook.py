from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from airflow_provider_cx.emulator.runtime.webhook import WebhookError, http_webhook_caller


class _Handler(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.received.append((self.path, dict(self.headers), body))
        if self.path == "/down":
            self.send_response(503)
            self.end_headers()
            return
        payload = json.dumps({"sessionInfo": {"parameters": {"echo": body["fulfillmentInfo"]["tag"]}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_caller_posts_request_with_headers(server: str) -> None:
    webhook = {
        "displayName": "w",
        "genericWebService": {"uri": server + "/hook", "requestHeaders": [{"key": "X-Key", "value": "s3"}]},
    }
    response = http_webhook_caller(webhook, {"fulfillmentInfo": {"tag": "t1"}}, 5)
    assert response == {"sessionInfo": {"parameters": {"echo": "t1"}}}
    path, headers, body = _Handler.received[-1]
    assert path == "/hook"
    assert headers["X-Key"] == "s3"
    assert body["fulfillmentInfo"]["tag"] == "t1"


def test_http_caller_maps_failures_to_webhook_error_events(server: str) -> None:
    with pytest.raises(WebhookError) as down:
        http_webhook_caller({"genericWebService": {"uri": server + "/down"}}, {}, 5)
    assert down.value.event == "webhook.error.unavailable"
    with pytest.raises(WebhookError) as refused:
        http_webhook_caller({"genericWebService": {"uri": "http://127.0.0.1:9/x"}}, {}, 2)
    assert refused.value.kind == "unavailable"
    with pytest.raises(WebhookError) as missing:
        http_webhook_caller({"displayName": "w"}, {}, 2)
    assert missing.value.kind == "not-found"


def test_an_unreachable_host_is_remembered_but_an_http_error_is_not(server: str, monkeypatch) -> None:
    import socket

    from airflow_provider_cx.emulator.runtime import webhook as webhook_module

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    calls = []
    real_post = webhook_module._post
    monkeypatch.setattr(webhook_module, "_post", lambda *a: calls.append(a[0]) or real_post(*a))
    for _ in range(2):
        with pytest.raises(WebhookError) as refused:
            http_webhook_caller({"genericWebService": {"uri": closed + "/hook"}}, {}, 5)
        assert refused.value.event == "webhook.error.unavailable"
    assert calls == [closed + "/hook"]  # the second call failed at once
    for _ in range(2):
        with pytest.raises(WebhookError):
            http_webhook_caller({"genericWebService": {"uri": server + "/down"}}, {}, 5)
    assert calls[1:] == [server + "/down", server + "/down"]  # a 503 answer is no reason to stop calling
