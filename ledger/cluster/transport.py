"""gRPC over mutual TLS between peers, clients and devices, with the deployment's certificates.

The handshake admits only certificates the deployment CA signed (a foreign CA's is refused
there) and, on the client side, only the server whose certificate carries the name the caller
expects. Every call then checks the caller's certificate against the current CRL and the role
and chain the method needs (TrustStore.check_transport): a revoked certificate, or a peer of
another chain, is refused with PERMISSION_DENIED before the method runs.

Messages are the ledger's canonical encodings as bytes (transactions, blocks, proofs), packed
by `pack`/`unpack`. TLS protects them in flight; what a message asks is checked as always: a
transaction by its signature and the replay rule, a block by its endorsements and links, so a
tampered or replayed message changes nothing.

A LedgerError raised by a method crosses the wire as its class name and message and is raised
again on the caller's side; an unreachable server, a call past its deadline, or one past the
caller's bound of calls under way (Method.per_caller, PER_CALLER_TOTAL) is ServiceUnavailable.
"""
from __future__ import annotations

import asyncio
import struct
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import grpc
from cryptography import x509

from ledger import checks, errors
from ledger.errors import LedgerError, ServiceUnavailable
from ledger.identity import ROLES, TrustStore

SERVICE = "edgeacc.Peer"
MAX_MESSAGE = 64 << 20
MAX_FIELD = MAX_MESSAGE
_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]
_ERROR_SEPARATOR = ": "
PER_CALLER = 16  # calls of one method one caller may have under way at one server (Method.per_caller)
# calls of all methods one caller may have under way at one server: each method's bound alone
# summed past the server's workers (a peer may call every method); room for a peer's Forward
# calls (its clients' submissions) and its attestations
PER_CALLER_TOTAL = 6 * PER_CALLER


MAX_FIELDS = 1 << 20  # fields of one packed message
_U32 = struct.Struct(">I").unpack_from


def pack(*fields: bytes) -> bytes:
    """Fields as one message: a count, then each field length-prefixed (one encoding each:
    big-endian u32s, as ledger.encoding's Writer.u32/bytes32 write them; joined here in one
    go, since every message crosses this on the hot path)."""
    parts = [len(fields).to_bytes(4, "big")]
    for field_ in fields:
        if type(field_) is not bytes:
            field_ = checks.data(field_, "field")
        parts.append(len(field_).to_bytes(4, "big"))
        parts.append(field_)
    return b"".join(parts)


def unpack(data: bytes, count: int | None = None, what: str = "message") -> list[bytes]:
    """The fields of a `pack`ed message (EncodingError unless exactly `count` when given; a
    truncated message, a field past MAX_FIELD or trailing bytes are EncodingErrors too)."""
    if type(data) is not bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise errors.EncodingError(f"{what} must be bytes, got {type(data).__name__}")
        data = checks.data(data, what)
    size = len(data)
    if size < 4:
        raise errors.EncodingError(f"{what} is truncated (need 4 bytes, have {size})")
    n, = _U32(data)
    if count is not None and n != count:
        raise errors.EncodingError(f"{what} must have {count} fields, got {n}")
    if n > MAX_FIELDS:
        raise errors.EncodingError(f"{what} has too many fields ({n})")
    out: list[bytes] = []
    pos = 4
    try:
        for _ in range(n):
            length, = _U32(data, pos)  # (struct.error past the end)
            if length > MAX_FIELD:
                raise errors.EncodingError(f"{what}: field of {length} bytes exceeds the limit {MAX_FIELD}")
            start = pos + 4
            pos = start + length
            if pos > size:
                raise errors.EncodingError(f"{what} is truncated (need {pos} bytes, have {size})")
            out.append(data[start:pos])
    except struct.error:
        raise errors.EncodingError(f"{what} is truncated (need {pos + 4} bytes, have {size})") from None
    if pos != size:
        raise errors.EncodingError(f"{what} has {size - pos} trailing bytes")
    return out


def number(data: bytes, what: str, base: int = 10) -> int:
    """A non-negative integer field of a message in its one encoding (ASCII digits, lower-case
    hex for base 16, no sign, space or leading zero); EncodingError otherwise."""
    if base == 10 and type(data) is bytes and 0 < len(data) <= 1000 and data.isdigit() \
            and (data[0] != 0x30 or len(data) == 1):  # (bytes.isdigit: ASCII digits only)
        return int(data)
    try:
        text = bytes(data).decode("ascii")
        if not text or len(text) > 1000 or not text.isalnum():
            raise ValueError
        value = int(text, base)
        if text != format(value, "x" if base == 16 else "d"):
            raise ValueError
        return value
    except ValueError:
        raise errors.EncodingError(f"{what} must be a number, got {checks.shown(bytes(data)[:40])}") from None


