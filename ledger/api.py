"""The client interface every deployment implements: `Ledger`.

The embedded deployment (ledger.Network, one process) and a remote one (a client of peers
running as services) offer the same operations, so ledger.provenance, the CLI and
bench/table1.py run unchanged against either. The interface is structural (typing.Protocol):
an implementation need not inherit from it, and `isinstance(x, Ledger)` checks that the
members exist (not their signatures; tests/test_ledger_api.py checks those for Network).

What a client may rely on, whichever implementation answers:
- submit*/record sign with the client's own identity; a PendingTx-like handle's result() is
  a Receipt once the chain's quorum of peers stored the block (CommitPending when fewer did,
  the LedgerError that rejected it otherwise).
- verify/verify_many run Protocol 1 as a verifier attached to `from_chain`: a Verdict is ok
  only for what was checked against that chain's own view of acc_M (ledger.protocol1).
- get_object checks the bytes against their digest (ObjectIntegrityError otherwise).
- every error derives from ledger.errors.LedgerError.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Protocol, runtime_checkable

if TYPE_CHECKING:
    import edgeacc
    from ledger.block import Block
    from ledger.chain import Committed, Receipt
    from ledger.identity import Identity, TrustStore
    from ledger.network import InterlockReport
    from ledger.objects import ObjectRef
    from ledger.protocol1 import Verdict
    from ledger.tx import Transaction


@runtime_checkable
class Pending(Protocol):
    """A submitted transaction (ledger.PendingTx in the embedded deployment)."""

    transaction: "Transaction"
    tx_id: bytes
    chain_id: str

    def result(self, timeout: float | None = 60.0) -> "Receipt":
        """The Receipt once the quorum stored the block; raises CommitPending, the rejecting
        LedgerError, or LedgerError after `timeout` seconds."""

    def done(self) -> bool:
        """True once the transaction is committed or rejected."""

    def add_done_callback(self, fn: Callable[["Pending"], None]) -> None:
        """Call fn(pending) when the transaction is committed or rejected."""


@runtime_checkable
class Ledger(Protocol):
    """The operations of a two-layer ledger deployment, as a client sees them."""

    main_chain_id: str
    params: "edgeacc.Params"
    trust: "TrustStore"  # the deployment's public trust material: CA certificate, CRL, members

    @property
    def subchain_ids(self) -> list[str]:
        """Ids of the edge sub-chains."""

    @property
    def chain_ids(self) -> list[str]:
        """Ids of every chain, the main chain first."""

    def identity(self, name: str, role: str | None = None, chain_id: str | None = None) -> "Identity":
        """The identity `name` with its private key (issued for a client or device `role` where
        the deployment lets this client issue; ConfigurationError otherwise)."""

    # --- submitting ---------------------------------------------------------------------

    def record(self, chain_id: str, payload: bytes = b"", *, obj: "ObjectRef | None" = None,
               signer: "Identity | str" = ...) -> "Transaction":
        """A signed Type-I transaction for `chain_id` (not yet submitted)."""

    def submit(self, chain_id: str, payload: bytes = b"", *, obj: "ObjectRef | None" = None,
               signer: "Identity | str" = ...) -> Pending:
        """Sign and submit a Type-I record."""

    def submit_transaction(self, tx: "Transaction") -> Pending:
        """Submit an already signed transaction to its chain."""

    def submit_transactions(self, txs: list["Transaction"]) -> list[Pending]:
        """Submit signed transactions; those for one chain share blocks."""

    def interlock(self, timeout: float = 60.0) -> "InterlockReport":
        """One interlocking round now (Type-II to the main chain, Type-III to every sub-chain)."""

    # --- objects ----------------------------------------------------------------------------

    def put_object(self, data: bytes) -> "ObjectRef":
        """Store bulk bytes in the content-addressed object store."""

    def get_object(self, ref: "ObjectRef | bytes") -> bytes:
        """Fetch bytes by reference or digest, checked against the digest."""

    # --- reading ----------------------------------------------------------------------------

    def locate(self, tx_id: bytes | str) -> "Receipt":
        """Where a committed transaction is (NotFound if no chain holds it)."""

    def transaction(self, tx_id: bytes | str) -> "Transaction":
        """The committed transaction `tx_id`."""

    def transactions(self, tx_ids: Iterable[bytes | str]) -> dict[bytes, "Committed"]:
        """transaction() and locate() of many ids at once, with the time of the block holding
        each (ledger.chain.Committed), keyed by the id's bytes in the order
        given; an id no chain holds (or a malformed one) is left out. Each id is located once
        and each block holding one is read and checked once per call, with the checks of the
        single reads (a block the deployment cannot prove is refused, as transaction() refuses
        it)."""

    def block(self, chain_id: str, height: int) -> "Block":
        """Block `height` of `chain_id`."""

    def height(self, chain_id: str) -> int:
        """Number of committed blocks of `chain_id`."""

    def status(self) -> dict:
        """Per chain: height, latest digest, accumulator prefix, last interlocked heights."""

    # --- Protocol 1 -------------------------------------------------------------------------

    def verify(self, tx_id: bytes | str, from_chain: str) -> "Verdict":
        """Protocol 1 for `tx_id`, run by a verifier on `from_chain` (never raises for a bad
        or unknown id: a rejecting Verdict)."""

    def verify_many(self, tx_ids: Iterable[bytes | str], from_chain: str) -> dict[bytes, "Verdict"]:
        """verify() for many transactions with shared proofs; keyed by the id's bytes."""

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Release the deployment's resources (threads, stores, connections)."""

    def __enter__(self) -> "Ledger":
        ...

    def __exit__(self, *exc) -> None:
        ...
