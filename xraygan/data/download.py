"""Downloads: the Kaggle dataset through the official `kaggle` client (credentials), and MedMNIST+
PneumoniaMNIST (checksummed, plain HTTPS against a configurable base URL, so tests can use 127.0.0.1).
Unpacking is safe and happens once; a file that is already there is never silently replaced.
"""

from __future__ import annotations

import base64
import contextlib
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


class ChecksumError(DownloadError):
    """A file that is already there does not have the published checksum (it is left as it is)."""


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


def check_md5(path: Path, md5: str) -> None:
    """Refuse a present file whose MD5 differs from the published one, with what to do about it."""
    if (h := _md5(path)) != md5:
        raise ChecksumError(
            f"{path} is there, but its MD5 is {h}, not the published {md5}, so it is not the official file. "
            f"xraygan leaves it untouched. To use it anyway as your own MedMNIST-format file, pass it explicitly "
            f"(--data {path}, or XRAYGAN_DATA={path}); to get the official file, move it away and run again."
        )


def download_file(
    url: str, dest: str | Path, md5: str | None = None, auth: tuple[str, str] | None = None, timeout: float = 30.0
) -> Path:
    """Fetch `url` to `dest` through a temporary file; checks length and MD5; leaves nothing on failure."""
    dest = Path(dest)
    if dest.exists():
        if md5 is not None:
            check_md5(dest, md5)
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


def _kaggle_api():  # pragma: no cover - the real client needs the network; tests replace this function
    """The official Kaggle client, authenticated. Imported here, only once credentials are known: older
    versions of the package authenticate on import and exit when there are none."""
    from kaggle.api.kaggle_api_extended import KaggleApi

    api = KaggleApi()
    api.authenticate()
    return api


def _http_status(e: BaseException) -> int | None:
    """The HTTP status behind a client error (requests' HTTPError or the client's ApiException), if any."""
    response = getattr(e, "response", None)
    return getattr(response, "status_code", None) or getattr(e, "status", None)


@contextlib.contextmanager
def _kaggle_env(user: str, key: str):
    """KAGGLE_USERNAME/KAGGLE_KEY for the client while it runs (credentials may come from Colab secrets)."""
    old = {k: os.environ.get(k) for k in ("KAGGLE_USERNAME", "KAGGLE_KEY")}
    os.environ.update(KAGGLE_USERNAME=user, KAGGLE_KEY=key)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def fetch_kaggle(dest: str | Path) -> Path:
    """Download (official client) and unpack the Kaggle dataset into `dest` once; returns the folder with
    train/ and test/. A damaged archive is removed so that the next run downloads it again."""
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
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / f"{KAGGLE['dataset'].split('/')[1]}.zip"
    try:
        with _kaggle_env(*creds):
            _kaggle_api().dataset_download_files(KAGGLE["dataset"], path=str(dest), quiet=False, unzip=False)
    except Exception as e:  # noqa: BLE001 - the client raises requests', urllib3's and its own errors
        code = _http_status(e)
        hint = (
            "Check your Kaggle credentials (kaggle.com > Settings > API) and accept the dataset's terms on "
            f"{KAGGLE['page']}."
            if code in (401, 403)
            else f"No network? Download {KAGGLE['page']} by hand and point XRAYGAN_DATA at the unpacked folder."
        )
        raise DownloadError(
            f"Kaggle download of {KAGGLE['dataset']} failed ({f'HTTP {code}: ' if code else ''}"
            f"{type(e).__name__}: {e}). {hint}"
        ) from e
    if not archive.is_file():
        raise DownloadError(f"the Kaggle client reported success but left no {archive.name} in {dest}; run again.")
    try:
        unpacked = safe_extract_zip(archive, dest / "unpacked")
    except DownloadError as e:
        archive.unlink(missing_ok=True)
        raise DownloadError(f"{e} The archive was removed; run again to download it anew.") from e
    root = _find_kaggle_root(unpacked)
    archive.unlink()
    done.write_text(str(root.relative_to(dest)) + "\n")
    return root


def medmnist_home() -> Path:
    """The `medmnist` package's own download folder (its default root), looked in before downloading."""
    return Path.home() / ".medmnist"


def fetch_medmnist(size: int, dest: str | Path, base_url: str | None = None) -> Path:
    """PneumoniaMNIST at `size` px (28/64/128/224): from the medmnist package's folder or `dest` when already
    there (checked against MedMNIST's MD5, never replaced), else downloaded into `dest`."""
    if size not in MEDMNIST["files"]:
        raise ValueError(f"PneumoniaMNIST comes at {sorted(MEDMNIST['files'])} px, not {size}")
    name, md5 = MEDMNIST["files"][size]
    for there in (medmnist_home() / name, Path(dest) / name):
        if there.is_file():
            check_md5(there, md5)
            return there
    base = base_url or os.environ.get("XRAYGAN_MEDMNIST_URL") or MEDMNIST["base_url"]
    return download_file(f"{base}/{name}?download=1", Path(dest) / name, md5=md5, timeout=60)
