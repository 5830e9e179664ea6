"""Turn files, folders, URLs and feeds into Articles, with a clear reason for every source
that is skipped.

One module per kind of source: `text` (.txt .md .json .jsonl), `web_page` (HTML via
trafilatura), `pdf` (pypdf), `word` (python-docx), `files` (finding and dispatching files),
`fetch` (safe HTTP), `web` (URLs and RSS/Atom feeds).
"""

from askdocs.loaders.common import LoadedFile, LoadError, article_id_for
from askdocs.loaders.fetch import Fetcher, FetchError, FetchLimits, is_url
from askdocs.loaders.files import SUPPORTED_SUFFIXES, discover, is_supported, load_file, load_paths
from askdocs.loaders.pdf import page_at
from askdocs.loaders.web import WebSources, WebState, load_urls

__all__ = [
    "SUPPORTED_SUFFIXES",
    "FetchError",
    "FetchLimits",
    "Fetcher",
    "LoadError",
    "LoadedFile",
    "WebSources",
    "WebState",
    "article_id_for",
    "discover",
    "is_supported",
    "is_url",
    "load_file",
    "load_paths",
    "load_urls",
    "page_at",
]
