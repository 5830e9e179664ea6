"""Fetching web pages and feeds safely: timeouts, a size cap, content types, few redirects,
and no way to reach loopback, private or link-local addresses unless a setting allows it.

The address check and the connection use the same resolved address (the request goes to that
IP with the original Host header and TLS server name), so a DNS answer that changes between
check and connect cannot redirect a fetch to an internal service.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

from askdocs.loaders.common import LoadError

Resolver = Callable[[str, int], list[str]]

USER_AGENT = "askdocs/0.1 (+https://pypi.org/project/askdocs/; article indexing)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
# Types only feeds are served as; generic XML may be a feed or anything else (sniffed).
FEED_ONLY_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
FEED_TYPES = (*FEED_ONLY_TYPES, "application/xml", "text/xml")
TEXT_TYPES = ("text/plain",)
PDF_TYPES = ("application/pdf",)


_REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(LoadError):
    """A URL that could not be fetched; the message is the reason shown to the user."""


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 10.0  # seconds to connect, and between two reads
    total_seconds: float = 30.0  # a server trickling bytes cannot hold a fetch longer
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    allow_private: bool = False


@dataclass
class Fetched:
    url: str  # after redirects
    status: int
    content_type: str
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def is_url(text: str) -> bool:
    """True for the http(s) URLs ingest fetches.

    >>> is_url("https://example.org/a"), is_url("news/a.html"), is_url("ftp://x")
    (True, False, False)
    """
    return text.lower().startswith(("http://", "https://"))


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, shared, reserved, multicast and unspecified
    addresses (IPv4-mapped IPv6 judged as the IPv4 it maps).

    >>> [is_public_address(a) for a in ("93.184.216.34", "127.0.0.1", "10.1.2.3",
    ...     "169.254.169.254", "::1", "::ffff:192.168.0.1", "fd00::1", "100.64.0.1", "0.0.0.0")]
    [True, False, False, False, False, False, False, False, False]
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve host {host!r} ({exc.strerror})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def describe(accept: Iterable[str]) -> str:
    """What a set of accepted media types is, for people.

    >>> describe(FEED_TYPES), describe(HTML_TYPES + PDF_TYPES)
    ('a feed', 'a web page or PDF')
    """
    accept = set(accept)
    named = (
        ("web page", HTML_TYPES),
        ("feed", FEED_TYPES),
        ("plain text", TEXT_TYPES),
        ("PDF", PDF_TYPES),
    )
    kinds = [label for label, types in named if accept & set(types)]
    if not kinds:
        return "an accepted type"
    listed = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"
    return f"a {listed}"


def media_type(content_type: str) -> str:
    """The media type of a Content-Type header, lower-cased.

    >>> media_type("Text/HTML; charset=utf-8")
    'text/html'
    """
    return content_type.split(";", 1)[0].strip().lower()


class Fetcher:
    """GETs URLs under `FetchLimits`; `transport` and `resolve` are for tests."""

    def __init__(
        self,
        limits: FetchLimits,
        transport: object | None = None,
        resolve: Resolver | None = None,
    ) -> None:
        import httpx  # lazy: only URL ingests pay for it

        self.limits = limits
        self._resolve = resolve or system_resolver
        self._client = httpx.Client(
            transport=transport,  # type: ignore[arg-type]
            timeout=httpx.Timeout(limits.timeout),
            follow_redirects=False,  # each hop's address is checked before it is fetched
            trust_env=False,  # a proxy would connect where the address check did not look
            # No pooled connections: one IP can serve many host names, each with its own TLS.
            limits=httpx.Limits(max_keepalive_connections=0),
            # Only the encodings _decompress undoes under the size cap.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        accept: Iterable[str],
        validators: dict[str, str] | None = None,
    ) -> Fetched:
        """The response to GET `url`, or FetchError with the reason.

        `validators` (etag, last_modified) make the request conditional: a 304 comes back as
        `Fetched.not_modified` with no body.
        """
        import httpx

        accept = tuple(accept)
        deadline = time.monotonic() + self.limits.total_seconds
        seen: set[str] = set()
        current = url
        for _hop in range(self.limits.max_redirects + 1):
            if current in seen:
                raise FetchError(f"redirect loop at {current}")
            seen.add(current)
            request = self._pinned_request(current, validators)
            try:
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException:
                raise FetchError(f"timed out after {self.limits.timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"cannot connect: {exc or type(exc).__name__}") from None
            try:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location", "")
                    if not location:
                        raise FetchError(f"HTTP {response.status_code} without a Location")
                    current = urljoin(current, location)
                    continue
                return self._read(current, response, accept, deadline)
            finally:
                response.close()
        raise FetchError(f"more than {self.limits.max_redirects} redirects")

    def _pinned_request(self, url: str, validators: dict[str, str] | None) -> object:
        import httpx

        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchError(f"not a valid URL ({exc})") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise FetchError("only http:// and https:// URLs can be fetched")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = self._resolve(parsed.host, port)
        if not addresses:
            raise FetchError(f"host {parsed.host!r} has no address")
        if not self.limits.allow_private:
            blocked = [a for a in addresses if not is_public_address(a)]
            if blocked:
                raise FetchError(
                    f"refused: {parsed.host} resolves to a non-public address ({blocked[0]}); "
                    "set fetch_allow_private to fetch from local or private networks"
                )
        headers = {"Host": parsed.netloc.decode("ascii")}
        if validators:
            if validators.get("etag"):
                headers["If-None-Match"] = validators["etag"]
            if validators.get("last_modified"):
                headers["If-Modified-Since"] = validators["last_modified"]
        extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
        return self._client.build_request(
            "GET", parsed.copy_with(host=addresses[0]), headers=headers, extensions=extensions
        )

    def _read(
        self, url: str, response: object, accept: tuple[str, ...], deadline: float
    ) -> Fetched:
        import httpx

        status = response.status_code  # type: ignore[attr-defined]
        headers = response.headers  # type: ignore[attr-defined]
        fetched = Fetched(
            url=url,
            status=status,
            content_type=media_type(headers.get("content-type", "")),
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
        )
        if status == 304:
            return fetched
        if not 200 <= status < 300:
            raise FetchError(f"HTTP {status}")
        if accept and fetched.content_type and fetched.content_type not in accept:
            raise FetchError(f"content type {fetched.content_type} is not {describe(accept)}")
        cap = self.limits.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(f"response is {int(declared) / 1e6:.1f} MB, above {cap / 1e6:g} MB")
        body = bytearray()
        try:
            # The raw (still compressed) bytes: _decompress undoes them under the same cap.
            for piece in response.stream:  # type: ignore[attr-defined]
                body += piece
                if len(body) > cap:
                    raise FetchError(f"response is larger than {cap / 1e6:g} MB")
                if time.monotonic() > deadline:
                    raise FetchError(f"took longer than {self.limits.total_seconds:g} s")
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.limits.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"connection broke: {exc or type(exc).__name__}") from None
        fetched.body = _decompress(bytes(body), headers.get("content-encoding", ""), cap)
        return fetched


def _decompress(body: bytes, encoding: str, cap: int) -> bytes:
    """Undo gzip/deflate with the same cap on the result (a small bomb stays small)."""
    import zlib

    encoding = encoding.strip().lower()
    if encoding not in ("gzip", "deflate", "x-gzip"):
        return body
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(body, cap + 1)
    except zlib.error:
        raise FetchError(f"response claims {encoding} but is not") from None
    if len(out) > cap:
        raise FetchError(f"response is larger than {cap / 1e6:g} MB once decompressed")
    return out
