"""What a member accepts when it reads a chain from that chain's peers over the network: a
client (its block, height and Protocol 1 reads), a node's validators (DeploymentView) and a
node's layer check (the other layer's anchors) all read through a ChainReader, one rule:

- a block or header is taken only when it is the chain's at the height asked, its
  endorsements satisfy the chain's policy at its own time, AND it is the ordered log's block
  at that height: the policy's threshold of unrevoked peers of the chain attest they store it
  (follower.confirm_blocks, the receipts' rule; the peer that answered counts only by its own
  attestation: its TLS certificate may be revoked). An endorsed header alone proves only that a
  quorum validated a block: a dishonest cutter can hold an endorsed twin it never appended;
- a receipt (where a transaction is) only when that ordered block holds the transaction there;
- a status record (the anchors of the other layer, ledger.anchors) is taken only when the
  ordered block it names holds its transaction and that transaction reports exactly the
  record's block, and the records come oldest first, each reporting a later block than the
  one before (a peer can withhold records - fewer anchors are checked - not invent, repeat
  or reorder them);
- a peer whose answer fails a check is passed over and the next peer is asked: one dishonest
  peer costs time, not the read. NotFound only when every peer that answered lacks it;
  UnprovenAnswer (or the check's error) when no answer proved itself; ServiceUnavailable when
  no peer answered.
"""
from __future__ import annotations

import concurrent.futures
import itertools
import threading
from typing import Callable

from ledger import checks
from ledger.block import Block, SignedHeader, reported_header
from ledger.chain import Committed, Deployment, Receipt, StatusRecord
from ledger.cluster.follower import confirm_blocks
from ledger.cluster.transport import pack, unpack
from ledger.errors import LedgerError, NotFound, ServiceUnavailable, UnprovenAnswer
from ledger.tx import TxKind

MAX_CACHED = 4096
CALL_TIMEOUT = 10.0
MAX_LOCATES = 1024  # ids one LocateMany call asks (the node's bound: ledger.cluster.node)

# call(peer name, method, request, timeout) -> the peer's answer (transport.Channel.call)
Call = Callable[[str, str, bytes, float], bytes]
# start(peer name, method, request, timeout) -> the Future of the answer (Channel.call_future)
Start = Callable[[str, str, bytes, float], concurrent.futures.Future]


