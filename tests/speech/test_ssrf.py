"""Issue 13, finding 4: a voice note cannot make ffmpeg fetch anything (SSRF).

A loopback HTTP listener started here counts every connection; "voice notes" that are really an
HLS playlist, a master playlist or a concat list point at it. ffmpeg must refuse each of them
without a single connection arriving — for piped bytes (Telegram downloads) and for files
(`audiobot transcribe`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.speech.audio import FORMATS, PROTOCOLS, AudioDecodeError, decode_audio


class Listener:
    """A TCP listener on loopback that only counts who connects."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    state = Listener()
    server = await asyncio.start_server(state._handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


def _payloads(port: int) -> dict[str, bytes]:
    base = f"http://127.0.0.1:{port}"
    return {
        "hls-media": (
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
            f"#EXTINF:2.0,\n{base}/seg0.ts\n#EXTINF:2.0,\n{base}/seg1.ts\n#EXT-X-ENDLIST\n"
        ).encode(),
        "hls-master": (
            f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000\n{base}/voice.m3u8\n"
        ).encode(),
        "concat": f"ffconcat version 1.0\nfile '{base}/a.wav'\nfile '/etc/hostname'\n".encode(),
    }


@pytest.mark.parametrize("kind", ["hls-media", "hls-master", "concat"])
@pytest.mark.parametrize("as_file", [False, True], ids=["bytes", "file"])
async def test_a_playlist_voice_note_reaches_no_server(
    listener: Listener, tmp_path: Path, kind: str, as_file: bool
) -> None:
    payload = _payloads(listener.port)[kind]
    source: bytes | Path = payload
    if as_file:
        source = tmp_path / "voice.ogg"  # named like a voice note, as an attacker would
        source.write_bytes(payload)
    with pytest.raises(AudioDecodeError):
        await decode_audio(source, max_seconds=10, timeout=10.0)
    assert listener.connections == 0


def test_the_allow_lists_hold_no_network_protocol_and_no_playlist_format() -> None:
    assert set(PROTOCOLS.split(",")) == {"pipe", "cache"}
    assert not {"hls", "concat", "image2", "tee", "data"} & set(FORMATS.split(","))
