"""Messages between parties: a small deterministic binary encoding, the per-party
transcript and traffic counters, and the network interface with its in-process
implementation (queues between threads). The TLS implementation is in
:mod:`edgeacc.dkg.party`.

Every message carries a tag naming its protocol step; a receiver that gets a different tag
than it expects aborts, so parties can never silently fall out of step.
"""
from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Union

from edgeacc.errors import PartyTimeout, PeerDisconnected, ProtocolError, brief

Value = Union[int, bytes, str, list]  # nested lists of these

_INT, _BYTES, _STR, _LIST = b"i", b"b", b"s", b"l"
# The protocol nests lists two or three deep; a deeper message is malformed (and would
# otherwise recurse until Python's stack limit).
MAX_DEPTH = 16


def _length(n: int) -> bytes:
    return n.to_bytes(4, "big")


def encode(value: Value) -> bytes:
    """Deterministic encoding of non-negative ints, bytes, str and (nested) lists; anything
    else raises ProtocolError."""
    out = bytearray()
    _encode_into(value, out, 0)
    return bytes(out)


def _encode_into(value: Value, out: bytearray, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ProtocolError(f"protocol values nest at most {MAX_DEPTH} lists deep")
    if isinstance(value, bool):
        raise ProtocolError("bool is not a protocol value")
    if isinstance(value, int):
        if value < 0:
            raise ProtocolError("protocol integers are non-negative")
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        out += _INT + _length(len(raw)) + raw
    elif isinstance(value, bytes):
        out += _BYTES + _length(len(value)) + value
    elif isinstance(value, str):
        raw = value.encode()
        out += _STR + _length(len(raw)) + raw
    elif isinstance(value, list):
        out += _LIST + _length(len(value))
        for item in value:
            _encode_into(item, out, depth + 1)
    else:
        raise ProtocolError(f"cannot encode {type(value).__name__} as a protocol value")


def describe(value: Value, limit: int = 60) -> str:
    """A peer's value for an error message: ints through errors.brief, lists by length, the
    rest cut to `limit` characters (a peer can send anything; a message never prints it all)."""
    if isinstance(value, int):
        return brief(value)
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return repr(value[:limit] if isinstance(value, (str, bytes)) else value)[:limit]


def decode(data: bytes) -> Value:
    """Inverse of :func:`encode`; raises ProtocolError on malformed or trailing bytes."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"a message must be bytes, got {type(data).__name__}")
    data = bytes(data)
    try:
        value, end = _decode_at(data, 0, 0)
    except (IndexError, ValueError) as exc:
        raise ProtocolError(f"malformed message: {exc}") from None
    if end != len(data):
        raise ProtocolError("malformed message: trailing bytes")
    return value


def _decode_at(data: bytes, pos: int, depth: int) -> tuple[Value, int]:
    if depth > MAX_DEPTH:
        raise ValueError(f"lists nested deeper than {MAX_DEPTH}")
    kind = data[pos : pos + 1]
    if len(data) < pos + 5:
        raise ValueError("truncated")
    size = int.from_bytes(data[pos + 1 : pos + 5], "big")
    pos += 5
    if kind == _LIST:
        if size > len(data) - pos:      # every item takes at least one byte
            raise ValueError("list longer than the message")
        items = []
        for _ in range(size):
            item, pos = _decode_at(data, pos, depth + 1)
            items.append(item)
        return items, pos
    raw = data[pos : pos + size]
    if len(raw) != size:
        raise ValueError("truncated")
    if kind == _INT:
        return int.from_bytes(raw, "big"), pos + size
    if kind == _BYTES:
        return bytes(raw), pos + size
    if kind == _STR:
        return raw.decode(), pos + size
    raise ValueError(f"unknown type byte {kind!r}")


@dataclass
class TranscriptEntry:
    """One message as this party saw it: direction ('sent'/'received'), peer, raw bytes."""

    direction: str
    peer: int
    data: bytes


@dataclass
class Traffic:
    """Messages and bytes this party sent and received."""

    messages_sent: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0
    transcript: list[TranscriptEntry] | None = None  # kept only when recording is on

    def record(self, direction: str, peer: int, data: bytes) -> None:
        if direction == "sent":
            self.messages_sent += 1
            self.bytes_sent += len(data)
        else:
            self.messages_received += 1
            self.bytes_received += len(data)
        if self.transcript is not None:
            self.transcript.append(TranscriptEntry(direction, peer, data))


class Network:
    """Point-to-point channels from one party to the others, by party index (1-based).

    Subclasses implement ``_deliver`` (send raw bytes) and ``_inbox`` (the queue of raw
    frames from a peer; ``None`` in the queue means the peer hung up).
    """

    def __init__(self, index: int, parties: int, timeout: float, record: bool = False):
        self.index = index
        self.parties = parties
        self.timeout = timeout
        self.traffic = Traffic(transcript=[] if record else None)

    @property
    def peers(self) -> list[int]:
        return [j for j in range(1, self.parties + 1) if j != self.index]

    def send(self, peer: int, tag: str, payload: Value) -> None:
        data = encode([tag, payload])
        self.traffic.record("sent", peer, data)
        self._deliver(peer, data)

    def broadcast(self, tag: str, payload: Value) -> None:
        for peer in self.peers:
            self.send(peer, tag, payload)

    def receive(self, peer: int, tag: str) -> Value:
        """The next message from ``peer``, which must carry ``tag``."""
        try:
            data = self._inbox(peer).get(timeout=self.timeout)
        except queue.Empty:
            raise PartyTimeout(
                f"party {self.index}: no '{tag}' message from party {peer} "
                f"within {self.timeout:g} s (party dropped or stalled)"
            ) from None
        if data is None:
            raise PeerDisconnected(f"party {self.index}: party {peer} disconnected before '{tag}'")
        self.traffic.record("received", peer, data)
        message = decode(data)
        if not (isinstance(message, list) and len(message) == 2 and message[0] == tag):
            got = message[0] if isinstance(message, list) and message else message
            raise ProtocolError(f"party {self.index}: expected '{tag}' from party {peer}, "
                                f"got {describe(got)}")
        return message[1]

    def gather(self, tag: str) -> dict[int, Value]:
        """One ``tag`` message from every peer."""
        return {peer: self.receive(peer, tag) for peer in self.peers}

    def close(self) -> None:
        """Release the channels (no-op for in-process queues)."""

    def _deliver(self, peer: int, data: bytes) -> None:
        raise NotImplementedError

    def _inbox(self, peer: int) -> "queue.Queue[bytes | None]":
        raise NotImplementedError


class LocalHub:
    """Queues connecting k in-process parties (one per ordered pair)."""

    def __init__(self, parties: int):
        self.parties = parties
        self.queues = {
            (src, dst): queue.Queue()
            for src in range(1, parties + 1)
            for dst in range(1, parties + 1)
            if src != dst
        }

    def network(self, index: int, timeout: float, record: bool = False) -> "LocalNetwork":
        return LocalNetwork(self, index, timeout, record)


class LocalNetwork(Network):
    """In-process channels: messages still go through the byte encoding, so traffic numbers
    match the TLS mode up to TLS framing."""

    def __init__(self, hub: LocalHub, index: int, timeout: float, record: bool):
        super().__init__(index, hub.parties, timeout, record)
        self.hub = hub

    def _deliver(self, peer: int, data: bytes) -> None:
        self.hub.queues[(self.index, peer)].put(data)

    def _inbox(self, peer: int) -> "queue.Queue[bytes | None]":
        return self.hub.queues[(peer, self.index)]

    def close(self) -> None:
        # Tell peers still waiting on us that we are gone, so they fail fast, not by timeout.
        for peer in self.peers:
            self.hub.queues[(self.index, peer)].put(None)
