"""Fetch an official checkpoint into a local cache, verified and atomically.

The cache never holds a half-written or unverified file under a checkpoint's
final name: pooch streams the download into a temporary file in the same folder,
checks its SHA-256, and only then moves it onto the final name (a rename within
one folder is atomic).  The temporary file is removed on every failure, Ctrl-C
included.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, Callable

import pooch
import requests

from .registry import CheckpointInfo

__all__ = ["CheckpointDownloadError", "default_cache_dir", "ensure_checkpoint", "sha256_of_file"]

ProgressCallback = Callable[[int, int], None]

_HASH_CHUNK = 1024 * 1024
# Smaller than the hashing chunk so the progress callback moves smoothly.
_DOWNLOAD_CHUNK = 64 * 1024


class CheckpointDownloadError(RuntimeError):
    """A checkpoint could not be downloaded or did not verify."""


def default_cache_dir() -> Path:
    """``$NAPARI_SAM2_CACHE_DIR``, else ``$XDG_CACHE_HOME/napari-sam2/checkpoints``, else ``~/.cache/...``."""
    explicit = os.environ.get("NAPARI_SAM2_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "napari-sam2" / "checkpoints"


def sha256_of_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks so large checkpoints need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_verified(path: Path, info: CheckpointInfo) -> bool:
    """True if ``path`` is a regular file with the expected size and SHA-256."""
    try:
        if not path.is_file() or path.stat().st_size != info.num_bytes:
            return False  # cheap size check first: hashing 900 MB takes seconds
        return sha256_of_file(path) == info.sha256.lower()
    except OSError:
        return False


def ensure_checkpoint(
    info: CheckpointInfo,
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 60.0,
) -> Path:
    """Return ``cache_dir / info.filename``, downloading and verifying it first if needed.

    A file already present with the right size and SHA-256 is returned without
    any network access; any other file under that name is not trusted and is
    replaced, but only once a freshly downloaded copy has been verified.
    ``progress(bytes_done, total_bytes)`` is called as data arrives.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache_dir / info.filename
    if _is_verified(target, info):
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointDownloadError(
            f"cannot create the checkpoint cache folder {cache_dir} ({exc}); "
            "set NAPARI_SAM2_CACHE_DIR to a writable folder"
        ) from exc
    _download_verified(info, target, progress, timeout)
    return target


def _manual_hint(info: CheckpointInfo, target: Path) -> str:
    return (
        f"download the file by hand from {info.url} and save it as {target} "
        f"(expected SHA-256 {info.sha256}, {info.num_bytes} bytes), "
        "or pass the path of a checkpoint file you already have"
    )


def _download_verified(
    info: CheckpointInfo, target: Path, progress: ProgressCallback | None, timeout: float
) -> None:
    """pooch streams the body into a temporary file beside ``target``, checks its SHA-256 and
    only then moves it onto ``target``; the temporary file is removed on any failure. What
    arrives passes through a ``_Received`` on the way, for progress and for our messages."""
    received = _Received(info, target, progress)
    http = pooch.HTTPDownloader(progressbar=False, chunk_size=_DOWNLOAD_CHUNK, timeout=timeout,
                                headers={"User-Agent": "napari-sam2"})

    def download(url: str, output_file: str, pooch_instance) -> None:
        with open(output_file, "w+b") as out:
            received.out = out
            http(url, received, pooch_instance)

    try:
        pooch.retrieve(info.url, known_hash=f"sha256:{info.sha256.lower()}", fname=target.name,
                       path=target.parent, downloader=download)
    except requests.exceptions.HTTPError as exc:
        response = exc.response
        raise CheckpointDownloadError(
            f"could not download {info.name} from {info.url}: the server answered "
            f"HTTP {response.status_code} ({response.reason}); {_manual_hint(info, target)}"
        ) from exc
    except (ValueError, requests.exceptions.ChunkedEncodingError) as exc:
        # pooch's hash check failed, or the connection was cut mid-body: say which, with numbers.
        _check_download(info, target, received.digest.hexdigest(), received.num_bytes)
        raise CheckpointDownloadError(f"could not download {info.name} from {info.url} ({exc}); "
                                      f"{_manual_hint(info, target)}") from exc
    except requests.exceptions.RequestException as exc:
        raise CheckpointDownloadError(
            f"could not download {info.name} from {info.url} ({type(exc).__name__}: {exc}); "
            f"this machine may be offline; {_manual_hint(info, target)}"
        ) from exc
    os.chmod(target, 0o644)  # pooch's temporary file is owner-only


class _Received:
    """The file-like object pooch's downloader writes the body into: hashes and counts the
    bytes, reports progress, writes them on to ``out`` and stops a body that runs too long."""

    def __init__(self, info: CheckpointInfo, target: Path, progress: ProgressCallback | None) -> None:
        self.info, self.target, self.progress = info, target, progress
        self.out: IO[bytes] | None = None
        self.digest = hashlib.sha256()
        self.num_bytes = 0

    def write(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.num_bytes += len(chunk)
        if self.num_bytes > self.info.num_bytes:  # enough to know it is wrong
            _check_download(self.info, self.target, self.digest.hexdigest(), self.num_bytes)
        _write(self.out, chunk, self.target)
        if self.progress is not None:
            self.progress(self.num_bytes, self.info.num_bytes)

    def flush(self) -> None:
        self.out.flush()


def _write(out: IO[bytes], chunk: bytes, target: Path) -> None:
    """Write to the cache, reporting a local failure (e.g. a full disk) as such, not as offline."""
    try:
        out.write(chunk)
    except OSError as exc:
        raise CheckpointDownloadError(
            f"could not write to the checkpoint cache folder {target.parent} ({exc}); "
            "free some space or set NAPARI_SAM2_CACHE_DIR to another folder"
        ) from exc


def _check_download(info: CheckpointInfo, target: Path, digest: str, num_bytes: int) -> None:
    if num_bytes < info.num_bytes:
        raise CheckpointDownloadError(
            f"the download of {info.name} from {info.url} stopped after {num_bytes} of "
            f"{info.num_bytes} bytes (the connection was cut); nothing was written to the cache; "
            f"try again, or {_manual_hint(info, target)}"
        )
    if num_bytes != info.num_bytes or digest != info.sha256.lower():
        raise CheckpointDownloadError(
            f"the download of {info.name} from {info.url} does not match the official checkpoint: "
            f"expected SHA-256 {info.sha256} ({info.num_bytes} bytes), got SHA-256 {digest} "
            f"({num_bytes} bytes); the download was corrupted or the file at that address "
            f"changed; nothing was written to the cache; try again, or {_manual_hint(info, target)}"
        )
