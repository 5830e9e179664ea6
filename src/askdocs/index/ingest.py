"""Ingest (sources → articles → chunks → vectors → the store) and removal, for the writer
holding the lock.

Unchanged articles cost nothing, changed ones are replaced, one bad source never stops the
others, and a write reads only the catalogue records of the sources it was given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Container, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from askdocs.chunking import Chunker, candidate_sentences
from askdocs.config import Settings
from askdocs.embeddings import TokenAwareEmbeddings
from askdocs.index.lock import IndexBusyError
from askdocs.index.store import ArticleVersion, ChromaStore, IndexedArticle
from askdocs.loaders import (
    Fetcher,
    FetchLimits,
    LoadedFile,
    WebSources,
    WebState,
    discover,
    load_file,
    load_urls,
)
from askdocs.types import Article, Chunk, FileResult, IngestReport

ProgressCallback = Callable[[int, int, FileResult | None], None]
"""Called as (files done, files total, result of the latest article or skipped file)."""

EMBED_GROUP_CHUNKS = 1024
"""Articles are embedded in groups of about this many chunks, so the model sees full batches
even when articles are short."""


class _Catalogue(Container[str]):
    """The catalogue records one ingest may touch, without listing the whole catalogue: the
    articles from its files and folders, read at its start, and any other article looked up
    by id when it comes up (a web page, a feed entry, a new file)."""

    def __init__(self, store: ChromaStore, roots: list[Path]) -> None:
        self.store = store
        self.under_roots = store.records_under(roots)
        self._records = dict(self.under_roots)
        self._looked_up: set[str] = set()

    def get(self, article_id: str) -> IndexedArticle | None:
        if article_id not in self._records and article_id not in self._looked_up:
            self._looked_up.add(article_id)
            self._records |= self.store.article_records([article_id])
        return self._records.get(article_id)

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self.get(article_id) is not None


class Ingester:
    """One ingest's parts: the settings, the embedder and the opened store (None serves only
    chunking: `chunker`, `embedding_texts`). `Assistant.ingest` runs it under the lock.
    """

    def __init__(
        self, settings: Settings, embedder: TokenAwareEmbeddings, store: ChromaStore | None
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self._store = store

    @property
    def store(self) -> ChromaStore:
        if self._store is None:
            raise ValueError("this Ingester was made without a store (chunking only)")
        return self._store

    def fetch_limits(self) -> FetchLimits:
        s = self.settings
        return FetchLimits(
            timeout=s.fetch_timeout,
            total_seconds=s.fetch_total_seconds,
            max_bytes=int(s.max_file_mb * 1e6),
            max_redirects=s.fetch_max_redirects,
            allow_private=s.fetch_allow_private,
        )

    def _sources(
        self,
        files: list[Path],
        urls: list[str],
        feeds: list[str],
        indexed: Container[str],
        fetcher: Fetcher | None,
    ) -> Iterator[LoadedFile]:
        """Every source's LoadedFile: files first, then pages and feed entries."""
        max_bytes = int(self.settings.max_file_mb * 1e6)
        for path in files:
            yield load_file(path, max_bytes)
        if not (urls or feeds):
            return
        state = WebState(self.settings.index_dir / "web-sources.json")
        own = fetcher is None
        fetcher = fetcher or Fetcher(self.fetch_limits())
        try:
            web = WebSources(fetcher, state, indexed, self.settings.fetch_concurrency)
            yield from load_urls(urls, feeds, web)
        finally:
            state.save()
            if own:
                fetcher.close()

    def run(
        self,
        paths: list[Path],
        urls: list[str],
        feeds: list[str],
        progress: ProgressCallback | None,
        fetcher: Fetcher | None,
    ) -> IngestReport:
        started = time.perf_counter()
        store = self.store
        store.catch_up()
        store.finish_interrupted()
        store.ensure_catalogue_fields()
        indexed = _Catalogue(store, [p.resolve() for p in paths])
        report = IngestReport()
        files = discover(paths)
        total = len(files) + len(urls) + len(feeds)
        pending: list[tuple[FileResult, Article, str]] = []
        pending_chunks = 0
        seen_sources: set[str] = set()
        loaded_files: set[str] = set()
        this_run: dict[str, str] = {}  # article id -> the source that gave it in this ingest
        timings = {"load": 0.0, "chunk": 0.0, "embed": 0.0, "store": 0.0}
        sources = self._sources(files, urls, feeds, indexed, fetcher)
        try:
            done = 0
            while True:
                t0 = time.perf_counter()
                loaded = next(sources, None)
                timings["load"] += time.perf_counter() - t0
                if loaded is None:
                    break
                done = min(done + 1, total) if total else done + 1
                for article_id in loaded.unchanged:
                    if (record := indexed.get(article_id)) is not None:
                        report.files.append(
                            FileResult(
                                loaded.source,
                                "unchanged",
                                "not changed since the last fetch",
                                article_ids=[article_id],
                                chunks=record.chunks,
                            )
                        )
                if loaded.error:
                    result = FileResult(
                        loaded.source, "skipped", loaded.error, warnings=loaded.warnings
                    )
                    report.files.append(result)
                    if progress:
                        progress(done, total, result)
                    continue
                loaded_files.add(loaded.source)
                for n, article in enumerate(loaded.articles):
                    seen_sources.add(article.source)
                    if article.id in this_run:
                        # The same article twice in one ingest (a page given directly and
                        # through a feed, two records with one URL): written once.
                        report.files.append(
                            FileResult(
                                article.source,
                                "unchanged",
                                f"same article as {this_run[article.id]}, earlier in this ingest",
                                article_ids=[article.id],
                            )
                        )
                        continue
                    this_run[article.id] = article.source
                    version = self._version(article)
                    existing = indexed.get(article.id)
                    result = FileResult(
                        article.source,
                        "unchanged" if existing else "indexed",
                        article_ids=[article.id],
                        warnings=loaded.warnings if n == 0 else [],
                    )
                    if existing and existing.version == version:
                        result.chunks = existing.chunks
                        report.files.append(result)
                        continue
                    if existing:
                        result.status = "updated"
                    pending.append((result, article, version))
                    pending_chunks += max(1, len(article.text) // 700)
                if pending_chunks >= EMBED_GROUP_CHUNKS:
                    self._write(store, pending, report, timings)
                    pending, pending_chunks = [], 0
                if progress:
                    progress(done, total, report.files[-1] if report.files else None)
            self._write(store, pending, report, timings)
            pending = []
            self._remove_vanished(store, indexed, paths, seen_sources, loaded_files, report)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            sources.close()
        t0 = time.perf_counter()
        store.keywords.rebuild()
        timings["keywords"] = time.perf_counter() - t0
        report.seconds = {**timings, "total": time.perf_counter() - started}
        return report

    def _version(self, article: Article) -> str:
        """Changes whenever the article or anything that shapes its chunks or vectors changes."""
        s = self.settings
        recipe = [
            article.title, article.text, str(article.published), article.metadata,
            s.embedding_model, s.chunk_tokens, s.chunk_overlap_tokens, s.title_tokens,
            s.chunk_vectors,
        ]  # fmt: skip
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]

    def chunker(self) -> Chunker:
        s = self.settings
        room = self.embedder.max_tokens - 3  # [CLS], [SEP] and the title's line break
        if s.chunk_tokens + s.title_tokens > room:
            raise ValueError(
                f"chunk_tokens ({s.chunk_tokens}) + title_tokens ({s.title_tokens}) must fit the "
                f"embedding model's {self.embedder.max_tokens} word pieces (at most {room})"
            )
        return Chunker(self.embedder.count_tokens, s.chunk_tokens, s.chunk_overlap_tokens)

    def embedding_texts(self, article: Article, chunks: Sequence[Chunk]) -> list[str]:
        """Each chunk with its article's title in front, so a chunk knows what it is about."""
        title = self._truncate_title(article.title)
        return [
            c.text if not title or c.text.startswith(article.title) else f"{title}\n{c.text}"
            for c in chunks
        ]

    def _truncate_title(self, title: str) -> str:
        words = title.split()
        while (
            words and self.embedder.count_tokens([" ".join(words)])[0] > self.settings.title_tokens
        ):
            words.pop()
        return " ".join(words)

    def _write(
        self,
        store: ChromaStore,
        pending: list[tuple[FileResult, Article, str]],
        report: IngestReport,
        timings: dict[str, float],
    ) -> None:
        if not pending:
            return
        t0 = time.perf_counter()
        chunker = self.chunker()
        planned = []
        for result, article, version in pending:
            chunks = chunker.split(article)
            planned.append(
                (result, article, version, chunks, self.embedding_texts(article, chunks))
            )
        t1 = time.perf_counter()
        if self.settings.chunk_vectors == "sentences":
            items = self._embed_by_sentence(planned, report)
        else:
            # Identical chunk texts (syndicated or duplicated articles) are embedded once.
            unique_texts = list(dict.fromkeys(t for *_, texts in planned for t in texts))
            embedded = self.embedder.embed_documents(unique_texts)
            vectors = dict(zip(unique_texts, embedded, strict=True))
            report.texts_embedded += len(unique_texts)
            items = [
                ArticleVersion(article, version, chunks, np.asarray([vectors[t] for t in texts]))
                for _, article, version, chunks, texts in planned
            ]
        # An article the catalogue does not hold is new: its write deletes nothing first.
        items = [
            dataclasses.replace(item, new=result.status == "indexed")
            for (result, *_), item in zip(planned, items, strict=True)
        ]
        t2 = time.perf_counter()
        try:
            store.replace_articles(items)
            failures: dict[str, str] = {}
        except IndexBusyError:  # the writer lease passed to another writer: stop here
            raise
        except Exception:  # noqa: BLE001 - retry one by one so one bad article fails alone
            failures = self._write_one_by_one(store, items)
        for (result, article, *_), item in zip(planned, items, strict=True):
            if article.id in failures:
                result.status, result.reason = "skipped", failures[article.id]
            else:
                result.chunks = len(item.chunks)
            report.files.append(result)
        timings["chunk"] += t1 - t0
        timings["embed"] += t2 - t1
        timings["store"] += time.perf_counter() - t2

    def _embed_by_sentence(self, planned: list[Any], report: IngestReport) -> list[ArticleVersion]:
        """Embed each sentence once; a chunk's vector is the length-weighted mean of its
        sentences' and its title's vectors.

        The sentence vectors are what answering compares with the question, so storing them
        makes answering need no model run beyond the question's; and since sentences are short
        and repeated ones (chunk overlaps, syndicated copies) are embedded once, this costs no
        more than embedding whole chunks.
        """
        layouts = []
        for _, article, _, chunks, _ in planned:
            title = self._truncate_title(article.title)
            spans = [candidate_sentences(article.text, c.start, c.end) for c in chunks]
            layouts.append((title, [[article.text[a:b] for a, b in s] for s in spans]))
        unique = list(
            dict.fromkeys(
                t
                for title, sentences in layouts
                for t in [title, *(s for chunk in sentences for s in chunk)]
                if t
            )
        )
        vectors = dict(zip(unique, np.asarray(self.embedder.embed_documents(unique)), strict=True))
        report.texts_embedded += len(unique)
        items = []
        for (_, article, version, chunks, texts), (title, sentences) in zip(
            planned, layouts, strict=True
        ):
            chunk_vectors, sentence_vectors = [], []
            for text, chunk_sentences in zip(texts, sentences, strict=True):
                parts = [t for t in [title, *chunk_sentences] if t]
                if not chunk_sentences:  # no sentence with a word in it: embed as it is
                    if text not in vectors:
                        vectors[text] = np.asarray(self.embedder.embed_documents([text])[0])
                    parts = [text]
                weights = np.asarray([len(p) for p in parts], dtype=np.float32)[:, None]
                mean = (np.asarray([vectors[p] for p in parts]) * weights).sum(axis=0)
                chunk_vectors.append(mean / (np.linalg.norm(mean) or 1.0))
                sentence_vectors.append(
                    np.asarray([vectors[s] for s in chunk_sentences], dtype=np.float32)
                )
            items.append(
                ArticleVersion(
                    article, version, chunks, np.asarray(chunk_vectors), sentence_vectors
                )
            )
        return items

    @staticmethod
    def _write_one_by_one(store: ChromaStore, items: list[ArticleVersion]) -> dict[str, str]:
        failures = {}
        for item in items:
            try:
                # (the failed batch may have stored part of an article it found new)
                store.replace_articles([dataclasses.replace(item, new=False)])
            except IndexBusyError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported per article, the rest go on
                failures[item.article.id] = f"could not be stored: {exc}"
        return failures

    def _remove_vanished(
        self,
        store: ChromaStore,
        indexed: _Catalogue,
        roots: list[Path],
        seen_sources: set[str],
        loaded_files: set[str],
        report: IngestReport,
    ) -> None:
        """Drop articles whose file is gone from an ingested folder (or record from its file)."""
        resolved_roots = [r.resolve() for r in roots]
        for record in list(indexed.under_roots.values()):
            if record.source in seen_sources:
                continue
            file_path = Path(record.source.split("#", 1)[0])
            under_root = any(file_path == r or r in file_path.parents for r in resolved_roots)
            if under_root and (not file_path.exists() or str(file_path) in loaded_files):
                store.delete_article(record.id)
                report.files.append(FileResult(record.source, "removed", article_ids=[record.id]))


def remove_articles(store: ChromaStore, reference: str) -> list[str]:
    """Remove articles by id, by source (file path or URL), or every article under a folder;
    the ids removed, sorted. Looks each up, never lists the catalogue. The caller holds the
    writer lock."""
    store.finish_interrupted()
    store.ensure_catalogue_fields()
    path = Path(reference).expanduser().resolve()
    found = (
        store.article_records([reference])
        | store.records_from_source(reference)
        | store.records_under([path])
    )
    matches = sorted(found)
    for article_id in matches:
        store.delete_article(article_id)
    return matches