def text_field(data: bytes, what: str) -> str:
    """A UTF-8 text field of a message (a chain id); EncodingError naming `what` otherwise."""
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.EncodingError(f"{what} is not UTF-8 text") from None


@dataclass(frozen=True)
class Credentials:
    """A member's transport credentials (PEM): its TLS key and certificate, and the CA's."""

    tls_key: bytes
    tls_cert: bytes
    ca_cert: bytes

    FILES = ("tls.key", "tls.crt", "ca.crt")  # (the files `load` reads, in the fields' order)

    @classmethod
    def load(cls, directory: str | Path) -> "Credentials":
        """The FILES of a directory `edgeacc ca issue` wrote."""
        directory = checks.path(directory, "directory")
        try:
            return cls(*((directory / f).read_bytes() for f in cls.FILES))
        except OSError as exc:
            raise errors.StorageError(f"cannot read the transport credentials in {directory}: {exc}") from None

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """What a client channel presents (its certificate) and trusts (the CA)."""
        return grpc.ssl_channel_credentials(self.ca_cert, self.tls_key, self.tls_cert)


@dataclass(frozen=True)
class Caller:
    """Who called, as its transport certificate says (checked against the CRL at the call),
    when it stops waiting for the answer (time.monotonic(); None: no deadline), and `ended`,
    set once the call is over for the caller (answered, cancelled, past its deadline): a
    handler that waits stops waiting then (gRPC runs a handler to its end otherwise)."""

    name: str
    role: str
    chain_id: str | None
    deadline: float | None = None
    ended: threading.Event = field(default_factory=threading.Event, compare=False)

    def wait_bound(self, cap: float) -> float:
        """`cap` seconds, or fewer when the caller gives up sooner: a server thread must not
        wait on for an answer nobody receives."""
        return cap if self.deadline is None else max(0.0, min(cap, self.deadline - time.monotonic()))


# A method: fn(caller, request bytes) -> response bytes; the roles that may call it, whether
# the caller must be bound to the server's own chain (peer-to-peer methods), and how many calls
# of it one caller (one certificate name) may have under way at once. A streaming method is
# fn(caller, iterator of request bytes) -> iterator of response bytes, one call under way for
# the stream's whole life (so per_caller bounds the streams a caller holds open). `total`
# bounds the calls of it under way from all callers (each stream holds a server thread: many
# callers' streams must not take every worker); past it a caller is told ServerBusy with
# `instead` (the method to use). A stream neither side used for `idle_seconds` is closed.
@dataclass(frozen=True)
class Method:
    fn: Callable[[Caller, bytes], bytes]
    roles: tuple[str, ...] = ROLES
    same_chain: bool = False
    per_caller: int = PER_CALLER
    streaming: bool = False
    total: int | None = None
    instead: str = ""
    idle_seconds: float | None = None


class _CallsUnderWay:
    """Counts of the calls under way per (caller, method) and per caller: a caller past its
    method's bound, or past PER_CALLER_TOTAL in all, is refused at once (RESOURCE_EXHAUSTED),
    so calls that wait (Submit while its block is ordered, Stored while the block is followed)
    cannot take every server thread, and the other members' calls are still served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], int] = {}

    def enter(self, caller: str, method: str, bound: int, total: int | None = None) -> str | None:
        """Count the call in; None, or what bound it is past ("caller" or "total": not counted)."""
        keys = ((caller, method), (caller, ""), ("", method))  # ("": all; a name is never empty)
        with self._lock:
            if self._running.get(keys[0], 0) >= bound or self._running.get(keys[1], 0) >= PER_CALLER_TOTAL:
                return "caller"
            if total is not None and self._running.get(keys[2], 0) >= total:
                return "total"
            for key in keys:
                self._running[key] = self._running.get(key, 0) + 1
            return None

    def leave(self, caller: str, method: str) -> None:
        with self._lock:
            for key in ((caller, method), (caller, ""), ("", method)):
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]


class _IdleStreams:
    """Streams open at a server and when each was last used; `sweep` (every second, on a
    thread of its own) cancels those idle past their method's idle_seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, list] = {}  # id -> [context, last use (monotonic), idle seconds]
        self._sweeper: threading.Thread | None = None

    def opened(self, context, idle_seconds: float) -> int:
        with self._lock:
            self._open[id(context)] = [context, time.monotonic(), idle_seconds]
            if self._sweeper is None:
                self._sweeper = threading.Thread(target=self._sweep, name="idle-streams", daemon=True)
                self._sweeper.start()
        return id(context)

    def used(self, key: int) -> None:
        entry = self._open.get(key)
        if entry is not None:
            entry[1] = time.monotonic()

    def closed(self, key: int) -> None:
        with self._lock:
            self._open.pop(key, None)

    def _sweep(self) -> None:
        while True:
            time.sleep(1.0)
            now = time.monotonic()
            with self._lock:
                if not self._open:  # (the next stream starts another)
                    self._sweeper = None
                    return
                idle = [e[0] for e in self._open.values() if now - e[1] > e[2]]
            for context in idle:
                context.cancel()  # (the handler's reader sees the stream end; the caller, CANCELLED)


