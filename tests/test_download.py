"""Downloads against a server on 127.0.0.1: every failure is a clear error and leaves nothing behind."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from xraygan.config import DataConfig
from xraygan.data import NoDataError, load_splits
from xraygan.data.download import (
    CredentialsError,
    DownloadError,
    download_file,
    fetch_kaggle,
    fetch_medmnist,
    kaggle_credentials,
    safe_extract_zip,
)
from xraygan.info import MEDMNIST


class _Server:
    """Serves `routes[path] = (status, body, headers)`; records the Authorization headers it saw."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, dict]] = {}
        self.auth: list[str | None] = []
        srv = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                srv.auth.append(self.headers.get("Authorization"))
                status, body, headers = srv.routes.get(self.path.split("?")[0], (404, b"nope", {}))
                self.send_response(status)
                self.send_header("Content-Length", headers.get("Content-Length", str(len(body))))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.httpd.shutdown()


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_download_ok_and_not_repeated(server: _Server, tmp_path: Path) -> None:
    body = b"x" * 5000
    server.routes["/f.bin"] = (200, body, {})
    p = download_file(f"{server.url}/f.bin", tmp_path / "f.bin", md5=hashlib.md5(body).hexdigest())
    assert p.read_bytes() == body
    server.routes["/f.bin"] = (500, b"", {})
    download_file(f"{server.url}/f.bin", tmp_path / "f.bin", md5=hashlib.md5(body).hexdigest())  # no request
    assert len(server.auth) == 1


def test_checksum_mismatch(server: _Server, tmp_path: Path) -> None:
    server.routes["/f.bin"] = (200, b"abc", {})
    with pytest.raises(DownloadError, match="MD5 .* does not match"):
        download_file(f"{server.url}/f.bin", tmp_path / "f.bin", md5="0" * 32)
    assert list(tmp_path.iterdir()) == []


def test_truncated_download(server: _Server, tmp_path: Path) -> None:
    server.routes["/f.bin"] = (200, b"abc", {"Content-Length": "10"})
    with pytest.raises(DownloadError, match="truncated|could not download"):
        download_file(f"{server.url}/f.bin", tmp_path / "f.bin", timeout=3)
    assert list(tmp_path.iterdir()) == []


def test_no_network(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="No network.*by hand"):
        download_file(f"{_closed_port()}/f.bin", tmp_path / "f.bin", timeout=3)
    assert list(tmp_path.iterdir()) == []


def test_http_401_names_credentials(server: _Server, tmp_path: Path) -> None:
    server.routes["/f.bin"] = (401, b"", {})
    with pytest.raises(DownloadError, match="credentials"):
        download_file(f"{server.url}/f.bin", tmp_path / "f.bin")


