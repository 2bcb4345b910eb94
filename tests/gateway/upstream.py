"""A fake OpenAI-compatible upstream (Starlette), and uvicorn servers on 127.0.0.1 for
the gateway tests: real sockets, real HTTP, no model."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

#: what the upstream saw: (headers, body) of every call
SEEN: list[tuple[dict[str, str], dict[str, Any]]] = []
CHUNKS = 5
#: the model ``gated`` sends its first chunk, then waits for this before the rest: a
#: client that reads the first chunk before setting it proves nothing was buffered
GATE = threading.Event()


def completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def _chunk(model: str, text: str | None) -> str:
    delta = {"content": text} if text is not None else {}
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [
            {"index": 0, "delta": delta, "finish_reason": None if text is not None else "stop"}
        ],
    }
    return f"data: {json.dumps(body)}\n\n"


async def chat(request: Request) -> Response:
    body = await request.json()
    SEEN.append((dict(request.headers), body))
    model = body.get("model", "m")
    if model == "broken":
        return JSONResponse({"error": {"message": "upstream failed", "type": "server_error"}}, 500)
    if body.get("stream") and model == "gated":

        async def gated() -> AsyncIterator[bytes]:
            yield _chunk(model, "first ").encode()
            opened = await asyncio.to_thread(GATE.wait, 60)
            yield _chunk(model, "after-gate " if opened else "BUFFERED ").encode()
            yield _chunk(model, None).encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(gated(), media_type="text/event-stream")
    if body.get("stream") and model == "snapped":

        async def snapped() -> AsyncIterator[bytes]:
            yield _chunk(model, "first ").encode()
            await asyncio.sleep(0.05)
            raise ConnectionAbortedError("the model server fell over mid-answer")

        return StreamingResponse(snapped(), media_type="text/event-stream")
    if body.get("stream"):

        async def events() -> AsyncIterator[bytes]:
            for i in range(CHUNKS):
                yield _chunk(model, f"part{i} ").encode()
                await asyncio.sleep(0.01)  # separate chunks on the wire
            yield _chunk(model, None).encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
    return JSONResponse(completion(model, "fake answer"))


def upstream_app() -> Starlette:
    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yield its base URL.

    The socket is bound here and handed to uvicorn: a port picked first and bound later
    could be taken meanwhile by a server of another test process (pytest-xdist), and
    the tests would then talk to that one.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        end = time.monotonic() + 60  # a guard against a hang, not a timing
        while not server.started:
            assert thread.is_alive() and time.monotonic() < end, "the server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