def serve(address: str, credentials: Credentials, trust: TrustStore, methods: dict[str, Method],
          chain_id: str, workers: int = 256) -> tuple[grpc.Server, int]:
    """Start a gRPC server on `address` (host:port; port 0 picks a free one) requiring client
    certificates of the deployment CA; returns the server and its port. Calls block while
    their block is ordered, and a peer serves its cutter's Endorse calls meanwhile: enough
    workers that waiting submissions never starve the peer-to-peer methods, and a bound on
    each caller's calls under way (Method.per_caller) so that no caller takes them all."""
    under_way, streams = _CallsUnderWay(), _IdleStreams()

    def admitted(name: str, method: Method, context: grpc.ServicerContext) -> Caller:
        try:
            caller = _caller(context, trust, method, chain_id)
        except LedgerError as exc:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, _encode_error(exc))
        past = under_way.enter(caller.name, name, method.per_caller, method.total)
        if past == "caller":
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"{caller.name} has {method.per_caller} {name} calls under way here (or "
                          f"{PER_CALLER_TOTAL} calls in all): retry later")
        if past == "total":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, _encode_error(errors.ServerBusy(
                f"this server holds {method.total} {name} calls already (busy): use {method.instead or 'another'}")))
        context.add_callback(caller.ended.set)
        return caller

    def failed(context: grpc.ServicerContext, exc: Exception) -> None:
        if not isinstance(exc, LedgerError):  # a bug must reach the caller as a LedgerError, not a hang
            exc = LedgerError(f"internal error in {SERVICE}: {type(exc).__name__}")
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, _encode_error(exc))

    def wrap(name: str, method: Method):
        def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
            caller = admitted(name, method, context)
            try:
                return method.fn(caller, request)
            except Exception as exc:
                failed(context, exc)
            finally:
                under_way.leave(caller.name, name)

        def stream_handler(requests, context: grpc.ServicerContext):
            caller = admitted(name, method, context)
            key = streams.opened(context, method.idle_seconds) if method.idle_seconds else None

            def used(items):
                for item in items:
                    if key is not None:
                        streams.used(key)
                    yield item
            try:
                yield from used(method.fn(caller, used(requests)))
            except grpc.RpcError:
                return  # the caller went away
            except Exception as exc:
                if not caller.ended.is_set():
                    failed(context, exc)
            finally:
                if key is not None:
                    streams.closed(key)
                under_way.leave(caller.name, name)
        if method.streaming:
            return grpc.stream_stream_rpc_method_handler(stream_handler)
        return grpc.unary_unary_rpc_method_handler(handler)

    server = grpc.server(futures.ThreadPoolExecutor(workers, thread_name_prefix="rpc"), options=_OPTIONS)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        SERVICE, {name: wrap(name, m) for name, m in methods.items()}),))
    creds = grpc.ssl_server_credentials([(credentials.tls_key, credentials.tls_cert)],
                                        root_certificates=credentials.ca_cert, require_client_auth=True)
    port = server.add_secure_port(address, creds)
    if not port:
        raise errors.ConfigurationError(f"cannot listen on {checks.shown(address)}")
    server.start()
    return server, port


def _caller(context: grpc.ServicerContext, trust: TrustStore, method: Method, chain_id: str) -> Caller:
    pems = context.auth_context().get("x509_pem_cert")
    if not pems:
        raise errors.UnknownCertificate("the caller presented no certificate")
    try:
        cert = x509.load_pem_x509_certificate(pems[0])
    except ValueError as exc:
        raise errors.UnknownCertificate(f"the caller's certificate is unreadable: {exc}") from None
    name, role, holder_chain = trust.check_transport(
        cert, roles=method.roles, chain_id=chain_id if method.same_chain else None)
    remaining = context.time_remaining()
    return Caller(name, role, holder_chain, None if remaining is None else time.monotonic() + remaining)


def _encode_error(exc: LedgerError) -> str:
    return f"{type(exc).__name__}{_ERROR_SEPARATOR}{exc}"[:4000]


def remote_error(name: str, message: str) -> LedgerError:
    """The LedgerError a server named, as its class (LedgerError for an unknown name)."""
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, LedgerError)) or cls is errors.CommitPending:
        return LedgerError(f"{name}: {message}" if name else message or "the server refused the call")
    if issubclass(cls, errors.ChainIntegrityError):  # its fields do not cross the wire: the message says where
        return cls(message, chain_id=None, height=None, expected=None, found=None)
    return cls(message)


