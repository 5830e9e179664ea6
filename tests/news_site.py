"""A small news site on 127.0.0.1 for the web-source tests: story pages wrapped in the
boilerplate real news pages carry, an RSS and an Atom feed pointing at them, and URLs that fail
in each way a fetch can fail. It counts the requests each path gets."""

from __future__ import annotations

import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

# Lines of the pages' chrome: none of them may reach the index.
BOILERPLATE = [
    "We use cookies to improve your experience. Accept all cookies",
    "Subscribe to our daily newsletter for the top stories",
    "Local bakery wins national prize for its sourdough loaf",
    "Storm warning issued for the coming weekend in the valley",
    "Finally! Took them long enough, typical council work honestly.",
    "Copyright 2024 The Coastal Courier. All rights reserved.",
    "Share on Facebook",
    "Privacy policy",
]

STORIES = {
    "bridge": {
        "title": "Harbour bridge reopens after repairs",
        "author": "Lena Ward",
        "date": "2024-03-14",
        "paragraphs": [
            "The Kestrel Harbour bridge reopened on Thursday after eight months of repairs "
            "costing 41 million pounds, the city council said.",
            "Engineers replaced 312 steel cables and resurfaced the deck, council engineer "
            "Tomas Reyes told reporters at the opening.",
            "Traffic had been diverted through the old tunnel, adding about twenty minutes to "
            "the morning commute for thousands of drivers.",
            "Reyes said the bridge should now last another fifty years without major work.",
        ],
    },
    "school": {
        "title": "Village school saved by parents' fundraising",
        "author": "Priya Nandakumar",
        "date": "2024-03-12",
        "paragraphs": [
            "Parents in Ashcombe raised 180,000 pounds in six weeks to keep the village "
            "primary school open, head teacher Gwen Ellery said on Tuesday.",
            "The county had planned to close the school in July because of falling numbers.",
            "Ellery said the money will pay for a second classroom assistant and a new roof.",
        ],
    },
    "orchard": {
        "title": "Cider makers brace for a small apple crop",
        "author": "Sam Okafor",
        "date": "2024-03-10",
        "paragraphs": [
            "Late frosts in April cut the Vale of Elsworth apple crop by a third, the growers' "
            "cooperative said on Sunday.",
            "Cooperative chair Mara Quist said cider makers would import fruit from Normandy "
            "to fill the gap.",
        ],
    },
}
# The RSS feed's third entry links to a page that is gone: its feed text gets indexed instead.
GONE_ENTRY_TEXT = (
    "Ferry crews at Portmellon voted to strike for two days next week over new rotas, "
    "their union said."
)


def story_page(slug: str) -> str:
    story = STORIES[slug]
    paragraphs = "\n".join(f"<p>{p}</p>" for p in story["paragraphs"])
    return f"""<!DOCTYPE html><html lang="en"><head>
<title>{story["title"]} | The Coastal Courier</title>
<meta property="og:site_name" content="The Coastal Courier">
<meta property="og:title" content="{story["title"]}">
<meta name="author" content="{story["author"]}">
<meta property="article:published_time" content="{story["date"]}T08:00:00Z">
<script>window.analytics = "track every reader";</script>
<style>.cookie {{ position: fixed; }}</style>
</head><body>
<div id="cookie-banner" class="cookie-consent"><p>{BOILERPLATE[0]}</p></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul></nav>
<div class="newsletter"><a href="/subscribe">{BOILERPLATE[1]}</a></div></header>
<main><article><h1>{story["title"]}</h1>
<p class="byline">By {story["author"]}</p>
{paragraphs}
<div class="share"><a href="/share/fb">{BOILERPLATE[6]}</a> <a href="/share/x">Share on X</a></div>
</article>
<aside class="related"><h2>Most read</h2><ul>
<li><a href="/a">{BOILERPLATE[2]}</a></li><li><a href="/b">{BOILERPLATE[3]}</a></li></ul></aside>
<section id="comments" class="comments"><h3>Comments</h3>
<div class="comment"><p>{BOILERPLATE[4]}</p></div></section></main>
<footer><p>{BOILERPLATE[5]}</p><a href="/privacy">{BOILERPLATE[7]}</a></footer>
</body></html>"""


