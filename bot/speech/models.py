"""Vosk model management: download, verify and unpack a model; find the one to use.

`download_model` streams `<base_url>/<name>.zip` into `<target_dir>/<name>.zip.part`, resumes a
partial file with an HTTP Range request (and starts over when the server ignores ranges), retries
a dropped connection a few times, checks every member's CRC, refuses members that would land
outside the target (path traversal, absolute paths, links), unpacks into a staging directory,
checks the layout Vosk expects (`am/`, `conf/`, `graph/`, optionally `ivector/`) and only then
moves it to `<target_dir>/<name>/`. Unpacking is capped (`MAX_UNPACKED_BYTES`, `MAX_MEMBERS`):
the sizes the archive declares are checked first, and the bytes actually written are counted,
since a zip bomb can lie in its headers; a bomb is refused without filling the disk.

Errors (English; these are operator messages, not the bot's)::

    ModelDownloadError            the model could not be installed
    ├── ModelOfflineError         the server cannot be reached (no network, DNS, refused, timeout)
    ├── ModelNotFoundError        no model with that name on the server (HTTP 404)
    └── ModelArchiveError         the download is not a valid, safe, complete model archive
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx

from bot.speech.audio import ModelUnavailableError
from bot.speech.recognizer import validate_model_dir

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL_NAME",
    "ModelArchiveError",
    "ModelDownloadError",
    "ModelNotFoundError",
    "ModelOfflineError",
    "download_model",
    "resolve_model_path",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "vosk-model-small-ru-0.22"
DEFAULT_BASE_URL = "https://alphacephei.com/vosk/models"
_MODELS_PAGE = "https://alphacephei.com/vosk/models"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CHUNK = 1 << 16
#: Most bytes one model may unpack to. The largest Vosk models (big Russian, 1.8 GB zipped)
#: unpack to under 3 GB; anything far beyond is not a model.
MAX_UNPACKED_BYTES = 8 * 1024**3
#: Most members one archive may hold (models have a few dozen files).
MAX_MEMBERS = 10_000
#: Highest unpacked/packed size ratio accepted. Model files (weights, FSTs) compress about 2:1;
#: deflate's ceiling is about 1000:1, which only runs of identical bytes reach — a bomb.
MAX_RATIO = 100


class ModelDownloadError(Exception):
    """The model could not be downloaded or installed."""


class ModelOfflineError(ModelDownloadError):
    """The model server cannot be reached."""


class ModelNotFoundError(ModelDownloadError):
    """The server has no model with that name."""


class ModelArchiveError(ModelDownloadError):
    """The downloaded file is not a valid, safe, complete model archive."""


def resolve_model_path(settings: Settings) -> Path | None:
    """The model directory to load: `VOSK_MODEL_PATH` if set (even if it does not exist, so the
    error names it), else `<VOSK_MODELS_DIR>/vosk-model-small-ru-0.22` if present, else None."""
    if settings.vosk_model_path is not None:
        return settings.vosk_model_path
    candidate = settings.vosk_models_dir / DEFAULT_MODEL_NAME
    return candidate if candidate.is_dir() else None


def _member_target(root: Path, info: zipfile.ZipInfo) -> Path | None:
    """Where a member may be extracted under `root`, or raise if it is unsafe; None for dirs."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ModelArchiveError(f"archive member {name!r} is a symbolic link; refusing to unpack")
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise ModelArchiveError(f"archive member {name!r} escapes the target directory")
    target = (root / pure).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ModelArchiveError(f"archive member {name!r} escapes the target directory")
    return None if info.is_dir() else target


def _copy_capped(src: BinaryIO, out: BinaryIO, budget: int, name: str) -> int:
    """Copy until EOF; raise once more than ``budget`` bytes came out. Returns bytes copied."""
    copied = 0
    while chunk := src.read(_CHUNK):
        copied += len(chunk)
        if copied > budget:
            raise ModelArchiveError(
                f"archive member {name!r} unpacks to more than the archive declares or the "
                "cap allows; refusing it (zip bomb?)"
            )
        out.write(chunk)
    return copied


