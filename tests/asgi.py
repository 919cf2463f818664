"""Calling an ASGI app in-process with a body that counts what the app read of it."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

MB = 1024 * 1024


@dataclass
class CountingBody:
    """`receive` for a body of `total` bytes sent in `chunk`-byte messages, produced only
    as the app asks for them; `read` is how many bytes the app took."""

    total: int
    chunk: int = MB
    read: int = 0
    calls: int = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.read >= self.total:
            await asyncio.sleep(3600)  # a client that sent everything waits for the answer
        size = min(self.chunk, self.total - self.read)
        self.read += size
        return {"type": "http.request", "body": b"x" * size, "more_body": self.read < self.total}


@dataclass
class Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    app: Any,
    path: str,
    body: CountingBody,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    declare_length: bool = False,
) -> Answer:
    """One request to `app`; chunked unless `declare_length` sends a Content-Length."""
    sent = dict(headers or {})
    sent.setdefault("host", "127.0.0.1")
    sent.setdefault("content-type", "application/json")
    if declare_length:
        sent["content-length"] = str(body.total)
    else:
        sent["transfer-encoding"] = "chunked"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    answer = Answer()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    async def run() -> None:
        await asyncio.wait_for(app(scope, body, send), timeout=60)

    asyncio.run(run())
    return answer
