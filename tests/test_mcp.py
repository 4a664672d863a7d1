"""`assistant mcp` driven by the MCP SDK's own client, as a desktop client or an agent drives it: over stdio (an
embedded store) and over streamable HTTP (a Chroma server)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from processes import free_port, run_assistant, stop

ASSISTANT = shutil.which("assistant", path=str(Path(sys.executable).parent))
ARTICLE = (Path(__file__).parent.parent / "store" / "data" / "nagorno-karabakh-ceasefire.txt").read_text(encoding="utf-8")


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {**os.environ, "ASSISTANT_STORE": str(tmp_path / "store"),
           "ASSISTANT_CONVERSATIONS": str(tmp_path / "conversations.sqlite"), **more}
    if "ASSISTANT_CHROMA_URL" not in more:
        env.pop("ASSISTANT_CHROMA_URL", None)
    return env


async def _call(session: ClientSession, tool: str, **arguments):
    result = await session.call_tool(tool, arguments)
    return result.structured_content if not result.is_error else result.content[0].text


def test_a_client_over_stdio_searches_asks_follows_up_and_cannot_write(tmp_path):
    env = _env(tmp_path)
    seen = {}

    async def session_of_a_client():
        params = StdioServerParameters(command=ASSISTANT, args=["mcp"], env=env)
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            seen["tools"] = sorted(t.name for t in (await session.list_tools()).tools)
            seen["search"] = await _call(session, "search", query="How far is Yevlax from Baku?", k=2)
            seen["first"] = await _call(session, "ask", question="How many people were killed in the clashes?")
            seen["follow-up"] = await _call(session, "ask", question="And the Azerbaijani side?",
                                            conversation=seen["first"]["conversation"])
            seen["write"] = await _call(session, "index", paths=[str(tmp_path)])
            seen["bad argument"] = await _call(session, "ask", question=5)
            seen["empty question"] = await _call(session, "ask", question="   ")
            seen["unknown conversation"] = await _call(session, "ask", question="Why?", conversation="nope")

    anyio.run(session_of_a_client)
    assert seen["tools"] == ["ask", "documents", "search"]  # no writing tool on a read-only server
    [best, _] = seen["search"]["passages"]
    assert "265 kilometers west of Baku" in best["text"] and ARTICLE[best["start"]:best["end"]] == best["text"]
    first, follow_up = seen["first"], seen["follow-up"]
    assert "34 dead" in first["answer"] and not first["refused"] and first["unsupported"] == []
    for citation in first["citations"] + follow_up["citations"]:  # exact quotes, checked
        assert citation["verified"] and ARTICLE[citation["start"]:citation["end"]] == citation["text"]
    assert follow_up["conversation"] == first["conversation"] and "two civilian deaths" in follow_up["answer"]
    assert seen["write"] == ("this server is read-only, so it cannot index; start it with `assistant mcp "
                             "--allow-writes` to let clients index and remove documents")
    assert seen["bad argument"] == ("ask was called with bad arguments (question: input should be a valid string); "
                                    "see its input schema")
    assert seen["empty question"].endswith("the question is empty; type a question about the documents")
    assert seen["unknown conversation"].endswith("no conversation nope; call ask without one to start a conversation")
    # the conversation is stored like the command line's: it continues there
    continued = run_assistant("ask", "Who brokered the ceasefire?", "--conversation", first["conversation"], "--json",
                              env=env)
    assert continued.returncode == 0, continued.stderr
    history = run_assistant("history", env=env).stdout
    assert first["conversation"] in history and "3 turns" in history


def _serve_http(env: dict[str, str], port: int, *flags: str) -> subprocess.Popen:
    """`assistant mcp --http` on the port, returned once it accepts connections."""
    server = subprocess.Popen([ASSISTANT, "mcp", "--http", "--port", str(port), *flags], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop(server)
                raise RuntimeError(f"the MCP server did not start: {server.stderr.read()[-2000:]}") from None
            time.sleep(0.2)


def test_a_client_over_http_indexes_finds_and_removes_a_document_in_a_chroma_server(tmp_path, chroma_server):
    env = _env(tmp_path, ASSISTANT_CHROMA_URL=chroma_server, ASSISTANT_COLLECTION=f"mcp-{uuid.uuid4().hex[:8]}")
    notes = tmp_path / "harbour.md"
    notes.write_text("# Harbour notes\n\nThe pilot boat Kestrel leaves the quay at dawn.\n\n"
                     "The harbour master keeps the tide tables in the lighthouse.\n", encoding="utf-8")
    port = free_port()
    server = _serve_http(env, port, "--allow-writes")
    seen = {}

    async def session_of_a_client():
        async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            seen["tools"] = sorted(t.name for t in (await session.list_tools()).tools)
            seen["index"] = await _call(session, "index", paths=[str(notes), str(tmp_path / "missing.md")])
            seen["answer"] = await _call(session, "ask", question="Where are the tide tables kept?")
            seen["follow-up"] = await _call(session, "ask", question="And who keeps them?",
                                            conversation=seen["answer"]["conversation"])
            seen["search"] = await _call(session, "search", query="pilot boat Kestrel", k=1)
            [document] = [d for d in (await _call(session, "documents"))["documents"] if d["source"] == str(notes)]
            seen["id"] = document["id"]
            seen["remove"] = await _call(session, "remove", document=document["id"])
            seen["again"] = await _call(session, "remove", document=document["id"])
            seen["documents"] = [d["id"] for d in (await _call(session, "documents"))["documents"]]

    try:
        anyio.run(session_of_a_client)
    finally:
        stop(server)
    assert seen["tools"] == ["ask", "documents", "index", "remove", "search"]
    assert len(seen["index"]["added"]) == 1 and "missing.md" in seen["index"]["failures"][0]
    assert "lighthouse" in seen["answer"]["answer"] and seen["answer"]["citations"][0]["verified"]
    assert seen["follow-up"]["conversation"] == seen["answer"]["conversation"]
    assert "harbour master" in seen["follow-up"]["answer"]
    [passage] = seen["search"]["passages"]
    assert "Kestrel" in passage["text"] and passage["document_id"] == seen["id"]
    assert seen["remove"] == {"removed": seen["id"]} and seen["id"] not in seen["documents"]
    assert seen["again"].endswith(f"no document {seen['id']}; the documents tool lists the ids")


def test_a_busy_port_is_one_sentence(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_assistant("mcp", "--http", "--port", str(port), env=_env(tmp_path), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: port {port} on 127.0.0.1 is in use; choose another with --port"


def test_the_readmes_client_configuration_starts_a_server_the_sdk_client_can_use(tmp_path):
    """The README's stdio configuration, as a desktop client reads it (its path to the program replaced by this
    checkout's)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## From other tools (MCP)")[1].split("\n## ")[0]
    configuration = json.loads(section.split("```json\n")[1].split("```")[0])
    server = configuration["mcpServers"]["evidence-assistant"]
    assert Path(server["command"]).name == "assistant"
    params = StdioServerParameters(command=ASSISTANT, args=server["args"], env=_env(tmp_path))
    seen = {}

    async def desktop_client():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            seen["server"] = (await session.initialize()).server_info.name
            seen["documents"] = await _call(session, "documents")

    anyio.run(desktop_client)
    assert seen["server"] == "evidence-assistant"
    assert [d["id"] for d in seen["documents"]["documents"]] == ["nagorno-karabakh-ceasefire"]