def _verify_and_unpack(
    archive: Path, target_dir: Path, name: str, max_unpacked: int = MAX_UNPACKED_BYTES
) -> Path:
    """Blocking: check the zip, unpack it safely within ``max_unpacked`` bytes, validate the
    layout, move it in place. CRCs are checked as members are read (zipfile does it at EOF)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_MEMBERS:
                raise ModelArchiveError(
                    f"archive has {len(members)} members (at most {MAX_MEMBERS}); not a model"
                )
            declared = sum(info.file_size for info in members)
            packed = sum(info.compress_size for info in members)
            if declared > max_unpacked:
                raise ModelArchiveError(
                    f"archive unpacks to {declared} bytes, more than the {max_unpacked} allowed"
                )
            if declared > MAX_RATIO * max(packed, 1) and declared > 1024 * 1024:
                raise ModelArchiveError(
                    f"archive unpacks {packed} bytes into {declared} (more than {MAX_RATIO}:1); "
                    "not a model (zip bomb?)"
                )
            staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target_dir))
            try:
                # Check every member before writing any, so a bad archive leaves nothing behind.
                targets = [(info, _member_target(staging, info)) for info in members]
                left = max_unpacked
                for info, dest in targets:
                    if dest is None:
                        continue
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    # A member may not write more than it declares, nor the whole archive more
                    # than the cap: headers can lie, the byte count cannot.
                    budget = min(info.file_size, left)
                    with zf.open(info) as src, dest.open("wb") as out:
                        left -= _copy_capped(src, out, budget, info.filename)  # type: ignore[arg-type]
                root = _model_root(staging)
                try:
                    validate_model_dir(root)
                except ModelUnavailableError as exc:
                    raise ModelArchiveError(f"archive is not a Vosk model: {exc.reason}") from exc
                final = target_dir / name
                if final.exists():
                    shutil.rmtree(final)
                root.rename(final)
                return final
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except zipfile.BadZipFile as exc:
        # Also a member whose CRC does not match ("Bad CRC-32"), found while reading it.
        raise ModelArchiveError(f"download is not a valid zip archive ({exc})") from exc
    except (zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise ModelArchiveError(f"archive cannot be unpacked ({exc})") from exc
    except OSError as exc:
        # Our side (disk full, permissions): the download itself is fine, so the .part is kept.
        raise ModelDownloadError(f"cannot unpack into {target_dir}: {exc}") from exc


def _model_root(staging: Path) -> Path:
    """The model's own directory: the archive's single top folder, or the staging dir itself."""
    entries = [p for p in staging.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and not (staging / "am").exists():
        return entries[0]
    return staging


async def _stream_into(client: httpx.AsyncClient, url: str, part: Path, *, progress: bool) -> None:
    """One attempt: fetch `url` into `part`, resuming from its current size when possible."""
    offset = part.stat().st_size if part.exists() else 0
    # Identity encoding: byte offsets must count the file's bytes, not a gzip stream's.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    async with client.stream("GET", url, headers=headers) as resp:
        if resp.status_code == 404:
            raise ModelNotFoundError(
                f"no model at {url} (HTTP 404): check the name against {_MODELS_PAGE}"
            )
        if resp.status_code == 416 and offset:
            # Range not satisfiable: either the part is already complete or it is junk.
            total = _total_from_content_range(resp.headers.get("content-range"))
            if total == offset:
                return
            part.unlink()
            raise _Restart("server rejected the range; starting over")
        if resp.status_code not in (200, 206):
            raise ModelDownloadError(f"{url} answered HTTP {resp.status_code}")
        append = True
        if offset and resp.status_code == 200:
            log.warning("server ignores Range requests; downloading %s from the start", url)
            offset = 0
            append = False
        elif resp.status_code == 206:
            start = _start_from_content_range(resp.headers.get("content-range"))
            if start != offset:
                part.unlink(missing_ok=True)
                raise _Restart(f"server resumed at byte {start}, expected {offset}")
        length = resp.headers.get("content-length")
        total = offset + int(length) if length and length.isdigit() else None
        with part.open("ab" if append else "wb") as out:
            await _copy(resp, out, offset=offset, total=total, progress=progress, name=part.name)
        if total is not None and part.stat().st_size != total:
            raise httpx.RemoteProtocolError("download ended early")


class _Restart(Exception):
    """The partial file was discarded; try again from zero."""


async def _copy(
    resp: httpx.Response,
    out: BinaryIO,
    *,
    offset: int,
    total: int | None,
    progress: bool,
    name: str,
) -> None:
    from tqdm import tqdm  # noqa: PLC0415 - only the download command draws a progress bar

    bar: Any = tqdm(
        total=total,
        initial=offset,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=name.removesuffix(".part"),
        disable=not progress,
    )
    try:
        # No re-chunking: bytes are written as they arrive, so a dropped connection loses none of
        # what was received and the resume offset is exact.
        async for chunk in resp.aiter_raw():
            # A CLI command: 64 KiB local writes take microseconds, no thread hop needed.
            out.write(chunk)
            bar.update(len(chunk))
    finally:
        bar.close()


def _start_from_content_range(value: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/(?:\d+|\*)", value or "")
    return int(match.group(1)) if match else None


def _total_from_content_range(value: str | None) -> int | None:
    match = re.match(r"bytes (?:\*|\d+-\d+)/(\d+)", value or "")
    return int(match.group(1)) if match else None


async def download_model(
    name: str = DEFAULT_MODEL_NAME,
    target_dir: Path = Path("models"),
    base_url: str = DEFAULT_BASE_URL,
    *,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 30.0,
    force: bool = False,
    max_unpacked: int = MAX_UNPACKED_BYTES,
) -> Path:
    """Download and unpack model `name` into `<target_dir>/<name>/`; return that directory.

    An already installed, valid model is returned as is unless `force`. A dropped connection is
    retried up to `retries` times, each retry resuming the `.part` file. Raises the
    `ModelDownloadError` tree in the module docstring.
    """
    if not _NAME_RE.match(name):
        raise ModelNotFoundError(f"{name!r} is not a model name (see {_MODELS_PAGE})")
    target_dir.mkdir(parents=True, exist_ok=True)
    final = target_dir / name
    if final.is_dir() and not force:
        try:
            validate_model_dir(final)
        except ModelUnavailableError:
            log.warning("%s exists but is incomplete; downloading again", final)
        else:
            log.info("model %s is already installed in %s", name, final)
            return final
    url = f"{base_url.rstrip('/')}/{name}.zip"
    part = target_dir / f"{name}.zip.part"
    timeouts = httpx.Timeout(timeout, connect=min(timeout, 10.0))
    attempts = 0
    async with httpx.AsyncClient(timeout=timeouts, follow_redirects=True) as client:
        while True:
            attempts += 1
            try:
                await _stream_into(client, url, part, progress=progress)
                break
            except _Restart as exc:
                log.warning("%s", exc)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise ModelOfflineError(
                    f"cannot reach {httpx.URL(url).host} to download {name} ({exc or 'offline'}). "
                    f"On an offline machine download {name}.zip elsewhere, unpack it and set "
                    "VOSK_MODEL_PATH to the folder."
                ) from exc
            except httpx.TransportError as exc:
                if attempts > retries:
                    raise ModelDownloadError(
                        f"download of {name} kept failing ({exc}); run the command again to "
                        f"resume from {part}"
                    ) from exc
                log.warning("download interrupted (%s); resuming", exc or type(exc).__name__)
            if attempts > retries:
                raise ModelDownloadError(f"download of {name} did not complete")
    try:
        result = await asyncio.to_thread(_verify_and_unpack, part, target_dir, name, max_unpacked)
    except ModelArchiveError:
        # A corrupt archive cannot be resumed into a good one: remove it so a rerun starts clean.
        part.unlink(missing_ok=True)
        raise
    part.unlink(missing_ok=True)
    log.info("installed model %s in %s", name, result)
    return result