class ChainReader:
    """Reads of chain `chain_id` from its `peers` (names) through `call`, each checked as the
    module docstring says; `start` starts the attestation requests without a thread waiting
    on each."""

    def __init__(self, rules: Deployment, chain_id: str, peers: list[str], call: Call, start: Start) -> None:
        self.rules, self.chain_id = rules, checks.text(chain_id, "chain_id")
        self.peers, self._call, self._start_call = list(peers), call, start
        self._confirmed: set[tuple[int, bytes]] = set()
        self._blocks: dict[int, Block] = {}
        self._proven: set[StatusRecord] = set()
        self._start = itertools.count()
        self._lock = threading.Lock()

    # --- the rule --------------------------------------------------------------------

    def confirmed(self, answering: str, signed: SignedHeader, height: int | None = None) -> SignedHeader:
        """`signed` as peer `answering` served it, if it is this chain's (at `height`), endorsed
        and ordered (the module docstring); UnprovenAnswer / EndorsementError otherwise."""
        from ledger.cluster.node import check_endorsed

        header = signed.header
        if header.chain_id != self.chain_id or (height is not None and header.height != height):
            raise UnprovenAnswer(f"{answering} answers block {header.height} of {checks.shown(header.chain_id)} "
                                 f"for {'a block' if height is None else f'block {height}'} of {self.chain_id}")
        key = (header.height, header.digest)
        if key not in self._confirmed:
            check_endorsed(self.rules, signed, lambda fp: self._call(answering, "Certificate", fp, CALL_TIMEOUT))
            confirm_blocks(self.rules, self.chain_id, [key], answering, self.peers,
                           lambda name, request, timeout: self._start_call(name, "Stored", request, timeout))
            with self._lock:
                if len(self._confirmed) >= MAX_CACHED:
                    self._confirmed.clear()
                self._confirmed.add(key)
        return signed

    def _first_proven(self, method: str, request: bytes, check: Callable[[str, bytes], object]):
        """check(name, answer) of the first peer whose answer passes it (the peers in turn,
        starting at a rotating one)."""
        start = next(self._start)
        order = [self.peers[(start + i) % len(self.peers)] for i in range(len(self.peers))]
        missing = refused = None
        silent = []
        for name in order:
            try:
                return check(name, self._call(name, method, request, CALL_TIMEOUT))
            except ServiceUnavailable as exc:
                silent.append(f"{name}: {exc}")
            except NotFound as exc:
                missing = missing or exc
            except LedgerError as exc:  # a forged or unconfirmed answer: ask the next peer
                refused = refused or exc
        if missing is not None:
            raise missing
        if refused is not None:
            raise refused
        raise ServiceUnavailable(f"no peer of {self.chain_id} answers: {'; '.join(silent)}"[:1000])

    # --- the reads -------------------------------------------------------------------

    def header(self, height: int) -> SignedHeader:
        """The ordered signed header of block `height`."""
        checks.integer(height, "height", lo=0)
        block = self._blocks.get(height)
        if block is not None:
            return block.signed
        return self._first_proven("Header", b"%d" % height,
                                  lambda name, data: self.confirmed(name, SignedHeader.from_bytes(data), height))

    def block(self, height: int) -> Block:
        """The ordered block `height` (its transactions under its header's Merkle root)."""
        checks.integer(height, "height", lo=0)
        block = self._blocks.get(height)
        if block is None:
            def check(name: str, data: bytes) -> Block:
                block = Block.from_bytes(data)
                if block.computed_merkle_root() != block.header.merkle_root:
                    raise UnprovenAnswer(f"{name} answers block {height} of {self.chain_id} with transactions "
                                         "its header does not hold")
                self.confirmed(name, block.signed, height)
                return block
            block = self._first_proven("Block", b"%d" % height, check)
            with self._lock:
                if len(self._blocks) >= 256:
                    self._blocks.clear()
                self._blocks[height] = block
        return block

    def latest(self) -> SignedHeader | None:
        """The most advanced ordered header any peer serves as its latest (None when every
        peer that answers holds an empty chain); ServiceUnavailable when none answers."""
        best, answered, refused = None, False, None
        for name in self.peers:
            try:
                data = self._call(name, "Latest", b"", CALL_TIMEOUT)
                answered = True
                if data:
                    signed = self.confirmed(name, SignedHeader.from_bytes(data))
                    if best is None or signed.header.height > best.header.height:
                        best = signed
            except ServiceUnavailable:
                continue
            except LedgerError as exc:  # forged or unconfirmed: this peer's word does not count
                answered, refused = True, refused or exc
        if not answered:
            raise ServiceUnavailable(f"no peer of {self.chain_id} answers")
        return best

    def locate(self, tx_id: bytes) -> Receipt:
        """Where transaction `tx_id` is on this chain: a peer's receipt, taken only when the
        ordered block it names holds the transaction at its position."""
        tx_id = bytes(tx_id)
        return self._first_proven("Locate", tx_id, lambda name, data: self._proven_receipt(name, tx_id, data))

    def _proven_receipt(self, name: str, tx_id: bytes, data: bytes) -> Receipt:
        """The receipt `name` answered for `tx_id` if the ordered block it names holds the
        transaction at its position; UnprovenAnswer otherwise."""
        from ledger.cluster.node import decode_receipt

        receipt = decode_receipt(data)
        block = self.block(receipt.height)
        if (receipt.tx_id, receipt.chain_id, receipt.block_digest) != (tx_id, self.chain_id, block.digest) or \
                receipt.position >= len(block.transactions) or block.transactions[receipt.position].tx_id != tx_id:
            raise UnprovenAnswer(f"{name} answers a receipt of {tx_id.hex()[:16]} its block does not prove")
        return receipt

    def locate_many(self, tx_ids: list[bytes]) -> dict[bytes, Receipt]:
        """locate() of many ids, MAX_LOCATES per LocateMany call: the receipts this chain's
        peers prove, by id; an id that no answering peer holds is left out. The ids a peer
        answers "not here" for go to the next peer (one peer cannot hide a transaction the
        others hold), and a peer with one receipt its block does not prove has its whole answer
        dropped. ServiceUnavailable (or the refusal) when no peer answered."""
        found: dict[bytes, Receipt] = {}
        for start in range(0, len(tx_ids), MAX_LOCATES):
            found.update(self._locate_chunk([bytes(t) for t in tx_ids[start:start + MAX_LOCATES]]))
        return found

    def _locate_chunk(self, tx_ids: list[bytes]) -> dict[bytes, Receipt]:
        start = next(self._start)
        found: dict[bytes, Receipt] = {}
        remaining, answered, refused, silent = tx_ids, False, None, []
        for name in (self.peers[(start + i) % len(self.peers)] for i in range(len(self.peers))):
            if not remaining:
                break
            try:
                answers = unpack(self._call(name, "LocateMany", pack(*remaining), CALL_TIMEOUT),
                                 what="LocateMany answer")
                if len(answers) != len(remaining):
                    raise UnprovenAnswer(f"{name} answers {len(answers)} of the {len(remaining)} ids asked")
                proven = {t: self._proven_receipt(name, t, bytes(a)) for t, a in zip(remaining, answers) if a}
            except ServiceUnavailable as exc:
                silent.append(f"{name}: {exc}")
                continue
            except LedgerError as exc:  # a forged answer: the next peer is asked
                refused = refused or exc
                continue
            answered = True
            found.update(proven)
            remaining = [t for t in remaining if t not in proven]
        if not answered:
            if refused is not None:
                raise refused
            raise ServiceUnavailable(f"no peer of {self.chain_id} answers: {'; '.join(silent)}"[:1000])
        return found

    def statuses(self, source: str) -> list[StatusRecord]:
        """The status records this chain holds of chain `source` (Type-II on the main chain,
        Type-III on a sub-chain), each proven by the ordered block that holds it."""
        from ledger.cluster.node import decode_status

        def check(name: str, data: bytes) -> list[StatusRecord]:
            records = [decode_status(r) for r in unpack(data, what="status records")]
            for before, record in zip([None, *records], records):
                if record.source_chain != source:
                    raise UnprovenAnswer(f"{name} answers a record of {checks.shown(record.source_chain)} "
                                         f"for the statuses of {checks.shown(source)}")
                # oldest first, each past the one before (the chain rules: StaleStatus): a repeat
                # or a reordering would mislead whoever bisects them (ledger.verifier)
                if before is not None and (record.height < before.height or
                                           record.source_height <= before.source_height):
                    raise UnprovenAnswer(f"{name} answers the statuses of {checks.shown(source)} out of order "
                                         f"or repeated (block {record.source_height} after {before.source_height})")
                self._prove(record)
            return records
        return self._first_proven("Statuses", checks.text(source, "source").encode(), check)

    def _prove(self, record: StatusRecord) -> None:
        if record in self._proven:
            return
        block = self.block(record.height)
        tx = next((t for t in block.transactions if t.tx_id == record.tx_id), None)
        if tx is None or tx.kind == TxKind.RECORD:
            raise UnprovenAnswer(f"block {record.height} of {self.chain_id} holds no status {record.tx_id.hex()[:16]}")
        anchor = reported_header(tx).header
        if (anchor.chain_id, anchor.height, anchor.acc_element, anchor.digest) != (
                record.source_chain, record.source_height, record.source_element, record.source_digest):
            raise UnprovenAnswer(f"the status {record.tx_id.hex()[:16]} of {self.chain_id} reports another block "
                                 "than the record says")
        with self._lock:
            if len(self._proven) >= MAX_CACHED:
                self._proven.clear()
            self._proven.add(record)


