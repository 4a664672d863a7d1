"""Web pages as documents: fetched only when the user gives an http(s) URL, within timeouts, a size cap and a
bounded number of redirects; each failure is one LoadError naming the URL and the cause."""

from __future__ import annotations

import codecs
import hashlib
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from store.documents import Document, LoadError, _decode, unreadable_without

USER_AGENT = "evidence-assistant (+https://github.com/evidence-assistant; fetches a page when its user asks)"
HTML_TYPES = {"text/html", "application/xhtml+xml"}
TEXT_TYPES = {"text/plain", "text/markdown"}


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 5.0  # seconds to reach the server
    read_timeout: float = 15.0  # seconds the server may stay silent
    total_timeout: float = 60.0  # seconds for the whole page (a server that trickles bytes)
    max_bytes: int = 10 * 2**20
    max_redirects: int = 5


LIMITS = FetchLimits()

Received = Callable[[int, "int | None"], None]  # bytes of the page received so far, and how many it said it has


def is_url(text: str) -> bool:
    """Whether a command-line argument names a web page rather than a file."""
    return re.match(r"(?i)^https?://", text.strip()) is not None


def url_document_id(url: str) -> str:
    """A stable id for a page: its host and last path part, made readable, and a hash of the URL."""
    import httpx

    parsed = httpx.URL(url)
    last = parsed.path.rstrip("/").rsplit("/", 1)[-1]
    slug = re.sub(r"[^a-z0-9]+", "-", f"{parsed.host} {last}".lower()).strip("-")[:40] or "page"
    return f"{slug}-{hashlib.sha256(str(parsed).encode()).hexdigest()[:10]}"


def fetch_url(url: str, limits: FetchLimits = LIMITS, received: Received | None = None) -> Document:
    """Fetch a page and keep its article text (trafilatura: the article, not the page's chrome), titled by the page
    and with the URL as its source; or raise LoadError saying why not. `received(bytes, declared)` is told how
    the download goes: once when the server answers (0 bytes), then after each piece of the page."""
    import httpx

    url = url.strip()
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise LoadError(url, f"is not a valid web address ({exc}); check it") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise LoadError(url, "is not an http(s) address with a host; give one like https://example.com/article")
    body, kind, charset = _download(url, limits, received)
    if kind in HTML_TYPES or (not kind and body.lstrip()[:1] == b"<"):
        try:
            text, title = _article(body, charset, url)
        except ImportError as exc:
            raise LoadError(url, unreadable_without(exc)) from None
        if not _reads_as_prose(text):
            raise LoadError(url, "is not an article: no article text was found on the page (a list of links, or a "
                                 "page its scripts build?); try the article's own address")
    else:
        text = body.decode(charset, errors="replace") if charset else _decode(body, url)
        title = None
        if not text.strip():
            raise LoadError(url, "is an empty page; there is nothing to index")
    fallback = parsed.path.rstrip("/").rsplit("/", 1)[-1] or parsed.host
    title = " ".join((title or "").split()) or fallback  # a page's title on one line
    return Document(id=url_document_id(url), title=title, text=text, source=url)


def _download(url: str, limits: FetchLimits, received: Received | None) -> tuple[bytes, str, str | None]:
    """The page's bytes, media type and charset, within the limits."""
    import httpx

    timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
    deadline = time.monotonic() + limits.total_timeout
    try:
        with (httpx.Client(follow_redirects=True, max_redirects=limits.max_redirects, timeout=timeout,
                           headers={"User-Agent": USER_AGENT, "Accept": "text/html, text/plain;q=0.9, */*;q=0.1"})
              as client, client.stream("GET", url) as response):
            if response.status_code >= 400:
                raise LoadError(url, f"answered HTTP {response.status_code} {response.reason_phrase}; check the "
                                     "address" + (" or try again later" if response.status_code >= 500 else ""))
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind and kind not in HTML_TYPES and kind not in TEXT_TYPES:
                raise LoadError(url, f"is {kind}, not a web page or text; download it and index the file "
                                     "(assistant index FILE)")
            too_big = (f"is larger than {limits.max_bytes / 2**20:g} MiB, more than a web page should be; "
                       "download it and index the file")
            length = response.headers.get("content-length", "")
            declared = int(length) if length.isdigit() else None
            if declared is not None and declared > limits.max_bytes:
                raise LoadError(url, too_big)
            body = bytearray()
            if received:
                received(0, declared)
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limits.max_bytes:
                    raise LoadError(url, too_big)
                if received:
                    received(len(body), declared)
                if time.monotonic() > deadline:
                    raise LoadError(url, f"timed out: the page took more than {limits.total_timeout:g} s to "
                                         "arrive; try again later")
            return bytes(body), kind, _known_charset(response.charset_encoding)
    except httpx.TooManyRedirects:
        raise LoadError(url, f"redirected more than {limits.max_redirects} times (a redirect loop?); open it in a "
                             "browser and give the address it ends at") from None
    except httpx.ConnectTimeout:
        raise LoadError(url, f"timed out: the server did not answer within {limits.connect_timeout:g} s; check "
                             "the address or try again later") from None
    except httpx.TimeoutException:
        raise LoadError(url, f"timed out: the server sent nothing for {limits.read_timeout:g} s; try again "
                             "later") from None
    except httpx.ConnectError as exc:
        raise LoadError(url, _connect_failure(exc, url)) from None
    except httpx.HTTPError as exc:  # the connection broke, a malformed answer, ...
        raise LoadError(url, f"could not be fetched ({exc or type(exc).__name__}); try again later") from None


def _known_charset(name: str | None) -> str | None:
    """The charset a page declares, if Python knows it (else the bytes are decoded as a file's would be)."""
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return None


def _connect_failure(exc: Exception, url: str) -> str:
    import httpx

    cause = exc.__cause__ or exc.__context__
    while cause is not None and not isinstance(cause, OSError) and (cause.__cause__ or cause.__context__):
        cause = cause.__cause__ or cause.__context__
    host = httpx.URL(url).host
    if isinstance(cause, socket.gaierror):
        return f"names no such host ({host}); check the address, or the network if it is right"
    if isinstance(cause, ConnectionRefusedError):
        return f"was refused: nothing answers at {host}; check the address and the port"
    if isinstance(cause, ssl.SSLError):
        return f"could not be reached securely ({exc}); check the address"
    return f"could not be reached ({exc}); check the address and the network"


PROSE_LINE_WORDS = 6  # a line of at least this many words reads as a sentence, not a link or a menu entry
PROSE_WORDS = 20  # ... and an article has at least this many words in such lines


def _reads_as_prose(text: str) -> bool:
    """Whether extracted text holds sentences: a page of links extracts to a column of short lines."""
    lengths = [len(line.split()) for line in text.splitlines()]
    return sum(n for n in lengths if n >= PROSE_LINE_WORDS) >= PROSE_WORDS


def _article(body: bytes, charset: str | None, url: str) -> tuple[str, str | None]:
    from store.html import html_document

    page = html_document(body.decode(charset, errors="replace") if charset else body, url)
    return page.text, page.title
