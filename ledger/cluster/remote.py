"""A chain's state as a remote verifier reads it: the read methods of a peer (the ones
ledger.verifier.Verifier calls on a chain's leader), answered by the chain's nodes over gRPC.

Everything fetched is data for Protocol 1 to check (proofs by the accumulators). Headers,
blocks and status records - the verifier's own chain's state it trusts, as in the embedded
deployment, and the main chain's Type-II records - come through the client's ChainReader
(ledger.cluster.reads): only the chain's endorsed AND ordered blocks, so one dishonest peer
cannot hand the verifier an endorsed twin (an acc_M or a Type-II its chain never ordered)."""
from __future__ import annotations

import edgeacc

from ledger import checks
from ledger.block import SignedHeader
from ledger.chain import StatusRecord
from ledger.cluster.transport import pack, unpack
from ledger.errors import NotFound
from ledger.protocol1 import InclusionProof
from ledger.tx import Transaction


class RemotePeer:
    """The leader-peer reads of chain `chain_id`, through `client` (a ledger.cluster.client.Client)."""

    def __init__(self, client, chain_id: str) -> None:
        self._client = client
        self.chain_id = checks.text(chain_id, "chain_id")
        self._latest: SignedHeader | None = None
        self._fetched = False
        self._headers: dict[int, SignedHeader] = {}

    def _call(self, method: str, request: bytes) -> bytes:
        return self._client._call_any(self.chain_id, method, request)

    def latest(self) -> SignedHeader | None:
        """The chain's latest ordered header, read once per verifier (one view per check)."""
        if not self._fetched:
            self._latest, self._fetched = self._client.reader(self.chain_id).latest(), True
        return self._latest

    @property
    def height(self) -> int:
        latest = self.latest()
        return latest.header.height + 1 if latest else 0

    def signed_header(self, height: int) -> SignedHeader:
        """The signed header of block `height` (at most the latest this verifier saw)."""
        height = checks.position(height, "block", self.height, self.chain_id)
        if height == self.height - 1:
            return self.latest()
        if height not in self._headers:
            self._headers[height] = self._client.reader(self.chain_id).header(height)
        return self._headers[height]

    def accumulator_value(self, height: int | None = None) -> int:
        """The accumulator after block `height` (the latest when None), as its header carries it."""
        header = self.signed_header(self.height - 1 if height is None else height).header
        return edgeacc.decode_element(self._client.params, header.acc_value)

    def locate(self, tx_id: bytes) -> tuple[int, int] | None:
        from ledger.cluster.node import decode_receipt
        try:
            receipt = decode_receipt(self._call("Locate", tx_id))
        except NotFound:
            return None
        return receipt.height, receipt.position

    def statuses(self, source_chain: str) -> list[StatusRecord]:
        return self._client.reader(self.chain_id).statuses(source_chain)

    def transaction(self, tx_id: bytes) -> Transaction:
        where = self.locate(tx_id)
        if where is None:
            raise NotFound(f"transaction {bytes(tx_id).hex()} is not on {self.chain_id}")
        block = self._client.block(self.chain_id, where[0])
        tx = block.transactions[where[1]]
        if tx.tx_id != tx_id:
            raise NotFound(f"{self.chain_id} answers another transaction for {bytes(tx_id).hex()}")
        return tx

    def inclusion_proofs(self, tx_ids: list[bytes], against_height: int) -> list[InclusionProof]:
        from ledger.cluster.node import MAX_PROOFS
        proofs = []
        for start in range(0, len(tx_ids), MAX_PROOFS):  # the nodes answer at most MAX_PROOFS a call
            chunk = tx_ids[start:start + MAX_PROOFS]
            answer = unpack(self._call("Proofs", pack(b"%d" % against_height, *chunk)), len(chunk), "proofs")
            proofs += [InclusionProof.from_bytes(self._client.params, p) for p in answer]
        return proofs

    def inclusion_proof(self, tx_id: bytes, against_height: int | None = None) -> InclusionProof:
        return self.inclusion_proofs([tx_id], self.height - 1 if against_height is None else against_height)[0]


class RemoteService:
    """What the Verifier takes per chain: something with a `leader`."""

    def __init__(self, leader: RemotePeer) -> None:
        self.leader = leader