def locate(readers, tx_id: bytes) -> Receipt:
    """Where `tx_id` is, on the first chain of `readers` (ChainReaders) whose peers prove it;
    NotFound when every chain's answering peers lack it, ServiceUnavailable when a chain that
    might hold it did not answer (or proved nothing)."""
    unsure = []
    for reader in readers:
        try:
            return reader.locate(tx_id)
        except NotFound:
            continue
        except LedgerError as exc:
            unsure.append(f"{reader.chain_id}: {exc}")
    if unsure:
        raise ServiceUnavailable(f"transaction {bytes(tx_id).hex()} is on no chain that proves it; "
                                 f"unsure: {'; '.join(unsure)}"[:1000])
    raise NotFound(f"no transaction {bytes(tx_id).hex()}")


def transactions(readers, tx_ids: list[bytes]) -> dict[bytes, Committed]:
    """The committed transactions among `tx_ids` with their Receipts and block times, keyed by
    id in the order
    given: the ids located chain by chain (ChainReader.locate_many: a receipt taken only when
    its ordered block holds the id there), then grouped by (chain, height) and each block read
    once (ChainReader.block:
    endorsed and ordered) for the transactions it holds, each checked again to be the id asked
    for at the receipt's position in the block the receipt names. An id no chain holds is left
    out; ServiceUnavailable as locate raises it."""
    readers = {reader.chain_id: reader for reader in readers}
    receipts: dict[bytes, Receipt] = {}
    remaining, unsure = list(tx_ids), []
    for reader in readers.values():  # (LocateMany: the ids still unplaced, chain by chain)
        if not remaining:
            break
        try:
            receipts.update(reader.locate_many(remaining))
        except LedgerError as exc:
            unsure.append(f"{reader.chain_id}: {exc}")
            continue
        remaining = [t for t in remaining if t not in receipts]
    if remaining and unsure:
        raise ServiceUnavailable(f"{len(remaining)} of the transactions asked are on no chain that proves them; "
                                 f"unsure: {'; '.join(unsure)}"[:1000])
    by_block: dict[tuple[str, int], list[Receipt]] = {}
    for receipt in receipts.values():
        by_block.setdefault((receipt.chain_id, receipt.height), []).append(receipt)
    out: dict[bytes, Committed] = {}
    for (chain_id, height), receipts in by_block.items():
        block = readers[chain_id].block(height)
        for receipt in receipts:
            if receipt.block_digest != block.digest or receipt.position >= len(block.transactions) \
                    or block.transactions[receipt.position].tx_id != receipt.tx_id:
                raise UnprovenAnswer(f"block {height} of {chain_id} does not hold {receipt.tx_id.hex()[:16]} "
                                     "where its receipt says")
            out[receipt.tx_id] = Committed(block.transactions[receipt.position], receipt, block.header.timestamp_ms)
    return {tx_id: out[tx_id] for tx_id in tx_ids if tx_id in out}
