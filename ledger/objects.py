"""Content-addressed object store behind an fsspec URL (file:// by default).

An object lives at <root>/<hh>/<sha256 hex> and transactions carry (digest, URL). Reading an
object checks its digest, so a tampered object is detected whoever stored it.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import fsspec

from ledger.encoding import DIGEST_BYTES
from ledger.errors import NotFound, ObjectIntegrityError, StorageError


@dataclass(frozen=True)
class ObjectRef:
    """A pointer to stored bytes: their SHA-256 and a URL to fetch them from."""

    digest: bytes
    url: str


class ObjectStore:
    """put(bytes) -> ObjectRef; get(ref) -> bytes, checked against the digest."""

    def __init__(self, root_url: str) -> None:
        self.root_url = root_url.rstrip("/")
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
        h = digest.hex()
        return f"{self.root_url}/{h[:2]}/{h}"

    def put(self, data: bytes) -> ObjectRef:
        """Store `data` durably (fsync on local files) and return its reference."""
        data = bytes(data)
        digest = hashlib.sha256(data).digest()
        path = self._path(digest)
        try:
            if not self._fs.exists(path):
                self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                tmp = f"{path}.tmp{os.getpid()}"
                with self._fs.open(tmp, "wb") as f:
                    f.write(data)
                    if self._local:
                        f.flush()
                        os.fsync(f.fileno())
                self._fs.mv(tmp, path)
        except OSError as exc:
            raise StorageError(f"cannot store object {digest.hex()}: {exc}") from None
        return ObjectRef(digest, self.url_for(digest))

    def get(self, ref: ObjectRef | bytes) -> bytes:
        """The bytes named by `ref` (or a digest); ObjectIntegrityError if they were altered."""
        digest = ref.digest if isinstance(ref, ObjectRef) else bytes(ref)
        if len(digest) != DIGEST_BYTES:
            raise NotFound("an object digest is 32 bytes")
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
