"""Real processes for the tests: the installed `assistant`, and `chroma run` servers on free loopback ports."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path


def run_assistant(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m assistant ARGS…` to its end, output captured."""
    return subprocess.run([sys.executable, "-m", "assistant", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_chroma(path: Path, port: int, log=subprocess.DEVNULL, timeout: float = 60) -> subprocess.Popen:
    """A `chroma run` server on 127.0.0.1:port over `path`, returned once its heartbeat answers
    (RuntimeError with the reason if it does not start)."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if not chroma:
        raise RuntimeError("the `chroma` command (from the chromadb package) is not installed")
    server = subprocess.Popen([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).read()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"chroma server on port {port} did not start") from None
            time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


# Python for a child process that has an `index` (store.Index), and imports os and signal: its next chunk write
# stores half of the chunks it is handed, prints "half written", then the process kills itself with SIGKILL (a real
# kill, between two writes of one group, every time)
KILL_AT_HALF_WRITE = textwrap.dedent("""
    real = index.corpus.chunks.upsert

    def upsert(**columns):
        half = len(columns["ids"]) // 2
        real(**{name: values[:half] for name, values in columns.items()})
        print("half written", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    index.corpus.chunks.upsert = upsert
""")