def _decode_error(details: str | None) -> LedgerError:
    name, _, message = (details or "").partition(_ERROR_SEPARATOR)
    return remote_error(name, message)


_AIO_LOOP: asyncio.AbstractEventLoop | None = None
_AIO_LOCK = threading.Lock()


def aio_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop for grpc.aio calls (Channel.aio_stream): one daemon thread,
    started on first use, shared by every connection of the process (one thread serves all
    their streams: no thread per stream to wake per message)."""
    global _AIO_LOOP
    with _AIO_LOCK:
        if _AIO_LOOP is None:
            _AIO_LOOP = asyncio.new_event_loop()
            threading.Thread(target=_AIO_LOOP.run_forever, name="grpc-aio", daemon=True).start()
        return _AIO_LOOP


class Channel:
    """A mutual-TLS connection to one server that must present the certificate named
    `server_name`; `call` raises the server's LedgerError or ServiceUnavailable."""

    def __init__(self, address: str, server_name: str, credentials: Credentials) -> None:
        self.address = checks.text(address, "address")
        self.server_name = checks.text(server_name, "server_name")
        self._credentials = credentials.channel_credentials()
        self._options = _OPTIONS + [
            ("grpc.ssl_target_name_override", server_name),
            # a restarted peer is reachable again at once, not after gRPC's reconnect backoff
            ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]
        self._channel = grpc.secure_channel(address, self._credentials, options=self._options)
        self._aio: grpc.aio.Channel | None = None  # (made on aio_loop's thread, on first aio_stream)
        self._stubs: dict[str, Callable] = {}
        self._lock = threading.Lock()

    def _stub(self, method: str) -> Callable:
        with self._lock:
            stub = self._stubs.get(method)
            if stub is None:
                stub = self._stubs[method] = self._channel.unary_unary(f"/{SERVICE}/{method}")
        return stub

    def failure(self, exc: grpc.RpcError) -> LedgerError:
        """The LedgerError a failed call means: the server's own, or ServiceUnavailable."""
        code = exc.code()
        if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED):
            return _decode_error(exc.details())
        return ServiceUnavailable(f"{self.server_name} at {self.address}: {code.name.lower()}: "
                                  f"{(exc.details() or '')[:300]}")

    def call(self, method: str, request: bytes, timeout: float = 30.0) -> bytes:
        try:
            return self._stub(method)(bytes(request), timeout=timeout)
        except grpc.RpcError as exc:
            raise self.failure(exc) from None

    def call_future(self, method: str, request: bytes, timeout: float = 30.0) -> futures.Future:
        """call() started without holding a thread: the Future of its answer (call's errors as
        its exception); cancelling it cancels the call."""
        call = self._stub(method).future(bytes(request), timeout=timeout)
        answer: futures.Future = futures.Future()
        answer.add_done_callback(lambda f: f.cancelled() and call.cancel())

        def done(call) -> None:
            if answer.done():
                return
            try:
                answer.set_result(call.result())
            except grpc.RpcError as exc:
                answer.set_exception(self.failure(exc))
            except grpc.FutureCancelledError:
                answer.cancel()
            except futures.InvalidStateError:
                pass  # cancelled meanwhile
        call.add_done_callback(done)
        return answer

    def stream(self, method: str, requests) -> "Stream":
        """Open streaming `method`, sending the bytes `requests` yields; iterate the answer for
        the server's messages (a failure ends it with the server's LedgerError or ServiceUnavailable)."""
        return Stream(self, self._channel.stream_stream(f"/{SERVICE}/{method}")(requests))

    def aio_stream(self, method: str) -> grpc.aio.StreamStreamCall:
        """Open streaming `method` on this server over grpc.aio (the same TLS credentials,
        server name and message limits as `call`): call it on aio_loop()'s thread, write()
        and read() the call there; a failure is a grpc.RpcError for `failure`."""
        if self._aio is None:
            self._aio = grpc.aio.secure_channel(self.address, self._credentials, options=self._options)
        return self._aio.stream_stream(f"/{SERVICE}/{method}")()

    def close(self) -> None:
        self._channel.close()
        if self._aio is not None:
            asyncio.run_coroutine_threadsafe(self._aio.close(), aio_loop())


class Stream:
    """The answers of a streaming call (Channel.stream); `cancel()` ends it."""

    def __init__(self, channel: Channel, call) -> None:
        self._channel, self._call = channel, call

    def __iter__(self):
        try:
            yield from self._call
        except grpc.RpcError as exc:
            raise self._channel.failure(exc) from None

    def cancel(self) -> None:
        self._call.cancel()