@pytest.mark.parametrize("bad", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_zip_slip_refused(tmp_path: Path, bad: str) -> None:
    arc = tmp_path / "a.zip"
    arc.write_bytes(_zip({"ok.txt": b"1", bad: b"2"}))
    with pytest.raises(DownloadError, match="outside"):
        safe_extract_zip(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()


def test_bad_archive(tmp_path: Path) -> None:
    arc = tmp_path / "a.zip"
    arc.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DownloadError, match="not a valid zip"):
        safe_extract_zip(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_credentials(tmp_path: Path) -> None:
    assert kaggle_credentials() is None
    with pytest.raises(CredentialsError, match="KAGGLE_USERNAME"):
        fetch_kaggle(tmp_path / "k")


def test_kaggle_json_credentials(tmp_path: Path, monkeypatch) -> None:
    d = tmp_path / "kg"
    d.mkdir()
    (d / "kaggle.json").write_text(json.dumps({"username": "u", "key": "k"}))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(d))
    assert kaggle_credentials() == ("u", "k")


class _StubKaggle:
    """Stands in for the official client: writes what a real download would (or fails like it)."""

    def __init__(self, archive: bytes | None = None, error: Exception | None = None) -> None:
        self.archive, self.error, self.calls, self.env = archive, error, 0, None

    def dataset_download_files(self, dataset: str, path: str, quiet: bool, unzip: bool) -> None:
        import os

        self.calls += 1
        self.env = (os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY"))
        if self.error:
            raise self.error
        assert dataset == "paultimothymooney/chest-xray-pneumonia" and not unzip
        (Path(path) / "chest-xray-pneumonia.zip").write_bytes(self.archive)


def _use_stub(monkeypatch, stub: _StubKaggle) -> None:
    import xraygan.data.download as dl

    monkeypatch.setattr(dl, "_kaggle_api", lambda: stub)
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", "secret")


def test_fetch_kaggle_unpacks_once(tmp_path: Path, monkeypatch, kaggle_dir: Path) -> None:
    members = {f"chest_xray/{p.relative_to(kaggle_dir)}": p.read_bytes()
               for p in kaggle_dir.rglob("*.jpeg")}
    members["__MACOSX/chest_xray/._junk"] = b"junk"
    members.update({f"chest_xray/chest_xray/{k[len('chest_xray/'):]}": v for k, v in list(members.items())[:2]})
    stub = _StubKaggle(_zip(members))
    _use_stub(monkeypatch, stub)
    root = fetch_kaggle(tmp_path / "k")
    assert (root / "train" / "NORMAL").is_dir() and root.name == "chest_xray"
    assert not list((tmp_path / "k").rglob("__MACOSX")) and not list((tmp_path / "k").glob("*.zip"))
    assert stub.env == ("alice", "secret")
    assert fetch_kaggle(tmp_path / "k") == root and stub.calls == 1  # once only
    s = load_splits(DataConfig(source="kaggle", cache_dir=str(tmp_path / "k" / "..")), progress=False)
    assert s.source.startswith("kaggle:") and len(s.test) == 6


def test_kaggle_client_without_credentials_is_never_imported(tmp_path: Path, monkeypatch) -> None:
    import xraygan.data.download as dl

    def imported():
        raise AssertionError("the client must not be imported without credentials")

    monkeypatch.setattr(dl, "_kaggle_api", imported)
    with pytest.raises(CredentialsError, match="KAGGLE_USERNAME"):
        fetch_kaggle(tmp_path / "k")


def test_kaggle_401_names_the_credentials(tmp_path: Path, monkeypatch) -> None:
    class HTTPError(Exception):
        response = type("R", (), {"status_code": 401})()

    _use_stub(monkeypatch, _StubKaggle(error=HTTPError("401 Client Error: Unauthorized")))
    with pytest.raises(DownloadError, match="HTTP 401.*Check your Kaggle credentials"):
        fetch_kaggle(tmp_path / "k")


@pytest.mark.parametrize("kind", ["truncated", "zip-slip"])
def test_kaggle_bad_archive_is_refused_and_removed(tmp_path: Path, monkeypatch, kind: str) -> None:
    body = _zip({"chest_xray/train/NORMAL/a.jpeg": b"x" * 5000})
    archive = body[: len(body) // 2] if kind == "truncated" else _zip({"../../evil.txt": b"x"})
    _use_stub(monkeypatch, _StubKaggle(archive))
    with pytest.raises(DownloadError, match="not a valid zip|outside"):
        fetch_kaggle(tmp_path / "k")
    assert not list((tmp_path / "k").glob("*.zip")) and not (tmp_path / "k" / "COMPLETE").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_medmnist_download_checked(server: _Server, tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    arrays = {}
    for split, n in (("train", 20), ("val", 6), ("test", 8)):
        arrays[f"{split}_images"] = rng.integers(0, 255, (n, 64, 64), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(-1, 1).astype(np.uint8)
    np.savez(buf, **arrays)
    body = buf.getvalue()
    server.routes["/pneumoniamnist_64.npz"] = (200, body, {})
    with pytest.raises(DownloadError, match="MD5"):  # our fake is not the published file
        fetch_medmnist(64, tmp_path / "m", base_url=server.url)
    assert not (tmp_path / "m" / "pneumoniamnist_64.npz").exists()  # nothing half-checked is left
    name, _ = MEDMNIST["files"][64]
    monkeypatch.setitem(MEDMNIST["files"], 64, (name, hashlib.md5(body).hexdigest()))
    monkeypatch.setenv("XRAYGAN_MEDMNIST_URL", server.url)
    s = load_splits(DataConfig(source="medmnist"), progress=False)
    assert s.source == "medmnist:64" and len(s.train) == 20 and len(s.val) == 6 and len(s.test) == 8
    assert s.train.images.shape[1:] == (1, 64, 64)


def test_auto_choice_offline_says_what_to_do(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ./data here
    monkeypatch.setenv("XRAYGAN_MEDMNIST_URL", _closed_port())
    with pytest.raises(NoDataError, match="XRAYGAN_DATA.*phantom") as e:
        load_splits(DataConfig(), progress=False)
    assert "Tried, in order: root/XRAYGAN_DATA (unset), ./data (no train/ and test/ folders), Kaggle (no " \
        "credentials), MedMNIST (could not download" in str(e.value)


def test_explicit_medmnist_lists_only_what_was_tried(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XRAYGAN_MEDMNIST_URL", _closed_port())
    with pytest.raises(NoDataError, match=r"Tried, in order: MedMNIST \(could not download") as e:
        load_splits(DataConfig(source="medmnist"), progress=False)
    assert "Kaggle" not in str(e.value).split("Fix:")[0] and "./data" not in str(e.value)


def test_auto_choice_prefers_env_then_local(monkeypatch, tmp_path: Path, kaggle_dir: Path) -> None:
    from xraygan.data import resolve_source

    monkeypatch.setenv("XRAYGAN_DATA", str(kaggle_dir))
    src = resolve_source(DataConfig())
    assert (src.kind, src.root, src.tried) == ("folder", kaggle_dir, ())
    monkeypatch.setenv("XRAYGAN_DATA", str(tmp_path / "mine.npz"))
    assert resolve_source(DataConfig()).kind == "npz"
    monkeypatch.delenv("XRAYGAN_DATA")
    monkeypatch.chdir(kaggle_dir.parent)
    kaggle_dir.rename(kaggle_dir.parent / "data")
    assert resolve_source(DataConfig()).kind == "folder"
