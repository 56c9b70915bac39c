"""The two-layer edge ledger on the edgeacc engine (DESIGN.md section 4; paper sections III-IV).

Uses only the public edgeacc API. The embedded deployment is one process holding a main chain
and N edge sub-chains ("edge-0", "edge-1", ...) with P peers each, stored in a data directory:

    import ledger
    with ledger.Network.init("data", subchains=2, peers_per_chain=2) as net:  # or Network.open("data")
        device = net.identity("sensor-7", role="device")       # CA-issued Ed25519 certificate
        ref = net.put_object(b"...reading or checkpoint bytes...")   # content-addressed, file://
        pending = net.submit("edge-0", b"metadata", obj=ref, signer=device)   # Type-I record
        receipt = pending.result()          # Receipt(tx_id, chain_id, height, position, block_digest)
        net.interlock()                     # Type-II to main, Type-III to every sub-chain (also automatic
                                            # every K blocks or T seconds)
        verdict = net.verifier("edge-1").verify(receipt.tx_id)     # Protocol 1 from chain edge-1
        assert verdict.ok, verdict.reason   # on rejection: verdict.code and verdict.reason say why
        tx = net.transaction(receipt.tx_id) # the Transaction: .payload, .object_digest, .object_url
        pendings = net.submit_transactions([net.record("edge-1", b"r%d" % i) for i in range(100)])
        data = net.get_object(tx.object_digest)   # ObjectIntegrityError if the object was altered

net.add_validator(chain_id, fn) registers an application check that every endorsing peer runs
on each Type-I transaction before signing: fn(peer_name, tx) raises (ideally
ledger.errors.ValidationRejected) to refuse; too few accepting peers fail the submission with
ValidationRejected. Validators are in-process callables, not stored with the network: register
them again after Network.open.

Network implements ledger.api.Ledger, the client interface a remote deployment implements
too. net.verify_many(tx_ids, from_chain) runs Protocol 1 for many transactions at once (the
witness of a block and the Type-II proof of a chain are shared, the distinct membership
statements checked by one edgeacc.batch_verify).

net.submit_transactions queues many signed transactions at once (they share blocks: one Merkle
root, one accumulator exponentiation, one fsync per peer). net.peer(chain).inclusion_proof(tx_id)
(or ledger.InclusionProof.for_transaction for a prover computing witnesses in bulk) and
ledger.check_cross_chain / ledger.verify_inclusion are the proof-level pieces of Protocol 1.

pending.result() is a Receipt once the block is durable on the policy's quorum (the endorsement
threshold of peers). On fewer peers it raises ledger.errors.CommitPending: the transaction is on
the chain, so submit pending.transaction again (idempotent: the same bytes get the existing
receipt) rather than signing a new one. Any other error means the transaction is on no chain.
On open and before every interlocking round each chain is checked against the other layer's
anchors (Type-II and Type-III statuses): a cut-back or rewritten chain raises
ledger.errors.RollbackDetected / ForkDetected and nothing is written (ledger.anchors).

Everything raised on bad input or a fault derives from ledger.errors.LedgerError (a wrong
argument: ledger.errors.ArgumentError, naming it; the checks live in ledger.checks); a rejected
block or transaction leaves every chain unchanged. Payloads and other byte fields take bytes,
bytearray or memoryview (copied when signed), never str or int. Transactions, headers, blocks
and statuses are their canonical encodings: the constructor checks and encodes the fields
once, and the peers admit the decoding of the bytes a submitter hands them.
"""
from ledger import checks, cluster, errors, recent  # cluster: the distributed deployment's operator API
from ledger.api import Ledger, Pending
from ledger.block import Block, BlockContent, BlockHeader, SignedHeader
from ledger.chain import ChainConfig, Deployment, Peer, Receipt
from ledger.errors import LedgerError
from ledger.identity import CertificateAuthority, Identity, Member, TrustStore
from ledger.interlock import InterlockReport
from ledger.network import Network
from ledger.sequencer import PendingTx
from ledger.verifier import Verifier
from ledger.objects import ObjectRef, ObjectStore
from ledger.protocol1 import InclusionProof, Verdict, check_cross_chain, verify_inclusion
from ledger.tx import Transaction, TxKind
from ledger import revocation  # device revocation by accumulator (issue 14)


def connect(config):
    """A client of the distributed deployment (ledger.cluster.client.connect; needs the
    [cluster] extra): the embedded Network's operations over gRPC with mutual TLS."""
    from ledger.cluster.client import connect as _connect

    return _connect(config)


__all__ = [
    "Block", "BlockContent", "BlockHeader", "CertificateAuthority", "ChainConfig", "Deployment", "Identity",
    "InclusionProof", "InterlockReport", "Ledger", "LedgerError", "Member", "Network", "ObjectRef", "ObjectStore",
    "Peer", "Pending", "PendingTx", "Receipt", "SignedHeader", "Transaction", "TrustStore", "TxKind",
    "Verdict", "Verifier", "check_cross_chain", "checks", "cluster", "connect", "errors", "recent", "revocation",
    "verify_inclusion",
]
