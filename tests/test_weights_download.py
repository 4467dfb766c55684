"""Downloading checkpoints, against a throwaway HTTP server on 127.0.0.1 only."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import os
import socket
import threading
from pathlib import Path

import pytest

from napari_sam2.weights import (
    CheckpointDownloadError,
    CheckpointInfo,
    default_cache_dir,
    ensure_checkpoint,
    sha256_of_file,
)

PAYLOAD_BYTES = 300_000


class _FileServer(http.server.ThreadingHTTPServer):
    """Serves one payload; ``mode`` is "ok", "truncated" or "404"."""

    daemon_threads = True

    def __init__(self, source: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.payload = source.read_bytes()
        self.mode = "ok"
        self.request_count = 0
        self._lock = threading.Lock()

    def count_request(self) -> None:
        with self._lock:
            self.request_count += 1


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _FileServer

    def do_GET(self) -> None:
        self.server.count_request()
        payload = self.server.payload
        if self.server.mode == "404":
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.server.mode == "truncated":
            # Promise the whole payload, send half, hang up.
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
        else:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@dataclasses.dataclass
class Served:
    server: _FileServer
    payload: bytes
    info: CheckpointInfo
    cache_dir: Path

    @property
    def target(self) -> Path:
        return self.cache_dir / self.info.filename


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy set in the environment must not intercept requests to the local test server."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")


@pytest.fixture
def served(tmp_path: Path):
    payload = os.urandom(PAYLOAD_BYTES)
    source = tmp_path / "served" / "fake_ckpt.pt"
    source.parent.mkdir()
    source.write_bytes(payload)
    server = _FileServer(source)
    # A short poll interval keeps shutdown() (and so each test) quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    info = CheckpointInfo(
        name="fake_ckpt",
        version="sam2.1",
        size_name="tiny",
        url=f"http://{host}:{port}/{source.name}",
        sha256=hashlib.sha256(payload).hexdigest(),
        num_bytes=len(payload),
        hf_repo="nobody/fake",
    )
    try:
        yield Served(server, payload, info, tmp_path / "cache")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _leftovers(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


def test_download_lands_verified_and_reports_progress(served: Served):
    calls: list[tuple[int, int]] = []
    path = ensure_checkpoint(served.info, served.cache_dir, progress=lambda d, t: calls.append((d, t)))
    assert path == served.target
    assert path.read_bytes() == served.payload
    assert _leftovers(served.cache_dir) == [served.info.filename]
    done = [d for d, _ in calls]
    assert len(done) > 1
    assert done == sorted(set(done))
    assert done[-1] == PAYLOAD_BYTES
    assert {t for _, t in calls} == {PAYLOAD_BYTES}


def test_second_call_uses_the_cache_without_network(served: Served):
    ensure_checkpoint(served.info, served.cache_dir)
    assert served.server.request_count == 1
    assert ensure_checkpoint(served.info, served.cache_dir) == served.target
    assert served.server.request_count == 1


def test_checksum_mismatch_raises_and_leaves_nothing(served: Served):
    wrong = "0" * 64
    info = dataclasses.replace(served.info, sha256=wrong)
    with pytest.raises(CheckpointDownloadError) as excinfo:
        ensure_checkpoint(info, served.cache_dir)
    message = str(excinfo.value)
    assert wrong in message
    assert served.info.sha256 in message
    assert str(served.target) in message
    assert _leftovers(served.cache_dir) == []


def test_truncated_response_raises_and_leaves_nothing(served: Served):
    served.server.mode = "truncated"
    with pytest.raises(CheckpointDownloadError) as excinfo:
        ensure_checkpoint(served.info, served.cache_dir, timeout=10)
    assert str(served.target) in str(excinfo.value)
    assert _leftovers(served.cache_dir) == []


def test_http_error_names_the_status_code(served: Served):
    served.server.mode = "404"
    with pytest.raises(CheckpointDownloadError, match="404"):
        ensure_checkpoint(served.info, served.cache_dir)
    assert _leftovers(served.cache_dir) == []


def test_unreachable_server_explains_the_manual_route(served: Served):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]
    info = dataclasses.replace(served.info, url=f"http://127.0.0.1:{free_port}/{served.info.filename}")
    with pytest.raises(CheckpointDownloadError) as excinfo:
        ensure_checkpoint(info, served.cache_dir, timeout=5)
    message = str(excinfo.value)
    assert str(served.target) in message
    assert "by hand" in message
    assert info.url in message
    assert _leftovers(served.cache_dir) == []


@pytest.mark.parametrize("junk_size", [PAYLOAD_BYTES, 1234], ids=["same-size", "other-size"])
def test_corrupt_cached_file_is_replaced(served: Served, junk_size: int):
    served.cache_dir.mkdir()
    served.target.write_bytes(b"\0" * junk_size)
    assert ensure_checkpoint(served.info, served.cache_dir) == served.target
    assert served.server.request_count == 1
    assert sha256_of_file(served.target) == served.info.sha256
    assert _leftovers(served.cache_dir) == [served.info.filename]


def test_failed_redownload_keeps_the_old_file_untouched(served: Served):
    served.cache_dir.mkdir()
    served.target.write_bytes(b"old")
    served.server.mode = "404"
    with pytest.raises(CheckpointDownloadError):
        ensure_checkpoint(served.info, served.cache_dir)
    assert served.target.read_bytes() == b"old"
    assert _leftovers(served.cache_dir) == [served.info.filename]


def test_interrupt_mid_download_leaves_nothing(served: Served):
    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensure_checkpoint(served.info, served.cache_dir, progress=interrupt)
    assert _leftovers(served.cache_dir) == []


def test_sha256_of_file_matches_hashlib(tmp_path: Path):
    data = os.urandom(3 * 1024 * 1024 + 17)  # spans several read chunks
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_of_file(path) == hashlib.sha256(data).hexdigest()


def test_default_cache_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("NAPARI_SAM2_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("NAPARI_SAM2_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "napari-sam2" / "checkpoints"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "napari-sam2" / "checkpoints"


def test_default_cache_dir_is_used_when_none_given(served: Served, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NAPARI_SAM2_CACHE_DIR", str(served.cache_dir))
    assert ensure_checkpoint(served.info) == served.target
    assert served.target.read_bytes() == served.payload
