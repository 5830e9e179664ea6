"""The fitted combiner: feature weights that turn a candidate's signals into its score, and
the question-level model that decides whether to answer at all.

The weights are data, produced by `scripts/fit_answerer.py` from named question files with
cross-validation, saved as a small versioned JSON file inside the package and loaded by name;
their digest is part of the settings hash, so every Answer says which weights produced it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from askdocs.answer.features import FEATURES
from askdocs.answer.short import NEAREST_FOCUS, SPAN_FEATURES, SpanRanker

FORMAT = 2
"""Version of the weights file layout; a file of another version is refused, not misread."""

QUESTION_FEATURES: tuple[str, ...] = (
    "top_probability",  # the best candidate's share of the softmax over candidates
    "top_score",  # its raw combined score
    "margin",  # its score minus the second best's
    "top_kind",  # whether it holds a new phrase of the asked kind
    "kind_missing",  # the question asks for a phrase (number, date, name...) the best lacks
    "kind_missing_top3",  # ... and none of the three best holds one
    "unit_missing_top3",  # an amount of something is asked (money, time, a count of X) and none
    # of the three best states a new one: the articles likely lack that detail
    "top_focus_overlap",  # how much of the question's focus it holds
    "top_constraints",  # share of the question's years and numbers its article holds
    "top_sim_question",  # its cosine to the question
    "best_article_score",  # retrieval's score of the best article
    "top_article_coverage",  # how much of the question its article holds (an unanswerable
    # question asks for a detail a real story lacks, and cites its other details closely)
)


class CombinerError(ValueError):
    """A weights file that is missing, of another format, or for other features."""


REFUSE_MISSING = ("none", "units", "all-units", "kinds", "measured", "named")
"""Rules for refusing when the chosen sentence holds no new phrase of the asked kind (its
kind_<kind> feature below 1; extractive.lacks_asked): never; when the question asks for an
amount of money, a time or a percentage ("units"); also for "how many <things>" ("all-units");
for every kind a phrase answers (number, date, person, place, name: "kinds"); as "units", and
also when an amount is asked and the sentence holds no word the question says of what is
measured ("measured": "a cost of £8m" for "how much did the party raise"); as "measured", and
also when the question asks for the name of something ("the name of the woman") and the
sentence brings it in unnamed ("A US woman is suing HP") or names nothing new, or when a
person is asked and every new name of the sentence is a thing's ("the Uefa Cup"), or when a
count is asked and every new number of the sentence measures time, money or a share or labels
a rank ("five weeks after ... went to number one" for "how many copies"), or when the
question asks "which X" and no quoted sentence adds a name ("In which court ..." answered with
"According to the lawsuit, the injury ...": "named"). A weights file names the one it was
fitted with."""


@dataclass(frozen=True)
class Combiner:
    """Scores candidates with a linear model over standardised features (softmax-ranked).

    >>> combiner = Combiner.load("default")  # doctest: +SKIP
    >>> combiner.probabilities(features)  # doctest: +SKIP
    """

    name: str
    digest: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    abstain_features: tuple[str, ...]
    abstain_mean: np.ndarray
    abstain_scale: np.ndarray
    abstain_weights: np.ndarray
    abstain_bias: float
    abstain_threshold: float
    # A further sentence joins the best when its probability is at least this x its words x
    # the best's (extractive.choose); fitted under the median-answer-length limit.
    extra_sentence_per_word: float
    # Best cosine between the question and any candidate below which nothing in the articles
    # is about the question (fitted: refuses at most 1% of the answerable fitting questions).
    relevance_floor: float = 0.0
    # When the chosen sentence lacks what the question asks for, refuse (extractive.REFUSE_MISSING;
    # chosen by cross-validation in scripts/fit_answerer.py, "none" in files from before).
    refuse_missing: str = "none"
    # The fine-tuned question encoder the ranker was fitted with: the file of its tuned
    # layers, its sha256, and the embedding model whose stored sentence vectors it matches.
    encoder_layers: Path | None = None
    encoder_sha256: str = ""
    encoder_base_model: str = ""
    encoder_first_layer: int = 0
    # Chooses the short answer among a sentence's phrases of the asked kind (short.py); a file
    # fitted before there was one takes the phrase nearest the focus words.
    short: SpanRanker = NEAREST_FOCUS
    # The model that chooses the answer's sentences once this one has decided not to refuse
    # (a weights document of its own, fitted with the question encoder pre-trained on
    # synthetic questions: it ranks better, but its choices would refuse fewer unanswerable
    # questions; scripts/cv_compose.py measures the two together). None: this one answers.
    answering: Combiner | None = None

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """The combined score of each row of a feature matrix (columns in `features` order)."""
        return ((matrix - self.mean) / self.scale) @ self.weights

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """What each feature of one candidate adds to its score (they sum to `scores`):
        which signals put one candidate above another.

        >>> c = Combiner("t", "", ("a", "b"), np.zeros(2), np.array([1.0, 2.0]),
        ...     np.array([1.0, -1.0]), (), np.zeros(0), np.ones(0), np.zeros(0), 0.0, 0.5, 0.0)
        >>> c.contributions(np.array([2.0, 4.0])).tolist()
        [2.0, -2.0]
        """
        return (row - self.mean) / self.scale * self.weights

    def answerable(self, question_features: np.ndarray) -> float:
        """Probability that the best candidate holds the answer (the Answer's confidence)."""
        z = (question_features - self.abstain_mean) / self.abstain_scale
        return float(1.0 / (1.0 + np.exp(-(z @ self.abstain_weights + self.abstain_bias))))

    @classmethod
    def load(cls, name: str) -> Combiner:
        """A packaged weights file by name ("default"), or a path to one."""
        return _load(name)

    @classmethod
    def from_json(cls, name: str, text: str) -> Combiner:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise CombinerError(
                f"answer weights {name!r}: format {data.get('format')}, "
                f"this askdocs reads format {FORMAT}"
            )
        ranker, abstain = data["ranker"], data["abstain"]
        encoder = data.get("question_encoder")
        answering = data.get("answering")
        short = data.get("short")
        if short is not None and tuple(short["features"]) != SPAN_FEATURES:
            raise CombinerError(
                f"answer weights {name!r}: the short-answer model was fitted for other "
                "features than this askdocs computes; refit them with scripts/fit_answerer.py"
            )
        if tuple(ranker["features"]) != FEATURES or tuple(abstain["features"]) != QUESTION_FEATURES:
            raise CombinerError(
                f"answer weights {name!r} were fitted for other features than this askdocs "
                "computes; refit them with scripts/fit_answerer.py"
            )
        return cls(
            name=name,
            digest=hashlib.sha256(text.encode()).hexdigest()[:12],
            features=tuple(ranker["features"]),
            mean=np.asarray(ranker["mean"]),
            scale=np.asarray(ranker["scale"]),
            weights=np.asarray(ranker["weights"]),
            abstain_features=tuple(abstain["features"]),
            abstain_mean=np.asarray(abstain["mean"]),
            abstain_scale=np.asarray(abstain["scale"]),
            abstain_weights=np.asarray(abstain["weights"]),
            abstain_bias=float(abstain["bias"]),
            abstain_threshold=float(abstain["threshold"]),
            extra_sentence_per_word=float(data["extra_sentence_per_word"]),
            relevance_floor=float(abstain.get("relevance_floor", 0.0)),
            refuse_missing=_refusal_rule(str(abstain.get("refuse_missing", "none"))),
            encoder_layers=_beside(name, encoder["file"]) if encoder else None,
            encoder_sha256=encoder["sha256"] if encoder else "",
            encoder_base_model=encoder["base_model"] if encoder else "",
            encoder_first_layer=min(encoder["layers"]) if encoder else 0,
            short=SpanRanker(
                mean=np.asarray(short["mean"]),
                scale=np.asarray(short["scale"]),
                weights=np.asarray(short["weights"]),
            )
            if short
            else NEAREST_FOCUS,
            answering=(
                cls.from_json(name, json.dumps(answering)) if answering is not None else None
            ),
        )


def weights_document(
    ranker: tuple[Sequence[float], Sequence[float], Sequence[float]],
    abstain: tuple[Sequence[float], Sequence[float], Sequence[float], float],
    threshold: float,
    relevance_floor: float,
    extra_sentence_per_word: float,
    short: tuple[Sequence[float], Sequence[float], Sequence[float]] | None = None,
    refuse_missing: str = "none",
    **about: object,
) -> dict[str, object]:
    """A weights file's content, the one layout `Combiner.from_json` reads: the ranker's
    (mean, scale, weights), the abstention model's (mean, scale, weights, bias), its threshold,
    the relevance floor, the extra-sentence threshold per word, the short-answer model's
    (mean, scale, weights) and `about` (provenance, the encoder)."""

    def rounded(values: Sequence[float]) -> list[float]:
        return [round(float(v), 6) for v in values]

    mean, scale, weights = ranker
    a_mean, a_scale, a_weights, bias = abstain
    short_model = (
        {}
        if short is None
        else {
            "short": {
                "features": list(SPAN_FEATURES),
                "mean": rounded(short[0]),
                "scale": rounded(short[1]),
                "weights": rounded(short[2]),
            }
        }
    )
    return {
        "format": FORMAT,
        **about,
        "ranker": {"features": list(FEATURES), "mean": rounded(mean), "scale": rounded(scale),
                   "weights": rounded(weights)},
        "abstain": {"features": list(QUESTION_FEATURES), "mean": rounded(a_mean),
                    "scale": rounded(a_scale), "weights": rounded(a_weights),
                    "bias": round(float(bias), 6), "threshold": round(float(threshold), 6),
                    "relevance_floor": round(float(relevance_floor), 6),
                    "refuse_missing": refuse_missing},
        "extra_sentence_per_word": extra_sentence_per_word,
        **short_model,
    }  # fmt: skip


def _packaged(file: str) -> Path:
    return Path(str(resources.files("askdocs.answer").joinpath("weights").joinpath(file)))


def _is_path(name: str) -> bool:
    return Path(name).suffix == ".json" or Path(name).is_file()


def _beside(name: str, file: str) -> Path:
    """A file that belongs to a weights file: next to it, packaged or not."""
    return Path(name).parent / file if _is_path(name) else _packaged(file)


def weights_text(name: str) -> str:
    """The text of a weights file: a path, or a file packaged under askdocs/answer/weights."""
    path = Path(name) if _is_path(name) else _packaged(f"{name}.json")
    if not path.is_file():
        raise CombinerError(
            f"answer weights file not found: {path}"
            if _is_path(name)
            else f"no packaged answer weights named {name!r}"
        )
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=8)
def _load(name: str) -> Combiner:
    return Combiner.from_json(name, weights_text(name))


def digest(name: str) -> str:
    """Short hash of a weights file, for the settings hash."""
    return _load(name).digest


def _refusal_rule(rule: str) -> str:
    if rule not in REFUSE_MISSING:
        choices = ", ".join(REFUSE_MISSING)
        raise CombinerError(f"unknown refuse_missing rule {rule!r} (one of {choices})")
    return rule
