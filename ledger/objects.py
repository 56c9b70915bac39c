"""Content-addressed object store behind an fsspec URL (file:// by default).

An object lives at <root>/<hh>/<sha256 hex> and transactions carry (digest, URL). Reading an
object checks its digest, so a tampered object is detected whoever stored it.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass

import fsspec

from ledger import checks
from ledger.encoding import DIGEST_BYTES
from ledger.errors import EncodingError, NotFound, ObjectIntegrityError, StorageError

MAX_URL_BYTES = 2048


def check_object_pointer(digest: bytes, url: str) -> None:
    """An object pointer is both or neither of a 32-byte digest and a URL of at most 2048
    UTF-8 bytes (the rule of ObjectRef and of a transaction's pointer fields)."""
    if len(digest) not in (0, DIGEST_BYTES):
        raise EncodingError("object digest must be empty or 32 bytes")
    if bool(url) != bool(digest) or len(url.encode("utf-8", "surrogatepass")) > MAX_URL_BYTES:
        raise EncodingError(f"object URL must be given with a digest, at most {MAX_URL_BYTES} bytes")


@checks.signature_checked
@dataclass(frozen=True)
class ObjectRef:
    """A pointer to stored bytes: their SHA-256 and a URL to fetch them from."""

    digest: bytes
    url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", checks.data(self.digest, "digest"))
        checks.text(self.url, "url")
        if not self.digest:
            raise EncodingError("an object reference has a 32-byte digest")
        check_object_pointer(self.digest, self.url)


class ObjectStore:
    """put(bytes) -> ObjectRef; get(ref) -> bytes, checked against the digest."""

    def __init__(self, root_url: str) -> None:
        self.root_url = checks.text(root_url, "root_url").rstrip("/")
        try:
            self._fs, self._root = fsspec.core.url_to_fs(self.root_url)
            self._fs.makedirs(self._root, exist_ok=True)
        except (OSError, ValueError, ImportError) as exc:
            raise StorageError(f"cannot open object store {root_url}: {exc}") from None
        protocols = self._fs.protocol if isinstance(self._fs.protocol, tuple) else (self._fs.protocol,)
        self._local = "file" in protocols  # only local files can be fsync'ed

    def _path(self, digest: bytes) -> str:
        h = digest.hex()
        return f"{self._root}/{h[:2]}/{h}"

    def url_for(self, digest: bytes) -> str:
        """The fsspec URL an object with this digest lives at."""
        h = checks.identifier(digest, "digest", "object digest").hex()
        return f"{self.root_url}/{h[:2]}/{h}"

    def put(self, data: bytes) -> ObjectRef:
        """Store `data` durably (fsync on local files) and return its reference. Concurrent
        puts, of the same content too, each write a temporary file of their own and rename it
        into place atomically. A file already at the object's path counts only if it holds
        these bytes: anything else there (a tampered object, a symlink elsewhere) is replaced."""
        data = checks.data(data, "data")
        digest = hashlib.sha256(data).digest()
        path = self._path(digest)
        try:
            if not self._holds(path, digest):
                self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                tmp = f"{path}.{os.getpid()}-{secrets.token_hex(8)}.tmp"
                try:
                    if self._local:
                        write_local(tmp, path, data)
                    else:
                        with self._fs.open(tmp, "wb") as f:
                            f.write(data)
                        self._fs.mv(tmp, path)
                finally:
                    if self._fs.exists(tmp):
                        self._fs.rm(tmp)
        except OSError as exc:
            raise StorageError(f"cannot store object {digest.hex()}: {exc}") from None
        return ObjectRef(digest, self.url_for(digest))

    def _holds(self, path: str, digest: bytes) -> bool:
        """Whether the file at `path` exists and hashes to `digest`."""
        try:
            with self._fs.open(path, "rb") as f:
                return hashlib.sha256(f.read()).digest() == digest
        except (FileNotFoundError, IsADirectoryError):
            return False

    def get(self, ref: ObjectRef | bytes | str) -> bytes:
        """The bytes named by `ref` (an ObjectRef, or a digest as bytes or hex);
        ObjectIntegrityError if they were altered."""
        # an ObjectRef's digest is checked again: fields can be replaced after construction
        digest = checks.identifier(getattr(ref, "digest", None) if isinstance(ref, ObjectRef) else ref,
                                   "ref", "object digest")
        try:
            with self._fs.open(self._path(digest), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFound(f"no object {digest.hex()}") from None
        except OSError as exc:
            raise StorageError(f"cannot read object {digest.hex()}: {exc}") from None
        if hashlib.sha256(data).digest() != digest:
            raise ObjectIntegrityError(f"object {digest.hex()} does not match its digest")
        return data


def write_local(tmp: str, path: str, data: bytes) -> None:
    """Write `tmp` (created exclusively), fsync it, rename it to `path` and fsync the directory."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    directory = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
