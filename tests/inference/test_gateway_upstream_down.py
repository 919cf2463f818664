"""When the model server is down, or dies in the middle of a call (as llama.cpp does when
it crashes), the caller gets a 502/503 in its own protocol's error shape: OpenAI's on
/v1/chat/completions, Anthropic's on /v1/messages, the native one on /inference; a stream
that already started ends with the protocol's error event. Each call leaves its row."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = [{"role": "user", "content": "hello"}]


class Dying(BaseHTTPRequestHandler):
    """Lists its model, then drops every chat call: at once, or after one SSE chunk."""

    mid_stream = False

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.mid_stream and body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chunk = {"choices": [{"index": 0, "delta": {"content": "Half an ans"}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        # What a segfault looks like from outside: the connection just ends.
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


@pytest.fixture
def dying() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Dying)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_provider(gw, name: str, base_url: str) -> str:
    ProviderFactory(
        project=gw.project, name=name, base_url=base_url, default_model="m",
        timeout_seconds=5,
    )  # fmt: skip
    return f"{name}/m"


def calls(gw, model: str) -> dict[str, httpx.Response]:
    h = gw.headers()
    with httpx.Client(timeout=60) as client:
        return {
            "openai": client.post(
                f"{gw.url}/v1/chat/completions", json={"model": model, "messages": CHAT}, headers=h
            ),
            "anthropic": client.post(
                f"{gw.url}/v1/messages",
                json={"model": model, "max_tokens": 10, "messages": CHAT},
                headers={**h, "anthropic-version": "2023-06-01"},
            ),
            "native": client.post(
                f"{gw.url}/inference",
                json={"model_id": model, "task": "generate", "messages": CHAT},
                headers=h,
            ),
        }


def assert_protocol_errors(responses: dict[str, httpx.Response]) -> None:
    for protocol, response in responses.items():
        assert response.status_code in (502, 503), (protocol, response.text)
        body = response.json()
        if protocol == "openai":
            assert set(body) == {"error"}
            assert body["error"]["type"] == "api_error" and body["error"]["message"]
            assert body["error"]["code"] in ("upstream_error", "unavailable")
        elif protocol == "anthropic":
            assert body["type"] == "error"
            assert body["error"]["type"] in ("api_error", "overloaded_error")
            assert body["error"]["message"]
        else:
            assert body["detail"] and body["code"] in ("upstream_error", "unavailable")


def test_a_model_server_that_is_down_is_a_502_in_each_protocol(gw):
    # Resolving the model lists the provider's models: an unreachable one is let through
    # (the call itself then fails) rather than answering that the model does not exist.
    model = add_provider(gw, "down", f"http://127.0.0.1:{free_port()}/v1")
    responses = calls(gw, model)
    assert_protocol_errors(responses)
    rows = gw.rows(3)
    assert {(r.status, r.http_status) for r in rows} == {("error", 502)}


def test_a_model_server_that_dies_mid_call_is_a_502_in_each_protocol(gw, dying):
    model = add_provider(gw, "dying", f"http://127.0.0.1:{dying.server_port}/v1")
    responses = calls(gw, model)
    assert_protocol_errors(responses)
    for response in responses.values():
        assert "closed" in json.dumps(response.json())  # "The connection … closed before…"
    assert {(r.status, r.http_status) for r in gw.rows(3)} == {("error", 502)}


def test_a_model_server_that_dies_mid_stream_ends_the_stream_with_an_error_event(gw, dying):
    Dying.mid_stream = True
    try:
        model = add_provider(gw, "dying", f"http://127.0.0.1:{dying.server_port}/v1")
        h = gw.headers()
        with httpx.Client(timeout=60) as client:
            openai = client.post(
                f"{gw.url}/v1/chat/completions",
                json={"model": model, "messages": CHAT, "stream": True},
                headers=h,
            )
            anthropic = client.post(
                f"{gw.url}/v1/messages",
                json={"model": model, "max_tokens": 10, "messages": CHAT, "stream": True},
                headers={**h, "anthropic-version": "2023-06-01"},
            )
    finally:
        Dying.mid_stream = False
    assert openai.status_code == 200  # the stream had started
    events = [line[6:] for line in openai.text.splitlines() if line.startswith("data: ")]
    assert "Half an ans" in openai.text and "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["type"] == "api_error" and error["code"] == "upstream_error"
    assert anthropic.status_code == 200 and "Half an ans" in anthropic.text
    last = anthropic.text.strip().splitlines()
    assert last[-2] == "event: error"
    assert json.loads(last[-1][6:])["error"]["type"] in ("api_error", "overloaded_error")
    rows = gw.rows(2)
    assert {(r.status, r.http_status, r.streamed) for r in rows} == {("error", 502, True)}
    assert {r.output_text for r in rows} == {"Half an ans"}
