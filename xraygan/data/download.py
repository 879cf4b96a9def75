"""Downloads: the Kaggle dataset (credentials) and MedMNIST+ PneumoniaMNIST (checksummed), done safely.

Plain urllib against a configurable base URL rather than the kaggle client: the client authenticates
on import (and exits when credentials are missing), and a base URL lets the tests use 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from xraygan.info import KAGGLE, MEDMNIST
from xraygan.progress import tqdm


class DownloadError(RuntimeError):
    """A download failed; the message says what to do instead."""


class CredentialsError(DownloadError):
    """No Kaggle credentials were found."""


def kaggle_credentials() -> tuple[str, str] | None:
    """(username, key) from KAGGLE_USERNAME/KAGGLE_KEY, kaggle.json, or Colab secrets; None if absent."""
    user, key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if user and key:
        return user, key
    cfg = Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle") / "kaggle.json"
    if cfg.is_file():
        try:
            d = json.loads(cfg.read_text())
            return d["username"], d["key"]
        except (ValueError, KeyError) as e:
            raise CredentialsError(
                f"{cfg} is not a valid kaggle.json ({e}); download a new one from "
                "kaggle.com > Settings > API > Create New Token."
            ) from e
    try:  # Colab secrets, when running in Colab
        from google.colab import userdata  # type: ignore[import-not-found]

        return userdata.get("KAGGLE_USERNAME"), userdata.get("KAGGLE_KEY")
    except Exception:  # noqa: BLE001 - not in Colab, or the secrets are not granted
        return None


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_file(
    url: str, dest: str | Path, md5: str | None = None, auth: tuple[str, str] | None = None, timeout: float = 30.0
) -> Path:
    """Fetch `url` to `dest` through a temporary file; checks length and MD5; leaves nothing on failure."""
    dest = Path(dest)
    if dest.exists() and (md5 is None or _md5(dest) == md5):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    req = urllib.request.Request(url, headers={"User-Agent": "xraygan"})
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r, os.fdopen(fd, "wb") as f:
                total = int(r.headers.get("Content-Length") or 0) or None
                got = 0
                with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {dest.name}") as bar:
                    while block := r.read(1 << 20):
                        f.write(block)
                        got += len(block)
                        bar.update(len(block))
        except urllib.error.HTTPError as e:
            hint = (
                " Check your Kaggle credentials (kaggle.com > Settings > API) and accept the dataset's "
                "terms on its page."
                if e.code in (401, 403)
                else ""
            )
            raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}.{hint}") from e
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
            raise DownloadError(
                f"could not download {url} ({e}). No network? Download it by hand and save "
                f"it as {dest}, or point XRAYGAN_DATA at a local copy of the data."
            ) from e
        if total is not None and got != total:
            raise DownloadError(f"download of {url} was truncated ({got} of {total} bytes); run again.")
        if md5 is not None and (h := _md5(tmp)) != md5:
            raise DownloadError(
                f"{url}: MD5 {h} does not match the published {md5}; the file is damaged or "
                "changed upstream. Run again, or download it by hand and check it."
            )
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def safe_extract_zip(archive: str | Path, target: str | Path) -> Path:
    """Unpack a zip into `target`, refusing members that would land outside it; drops __MACOSX.
    Unpacks into a temporary sibling folder first, so a failure leaves no half-written `target`."""
    archive, target = Path(archive), Path(target)
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{archive} is not a valid zip archive ({e}); delete it and download again.") from e
    with zf:
        for m in zf.infolist():
            p = PurePosixPath(m.filename.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                raise DownloadError(
                    f"{archive}: member {m.filename!r} would be written outside {target}; "
                    "refusing to unpack this archive."
                )
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            for m in zf.infolist():
                if m.filename.startswith("__MACOSX/") or "/__MACOSX/" in m.filename:
                    continue
                zf.extract(m, tmp)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DownloadError(f"{archive} is damaged ({e}); delete it and download again.") from e
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


def _find_kaggle_root(folder: Path) -> Path:
    """The shallowest folder below `folder` holding train/ and test/ (the zip nests chest_xray/ twice)."""
    hits = sorted((p.parent for p in folder.rglob("train") if (p.parent / "test").is_dir()), key=lambda p: len(p.parts))
    if not hits:
        raise DownloadError(f"the Kaggle archive unpacked into {folder} has no train/ and test/ folders.")
    return hits[0]


def fetch_kaggle(dest: str | Path, base_url: str | None = None) -> Path:
    """Download and unpack the Kaggle dataset into `dest` once; returns the folder with train/ and test/."""
    dest = Path(dest)
    done = dest / "COMPLETE"
    if done.exists():
        return dest / done.read_text().strip()
    creds = kaggle_credentials()
    if creds is None:
        raise CredentialsError(
            "no Kaggle credentials: set KAGGLE_USERNAME and KAGGLE_KEY, or save kaggle.json in ~/.kaggle/ "
            f"(kaggle.com > Settings > API > Create New Token), or download {KAGGLE['page']} by hand and "
            "point XRAYGAN_DATA at the unpacked folder."
        )
    base = base_url or os.environ.get("XRAYGAN_KAGGLE_URL") or KAGGLE["api"]
    dest.mkdir(parents=True, exist_ok=True)
    archive = download_file(
        f"{base}/datasets/download/{KAGGLE['dataset']}", dest / "chest-xray-pneumonia.zip", auth=creds, timeout=120
    )
    unpacked = safe_extract_zip(archive, dest / "unpacked")
    root = _find_kaggle_root(unpacked)
    archive.unlink()
    done.write_text(str(root.relative_to(dest)) + "\n")
    return root


def fetch_medmnist(size: int, dest: str | Path, base_url: str | None = None) -> Path:
    """Download PneumoniaMNIST at `size` px (28/64/128/224) into `dest`, checked against MedMNIST's MD5."""
    if size not in MEDMNIST["files"]:
        raise ValueError(f"PneumoniaMNIST comes at {sorted(MEDMNIST['files'])} px, not {size}")
    name, md5 = MEDMNIST["files"][size]
    base = base_url or os.environ.get("XRAYGAN_MEDMNIST_URL") or MEDMNIST["base_url"]
    return download_file(f"{base}/{name}?download=1", Path(dest) / name, md5=md5, timeout=60)
