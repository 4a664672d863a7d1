"""An LLM engine failing for real: the openai engine against a loopback HTTP server that never answers, or
that cuts its stream off mid-answer. The failed turn is kept with its reason and partial answer, the
conversation goes on, and the way out (the extractive engine) is offered."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.engines.base import EngineError

PIECES = ["At least ", "34 people ", "were killed"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "hang"

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "hang":
            time.sleep(5)
            return
        # an OpenAI-style event stream in HTTP chunks; the connection dies in the middle of the third chunk
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in PIECES[:2]:
            event = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            data = f"data: {json.dumps(event)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"400\r\ndata: {\"id\"")  # promises 1024 bytes, sends a few, hangs up
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def llm_server():
    servers = []

    def start(mode: str) -> str:
        handler = type("Handler", (_Handler,), {"mode": mode})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _openai_assistant(make_assistant, monkeypatch, url: str):
    monkeypatch.setenv("ASSISTANT_OPENAI_BASE_URL", url)
    monkeypatch.setenv("ASSISTANT_LLM_TIMEOUT", "1")
    return make_assistant("openai")


def test_an_engine_that_times_out_fails_the_turn_and_the_conversation_goes_on(make_assistant, monkeypatch, llm_server):
    assistant = _openai_assistant(make_assistant, monkeypatch, llm_server("hang"))
    with pytest.raises(EngineError) as failure:
        assistant.ask("How many people were killed in the clashes?", "slow")
    message = str(failure.value)
    assert "timed out" in message.lower() and "--engine extractive" in message
    [turn] = assistant.turns("slow")
    assert turn.status == "failed" and "timed out" in turn.error.lower()
    assert failure.value.conversation_id == "slow"

    assistant.switch_engine("extractive")  # the way out the message offers
    _, answer = assistant.ask("Who brokered the ceasefire?", "slow")
    assert answer.status == "ok" and answer.citations
    assert [t.status for t in assistant.turns("slow")] == ["failed", "ok"]


def test_a_stream_cut_off_mid_answer_keeps_the_partial_answer_as_a_failed_turn(make_assistant, monkeypatch, llm_server):
    assistant = _openai_assistant(make_assistant, monkeypatch, llm_server("drop"))
    seen: list[str] = []
    with pytest.raises(EngineError) as failure:
        assistant.ask("How many people were killed in the clashes?", "cut", on_token=seen.append)
    assert "".join(seen) == "".join(PIECES[:2])  # the user saw the words that came
    [turn] = assistant.turns("cut")
    assert turn.status == "failed"
    assert turn.answer == "".join(PIECES[:2]) == failure.value.partial
    assert turn.citations == []  # a partial answer is never passed off as sourced
    assert "--engine extractive" in str(failure.value)

    # the failed turn is not history the next question builds on, and the conversation continues
    assistant.switch_engine("extractive")
    _, answer = assistant.ask("Who brokered the ceasefire?", "cut")
    assert answer.status == "ok" and answer.citations
