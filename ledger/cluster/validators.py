"""Application validators on the nodes: each chain's entry in deployment.json names the ones
its peers run before they endorse a Type-I record ("validators": ["provenance"]), from the
FIXED registry below. A configuration selects a validator by name, never by module or
qualified name: whoever writes deployment.json must not make every node import code of its
choosing.

    provenance   ledger.provenance's ProvenanceEndorser, with the per-chain policy the
                 deployment was set up with (provenance-policy.json beside deployment.json)

A validator reads the deployment through a DeploymentView: the embedded Network's read
operations over this peer's own chain and the other chains' peers.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ledger import checks
from ledger.block import Block
from ledger.chain import Receipt
from ledger.errors import ConfigurationError, NotFound, ServiceUnavailable, UnprovenAnswer
from ledger.objects import ObjectRef, ObjectStore

if TYPE_CHECKING:
    from ledger.cluster.node import Node

MAX_CACHED_BLOCKS = 256


def _provenance(view: "DeploymentView", directory: Path):
    from ledger.provenance.network_ledger import node_endorser  # the provenance stack is an extra

    return node_endorser(view, directory)


# name -> factory(view, deployment directory) -> validator(peer_name, tx)
VALIDATORS: dict[str, Callable] = {"provenance": _provenance}


def install(node: "Node", directory: Path) -> list[str]:
    """Register on `node`'s chain the validators its deployment.json entry names; returns the
    names. ConfigurationError for a name the registry lacks."""
    entry = next(c for c in node.deployment_info["chains"] if c["id"] == node.chain_id)
    names = entry.get("validators", [])
    if not isinstance(names, list):
        raise ConfigurationError(f"the validators of {node.chain_id} must be a list of names")
    view = None
    for name in names:
        factory = VALIDATORS.get(name) if isinstance(name, str) else None
        if factory is None:
            raise ConfigurationError(f"{node.chain_id} names the validator {checks.shown(name)}; the package "
                                     f"has {sorted(VALIDATORS)}")
        view = view or DeploymentView(node)
        node.deployment.add_validator(node.chain_id, factory(view, directory))
    return names


class DeploymentView:
    """The embedded Network's reads, as a validator on a node sees the deployment: this
    peer's chain from its own memory; another chain's block from that chain's peers, taken
    only when its header is that chain's at that height, its endorsements satisfy the chain's
    policy and its transactions are under the header's Merkle root (a single dishonest peer
    cannot feed a validator a record its chain did not commit); objects from the deployment's
    store, checked against their digests."""

    def __init__(self, node: "Node") -> None:
        self._node = node
        self.main_chain_id = node.deployment.main_chain_id
        self.chain_ids = list(node.deployment.chains)
        self.trust = node.trust
        self.objects = ObjectStore(node.deployment_info["objects"])
        self._blocks: dict[tuple[str, int], Block] = {}

    def get_object(self, ref: ObjectRef | bytes) -> bytes:
        return self.objects.get(ref)

    def peer(self, chain_id: str):
        """This node's peer (the only chain a validator on it reads in full)."""
        if chain_id != self._node.chain_id:
            raise NotFound(f"{self._node.name} holds {self._node.chain_id}, not {checks.shown(chain_id)}")
        return self._node.peer

    def _call(self, chain_id: str, method: str, request: bytes) -> bytes:
        """`method` on the peers of `chain_id` in turn; NotFound only when every peer that
        answers lacks it (one may lag behind)."""
        from ledger.cluster.node import peer_addresses

        missing = None
        for name in peer_addresses(self._node.deployment_info, chain_id):
            try:
                return self._node._channel_to(name, chain_id).call(method, request, 10.0)
            except ServiceUnavailable:
                continue
            except NotFound as exc:
                missing = exc
        raise missing or ServiceUnavailable(f"no peer of {chain_id} answers")

    def block(self, chain_id: str, height: int) -> Block:
        if chain_id == self._node.chain_id:
            return self._node.peer.block(height)
        key = (chain_id, height)
        block = self._blocks.get(key)
        if block is None:
            from ledger.cluster.node import admit_certificates

            block = Block.from_bytes(self._call(chain_id, "Block", b"%d" % height))
            header = block.header
            if (header.chain_id, header.height) != key or block.computed_merkle_root() != header.merkle_root:
                raise UnprovenAnswer(f"a peer of {chain_id} answers another block for height {height}")
            admit_certificates(self.trust, [fp for fp, _ in block.signed.endorsements],
                               lambda fp: self._call(chain_id, "Certificate", fp))
            self._node.deployment.check_endorsements(block.signed, at_ms=header.timestamp_ms)
            if len(self._blocks) >= MAX_CACHED_BLOCKS:
                self._blocks.clear()
            self._blocks[key] = block
        return block

    def locate(self, tx_id: bytes | str) -> Receipt:
        """Where a committed transaction is: this chain, else the chain whose peers prove it
        (the block that holds it, checked as block() does)."""
        from ledger.cluster.node import decode_receipt

        tx_id = checks.identifier(tx_id, "tx_id", "transaction id")
        if self._node.peer.locate(tx_id) is not None:
            return self._node.peer.receipt(tx_id)
        for chain_id in self._node.deployment.chains:
            if chain_id == self._node.chain_id:
                continue
            try:
                receipt = decode_receipt(self._call(chain_id, "Locate", tx_id))
            except NotFound:
                continue
            block = self.block(chain_id, receipt.height)
            if (receipt.chain_id != chain_id or receipt.position >= len(block.transactions)
                    or block.transactions[receipt.position].tx_id != tx_id or block.digest != receipt.block_digest):
                raise UnprovenAnswer(f"a peer of {chain_id} answers a receipt its block does not prove")
            return receipt
        raise NotFound(f"no transaction {tx_id.hex()}")

    def transaction(self, tx_id: bytes | str):
        receipt = self.locate(tx_id)
        return self.block(receipt.chain_id, receipt.height).transactions[receipt.position]
