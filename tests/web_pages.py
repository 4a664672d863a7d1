"""A real HTTP server on loopback serving the pages the URL tests fetch: an article whose text can be changed, and
a page that trickles in, and
each way a fetch goes wrong (slow, a redirect loop, 404 and 500, a PDF, an enormous body, a page of links)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARTICLE_TITLE = "Harbour pilots strike over night shifts"
TRICKLE_PIECES, TRICKLE_PAUSE = 4, 0.4


def article_html(paragraphs: list[str], title: str = ARTICLE_TITLE) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    menu = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(12))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title} | The Coast Times</title>"
            f"<meta property='og:title' content='{title}'></head><body>"
            f"<nav><ul>{menu}</ul></nav><header>Subscribe now! Sign in</header>"
            f"<article><h1>{title}</h1>{body}</article>"
            "<footer>© The Coast Times. Cookie settings. Privacy policy.</footer></body></html>")


ARTICLE = [
    "The harbour pilots of Vellmar walked out on Tuesday after the port authority cut their night crews from "
    "three pilots to two.",
    "Union spokeswoman Ilse Marten said 41 of the port's 46 pilots joined the strike, and that ships waiting at "
    "anchor rose to nineteen by the evening.",
    "The authority said the change would save 2.3 million euros a year and that safety was not affected.",
    "Talks are to resume on Friday under a mediator named by the regional government.",
]


class Pages:
    """What the server serves; `article` may be changed between fetches."""

    def __init__(self):
        self.article = list(ARTICLE)
        self.fetches: dict[str, int] = {}


def _handler(pages: Pages):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, kind: str, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 (http.server's name)
            path = self.path.split("?")[0]
            pages.fetches[path] = pages.fetches.get(path, 0) + 1
            if path == "/article":
                self._send(200, "text/html; charset=utf-8", article_html(pages.article).encode())
            elif path == "/moved":
                self._send(301, "text/html", b"", {"Location": "/article"})
            elif path == "/loop":
                self._send(302, "text/html", b"", {"Location": "/loop-again"})
            elif path == "/loop-again":
                self._send(302, "text/html", b"", {"Location": "/loop"})
            elif path == "/odd-charset.txt":  # a charset nobody knows: read as a file's bytes would be
                self._send(200, "text/plain; charset=x-no-such-charset", "Café prices rose by 4 %.".encode())
            elif path == "/notes.txt":
                self._send(200, "text/plain; charset=utf-8", "\n\n".join(pages.article).encode())
            elif path == "/slow":
                time.sleep(3)
                self._send(200, "text/html", article_html(pages.article).encode())
            elif path == "/trickle":  # the article in four pieces, 0.4 s apart, its length said up front
                body = article_html(pages.article).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                step = -(-len(body) // TRICKLE_PIECES)
                for start in range(0, len(body), step):
                    self.wfile.write(body[start:start + step])
                    self.wfile.flush()
                    time.sleep(TRICKLE_PAUSE)
            elif path == "/broken":
                self._send(500, "text/html", b"<h1>Internal Server Error</h1>")
            elif path == "/report.pdf":
                self._send(200, "application/pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n")
            elif path == "/links":
                links = "".join(f'<li><a href="/story/{i}">Story {i}</a></li>' for i in range(40))
                self._send(200, "text/html", f"<html><body><nav><ul>{links}</ul></nav></body></html>".encode())
            elif path == "/enormous":  # no length said: the body just keeps coming
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"<p>" + b"word " * 2000 + b"</p>"
                try:
                    for _ in range(20_000):  # ~200 MB if nobody stops reading
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
            elif path == "/declared-enormous":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(500 * 2**20))
                self.end_headers()
            else:
                self._send(404, "text/html", b"<h1>Not Found</h1>")

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that hung up on purpose (a timeout, a size cap)
        pass


class PageServer:
    """The server on a free loopback port, in a thread; `url(path)` addresses a page."""

    def __init__(self):
        self.pages = Pages()
        self.httpd = _Server(("127.0.0.1", 0), _handler(self.pages))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
