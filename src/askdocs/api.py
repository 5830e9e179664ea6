"""The `Assistant` facade: ingest articles, then ask questions that come back cited."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.language_models import BaseChatModel

from askdocs.answer.combiner import Combiner
from askdocs.answer.encoder import load_encoder
from askdocs.answer.extractive import ExtractiveAnswerer
from askdocs.answer.follow_ups import HistoryTurn
from askdocs.answer.generative import GenerativeAnswerer
from askdocs.answer.pipeline import QuestionPipeline
from askdocs.chunking import Chunker, candidate_sentences
from askdocs.citations import CitationVerifier
from askdocs.config import Settings, load_settings
from askdocs.embeddings import SentenceVectors, TokenAwareEmbeddings, make_embedder
from askdocs.index import StoreError, ingest_lock
from askdocs.index.store import (
    ArticleVersion,
    ChromaStore,
    IndexedArticle,
    check_index,
    legacy_sentence_table,
    open_store,
)
from askdocs.llms import make_chat_model
from askdocs.loaders import (
    Fetcher,
    FetchLimits,
    LoadedFile,
    WebSources,
    WebState,
    discover,
    is_url,
    load_file,
    load_urls,
)
from askdocs.retrieval import PassageRetriever
from askdocs.types import (
    Answer,
    Article,
    Chunk,
    FileResult,
    Filters,
    IngestReport,
)

ProgressCallback = Callable[[int, int, FileResult | None], None]
"""Called as (files done, files total, result of the latest article or skipped file)."""

# Articles are embedded in groups so the model sees full batches even when articles are short.
_EMBED_GROUP_CHUNKS = 1024


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


class Assistant:
    """Question answering over a folder of articles, with citations to exact passages.

    >>> assistant = Assistant(index_dir="index")  # doctest: +SKIP
    >>> assistant.ingest(["examples/articles"]).added  # doctest: +SKIP
    1
    >>> answer = assistant.ask("Who did Rubio accuse?")  # doctest: +SKIP
    >>> answer.citations[0].quote  # doctest: +SKIP
    'Washington, Dec 20 (NationPress) US Secretary of State Marco Rubio has accused ...'
    """

    def __init__(
        self,
        index_dir: str | Path | None = None,
        *,
        settings: Settings | None = None,
        embedder: TokenAwareEmbeddings | None = None,
        chat_model: BaseChatModel | None = None,
        config_file: str | Path | None = None,
        **overrides: Any,
    ) -> None:
        if settings is None:
            settings = load_settings(config_file, index_dir=index_dir, **overrides)
        elif index_dir is not None or overrides:
            settings = settings.updated(index_dir=index_dir, **overrides)
        self.settings = settings
        self._embedder = embedder
        self._store: ChromaStore | None = None
        self._answerer: ExtractiveAnswerer | None = None
        self._chat_model = chat_model
        self._generative: GenerativeAnswerer | None = None
        self._lock = threading.Lock()

    def variant(self, **overrides: Any) -> Assistant:
        """Another Assistant over the same index and embedder, with some settings changed."""
        return Assistant(settings=self.settings.updated(**overrides), embedder=self._embedder)

    @property
    def embedder(self) -> TokenAwareEmbeddings:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings)
        return self._embedder

    def _open_store(self, create: bool, locked: bool = False) -> ChromaStore:
        """The store, opened once; `locked`: the caller holds the ingest lock."""
        with self._lock:
            if self._store is None:
                store = open_store(self.settings, create=create)
                if locked:
                    self._prepare_local_caches(store)
                elif self._caches_behind(store):
                    # In the background: a new machine's first questions are answered while
                    # its keyword cache fills from Chroma (the retriever waits a little for it,
                    # then searches dense-only until it is ready).
                    store.keywords_ready.clear()
                    threading.Thread(
                        target=self._prepare_in_background, args=(store,), daemon=True
                    ).start()
                self._store = store
            return self._store

    def _prepare_in_background(self, store: ChromaStore) -> None:
        # Skipped while an ingest runs here (IndexBusyError): that ingest does it itself; if
        # the index went away, questions report it themselves.
        try:
            with contextlib.suppress(StoreError), ingest_lock(self.settings):
                self._prepare_local_caches(store)
        finally:
            store.keywords_ready.set()

    def _caches_behind(self, store: ChromaStore) -> bool:
        return (
            legacy_sentence_table(self.settings).is_file()
            or store.keywords.count() != store.chunks.count()
        )

    def _prepare_local_caches(self, store: ChromaStore) -> None:
        """Before first use on this machine (under the ingest lock): move sentence vectors an
        older version kept in a side file into Chroma, and fill the keyword cache from
        Chroma's chunks when it does not hold them all (a new machine, an index from before
        the keyword index)."""
        store.adopt_sentence_table(legacy_sentence_table(self.settings))
        if store.keywords.count() != store.chunks.count():
            current = store.changes.current()
            store.sync_keywords()
            store.keywords.set_synced_generation(current)
            store.keywords.rebuild()

    @property
    def store(self) -> ChromaStore:
        return self._open_store(create=False)

    # ----------------------------------------------------------------- ingest

    def ingest(
        self,
        paths: Iterable[str | Path],
        progress: ProgressCallback | None = None,
        *,
        feeds: Iterable[str] = (),
        fetcher: Fetcher | None = None,
    ) -> IngestReport:
        """Index files, folders, web pages (http/https URLs, feeds detected) and `feeds`.

        Unchanged articles cost nothing, changed ones are replaced. One bad file or URL never
        stops the others: it is reported as skipped with its reason. Ctrl-C stops after the
        article being written; what was written stays indexed. `fetcher` is for tests.
        """
        items = [str(p) if is_url(str(p)) else Path(p).expanduser() for p in paths]
        urls = [item for item in items if isinstance(item, str)]
        local = [item for item in items if isinstance(item, Path)]
        feeds = [str(f) for f in feeds]
        missing = [str(p) for p in local if not p.exists()]
        if missing:
            raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
        with ingest_lock(self.settings):
            return self._ingest(local, urls, feeds, progress, fetcher)

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

    def _ingest(
        self,
        paths: list[Path],
        urls: list[str],
        feeds: list[str],
        progress: ProgressCallback | None,
        fetcher: Fetcher | None,
    ) -> IngestReport:
        started = time.perf_counter()
        store = self._open_store(create=True, locked=True)
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
                if pending_chunks >= _EMBED_GROUP_CHUNKS:
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

    def _chunker(self) -> Chunker:
        s = self.settings
        room = self.embedder.max_tokens - 3  # [CLS], [SEP] and the title's line break
        if s.chunk_tokens + s.title_tokens > room:
            raise ValueError(
                f"chunk_tokens ({s.chunk_tokens}) + title_tokens ({s.title_tokens}) must fit the "
                f"embedding model's {self.embedder.max_tokens} word pieces (at most {room})"
            )
        return Chunker(self.embedder.count_tokens, s.chunk_tokens, s.chunk_overlap_tokens)

    def _embedding_texts(self, article: Article, chunks: Sequence[Chunk]) -> list[str]:
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
        chunker = self._chunker()
        planned = []
        for result, article, version in pending:
            chunks = chunker.split(article)
            planned.append(
                (result, article, version, chunks, self._embedding_texts(article, chunks))
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
        t2 = time.perf_counter()
        try:
            store.replace_articles(items)
            failures: dict[str, str] = {}
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
                store.replace_articles([item])
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

    # -------------------------------------------------------------------- ask

    def ask(
        self,
        question: str,
        history: Sequence[HistoryTurn] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Answer from the indexed articles, citing the sentences used, or abstain."""
        *_, answer = self.stream(question, history=history, k=k, filters=filters)
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[HistoryTurn] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the final, verified `Answer`.

        With a generative backend the pieces are the model's raw words; the final Answer holds
        the verified text, which may differ (unsupported citations removed, markers renumbered).
        """
        yield from self.pipeline.stream(question, history=history, k=k, filters=filters)

    @property
    def pipeline(self) -> QuestionPipeline:
        """The question path (answer/pipeline.py), wired from this Assistant's parts."""
        store = self.store
        return QuestionPipeline(
            store=store,
            retriever=lambda k, filters: self._retriever(store, k, filters),
            sentence_vectors=self.sentence_vectors,
            extractive=self.answerer,
            generative=self.generative,
            settings_hash=self.settings.settings_hash(),
            refresh_seconds=self.settings.index_refresh_seconds,
            fallback_extractive=self.settings.llm_fallback_extractive,
            backend=self.settings.llm,
        )

    def _retriever(
        self, store: ChromaStore, k: int | None, filters: Filters | None
    ) -> PassageRetriever:
        return PassageRetriever(
            store=store,
            embedder=self.embedder,
            k=k or self.settings.k,
            fetch_k=self.settings.fetch_k,
            mode=self.settings.retrieval,
            fusion=self.settings.fusion,
            rrf_k=self.settings.rrf_k,
            dense_weight=self.settings.dense_weight,
            keyword_weight=self.settings.keyword_weight,
            max_per_article=self.settings.max_per_article,
            mmr=self.settings.mmr,
            mmr_lambda=self.settings.mmr_lambda,
            filters=filters,
        )

    @cached_property
    def sentence_vectors(self) -> SentenceVectors:
        return SentenceVectors(self.embedder)

    @property
    def answerer(self) -> ExtractiveAnswerer:
        if self._answerer is None:
            combiner = Combiner.load(self.settings.answer_weights)
            if self.settings.abstain_threshold is not None:
                combiner = replace(combiner, abstain_threshold=self.settings.abstain_threshold)
            self._answerer = ExtractiveAnswerer(
                self.embedder,
                combiner,
                sentence_vectors=self.sentence_vectors,
                term_rarity=self.store.keywords.inverse_document_frequency,
                max_articles=self.settings.candidate_articles,
                max_sentences=self.settings.answer_sentences,
                # 0 answers whatever it finds: no off-topic, year or probability refusal.
                abstain=self.settings.abstain_threshold != 0,
                question_encoder=self._question_encoder(combiner),
            )
        return self._answerer

    def _question_encoder(self, combiner: Combiner) -> Callable[[str], np.ndarray] | None:
        """The ranker's tuned question encoder, when the index's sentence vectors come from the
        model it was tuned against; loaded on first use."""
        if combiner.encoder_layers is None:
            return None
        folder = getattr(self.embedder, "model_path", None)  # None: a stand-in embedder
        if folder is None or self.settings.embedding_model != combiner.encoder_base_model:
            return None
        layers, sha = combiner.encoder_layers, combiner.encoder_sha256
        first = combiner.encoder_first_layer
        embedder = self.embedder
        # The tuned model shares the layers below `first` with the retrieval model: the
        # question's pass for retrieval keeps its states there, and the tuned layers go on.
        embedder.keep_question_layer = first

        def encode(text: str) -> np.ndarray:
            encoder = load_encoder(layers, sha, folder, first)
            hidden = embedder.question_hidden(text, first)
            if hidden is None:
                return encoder.encode([text])[0]
            return encoder.encode_from(hidden, first)

        return encode

    @property
    def generative(self) -> GenerativeAnswerer | None:
        """The LLM answerer, or None when the backend is extractive."""
        if self._generative is None and self.settings.llm != "extractive":
            chat_model = self._chat_model or make_chat_model(self.settings)
            self._generative = GenerativeAnswerer(
                chat_model,
                CitationVerifier(
                    self.embedder, self.settings.verify_threshold, self.sentence_vectors
                ),
                strict=self.settings.strict,
            )
        return self._generative

    # ------------------------------------------------------------- maintenance

    def remove(self, reference: str) -> list[str]:
        """Remove articles by id, by file path, or every article under a folder.

        Takes the ingest lock: a removal never interleaves with an ingest of the same index.
        """
        with ingest_lock(self.settings):
            return self._remove(reference)

    def _remove(self, reference: str) -> list[str]:
        store = self.store
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

    def check(self) -> list[str]:
        """Problems found in the index (orphan or mismatched chunks, wrong counts, duplicates)."""
        self.store.keywords_ready.wait()  # this machine's cache is checked once it caught up
        return check_index(self.store)

    def stats(self) -> dict[str, Any]:
        counts = self.store.counts()
        return {**counts, "index": self.store.where, "settings_hash": self.settings.settings_hash()}