def rss_feed(base: str) -> str:
    items = "".join(
        f"""<item><title>{STORIES[slug]["title"]}</title><link>{base}/news/{slug}.html</link>
<guid>{base}/news/{slug}.html</guid><pubDate>{day} Mar 2024 08:00:00 GMT</pubDate>
<description>{STORIES[slug]["paragraphs"][0]}</description></item>"""
        for slug, day in (("bridge", "Thu, 14"), ("school", "Tue, 12"))
    )
    gone = f"""<item><title>Ferry crews vote to strike</title><link>{base}/news/gone.html</link>
<guid>{base}/news/gone.html</guid><pubDate>Mon, 11 Mar 2024 08:00:00 GMT</pubDate>
<description>&lt;p&gt;{GONE_ENTRY_TEXT}&lt;/p&gt;</description></item>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>The Coastal Courier</title><link>{base}/</link>
<description>Local news</description>{items}{gone}</channel></rss>"""


def atom_feed(base: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Courier Countryside</title>
<id>{base}/atom</id><updated>2024-03-10T08:00:00Z</updated>
<entry><title>{STORIES["orchard"]["title"]}</title><id>urn:courier:orchard</id>
<link href="{base}/news/orchard.html"/><updated>2024-03-10T08:00:00Z</updated>
<summary>{STORIES["orchard"]["paragraphs"][0]}</summary></entry></feed>"""


class NewsSite:
    """`with NewsSite() as site:` serves on 127.0.0.1:<free port> until the block ends."""

    FEED_ETAG = '"feed-v1"'
    LAST_MODIFIED = formatdate(1710403200, usegmt=True)

    def __init__(self, slow_seconds: float = 3.0, huge_mb: int = 50) -> None:
        self.hits: Counter[str] = Counter()
        self.slow_seconds = slow_seconds
        self.huge_mb = huge_mb
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            routes: ClassVar[dict] = {}

            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                site.hits[path] += 1
                site.handle(self, path)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> NewsSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str,
              headers: dict[str, str] | None = None) -> None:  # fmt: skip
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def handle(self, h: BaseHTTPRequestHandler, path: str) -> None:
        html = "text/html; charset=utf-8"
        if path.startswith("/news/") and path[6:-5] in STORIES:
            self._send(h, 200, story_page(path[6:-5]).encode(), html)
        elif path in ("/feeds/rss.xml", "/feeds/atom.xml"):
            validators = {"ETag": self.FEED_ETAG, "Last-Modified": self.LAST_MODIFIED}
            if h.headers.get("If-None-Match") == self.FEED_ETAG:
                h.send_response(304)
                for name, value in validators.items():
                    h.send_header(name, value)
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            feed = rss_feed(self.base) if "rss" in path else atom_feed(self.base)
            ctype = "application/rss+xml" if "rss" in path else "application/atom+xml"
            self._send(h, 200, feed.encode(), ctype, validators)
        elif path == "/feeds/broken.xml":
            self._send(h, 200, b"<?xml version='1.0'?><rss><channel><item><title>x", "text/xml")
        elif path == "/slow":
            time.sleep(self.slow_seconds)
            self._send(h, 200, b"<p>late</p>", html)
        elif path == "/huge":
            h.send_response(200)
            h.send_header("Content-Type", html)
            h.end_headers()  # no Content-Length: the client must count what it reads
            block = b"<p>" + b"filler " * 1400 + b"</p>\n"
            try:
                for _ in range(self.huge_mb * 1_000_000 // len(block)):
                    h.wfile.write(block)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading at its cap, as it should
            h.close_connection = True
        elif path == "/image.png":
            self._send(h, 200, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
        elif path in ("/loop-a", "/loop-b"):
            other = "/loop-b" if path == "/loop-a" else "/loop-a"
            self._send(h, 302, b"", html, {"Location": other})
        elif path == "/moved":
            self._send(h, 301, b"", html, {"Location": "/news/school.html"})
        else:
            self._send(h, 404, b"<h1>Not found</h1>", html)
