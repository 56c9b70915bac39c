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
from ledger.errors import ConfigurationError, NotFound
from ledger.objects import ObjectRef, ObjectStore

if TYPE_CHECKING:
    from ledger.cluster.node import Node

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
    peer's chain from its own memory; another chain's blocks from that chain's peers through
    the node's ChainReader (ledger.cluster.reads: the chain's block at that height, endorsed
    and ordered, from the first peer that proves it: a dishonest peer cannot feed a validator a
    record, or an endorsed twin, its chain did not commit); objects from the deployment's
    store, checked against their digests."""

    def __init__(self, node: "Node") -> None:
        self._node = node
        self.main_chain_id = node.deployment.main_chain_id
        self.chain_ids = list(node.deployment.chains)
        self.trust = node.trust
        self.objects = ObjectStore(node.deployment_info["objects"])

    def get_object(self, ref: ObjectRef | bytes) -> bytes:
        return self.objects.get(ref)

    def peer(self, chain_id: str):
        """This node's peer (the only chain a validator on it reads in full)."""
        if chain_id != self._node.chain_id:
            raise NotFound(f"{self._node.name} holds {self._node.chain_id}, not {checks.shown(chain_id)}")
        return self._node.peer

    def block(self, chain_id: str, height: int) -> Block:
        if chain_id == self._node.chain_id:
            return self._node.peer.block(height)
        return self._node.reader(chain_id).block(height)

    def locate(self, tx_id: bytes | str) -> Receipt:
        """Where a committed transaction is: this chain, else the chain whose peers prove it
        (reads.locate: the ordered block holds it where the receipt says)."""
        from ledger.cluster import reads

        tx_id = checks.identifier(tx_id, "tx_id", "transaction id")
        if self._node.peer.locate(tx_id) is not None:
            return self._node.peer.receipt(tx_id)
        return reads.locate([self._node.reader(c) for c in self._node.deployment.chains if c != self._node.chain_id],
                            tx_id)

    def transaction(self, tx_id: bytes | str):
        receipt = self.locate(tx_id)
        return self.block(receipt.chain_id, receipt.height).transactions[receipt.position]
