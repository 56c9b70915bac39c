"""Cross-chain verification (paper Protocol 1) and the inclusion proofs it checks.

A transaction's inclusion proof is the Merkle path from the transaction to its block's root,
the block header, and the membership witness of the block's accumulator element against the
accumulator value at a later height. A verifier on chain A holding the main chain's value
acc_M (from A's latest Type-III) checks a transaction of chain B in two steps:

1. B's latest Type-II transaction is in the main chain under acc_M;
2. the transaction is in B under the accumulator acc_B that Type-II carries (the paper's
   line 5 writes acc_A; acc_B is meant).

The checks here are pure functions of the proofs: nothing is trusted that is not checked
against acc_M, which the verifier's own validated chain supplies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import edgeacc
from edgeacc.errors import EdgeaccError

from ledger import checks
from ledger.block import Block, BlockContent, BlockHeader, SignedHeader, SubchainStatus, check_element
from ledger.encoding import DIGEST_BYTES, U16_MAX, U32_MAX, U64_MAX, Reader, Writer, check_chain_id
from ledger.errors import AccumulatorMismatch, EncodingError, LedgerError
from ledger.merkle import leaf_hash, merkle_path, root_from_path
from ledger.tx import Transaction, TxKind

PROOF_MAGIC = b"EAIP"
PROOF_VERSION = 1
MAX_PROOF_PART = 1 << 24


class ProofRejected(LedgerError):
    """An inclusion proof does not verify; `code` names the failed check."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@checks.signature_checked
@dataclass(frozen=True)
class InclusionProof:
    """Proof that `tx` is in block `header` of `chain_id`, and that the block is accumulated
    in the chain's value at height `against_height`. A proof is data from a prover: the
    constructor checks only its shape; verify_inclusion checks what it claims."""

    chain_id: str
    tx: bytes
    header: bytes
    position: int
    path: tuple[bytes, ...]
    witness: int
    against_height: int

    def __post_init__(self) -> None:
        checks.instance(self.path, (tuple, list), "path")
        fields = {"chain_id": check_chain_id(self.chain_id),
                  "tx": checks.data(self.tx, "tx"),
                  "header": checks.data(self.header, "header"),
                  "position": checks.integer(self.position, "position", hi=U32_MAX),
                  "path": tuple(checks.data(node, "path node") for node in self.path),
                  "witness": checks.integer(self.witness, "witness"),
                  "against_height": checks.integer(self.against_height, "against_height", hi=U64_MAX)}
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        if len(self.tx) > MAX_PROOF_PART or len(self.header) > MAX_PROOF_PART:
            raise EncodingError(f"an inclusion proof part is at most {MAX_PROOF_PART} bytes")
        if len(self.path) > U16_MAX or any(len(node) != DIGEST_BYTES for node in self.path):
            raise EncodingError(f"a Merkle path is at most {U16_MAX} nodes of {DIGEST_BYTES} bytes")

    @classmethod
    def for_transaction(cls, block: Block, position: int, witness: int, against_height: int) -> "InclusionProof":
        """The proof of the transaction at `position` of `block`, given the block's membership
        witness against the chain's value after block `against_height`."""
        return cls.for_transactions(block, [position], witness, against_height)[0]

    @classmethod
    def for_transactions(cls, block: Block, positions: list[int], witness: int,
                         against_height: int) -> list["InclusionProof"]:
        """for_transaction for several positions of one block (a prover that computes
        witnesses in bulk builds proofs with this: the block is decoded once)."""
        block = checks.decoded(block, Block, "block")
        checks.instance(positions, (list, tuple), "positions")
        size = len(block.transactions)
        return [cls(block.header.chain_id, block.tx_bytes[p], block.header.encoded, p,
                    tuple(merkle_path(block.leaves, p)), witness, against_height)
                for p in (checks.position(p, "position", size, f"block {block.height}") for p in positions)]

    def to_bytes(self, params: edgeacc.Params) -> bytes:
        """The canonical encoding (what a verifier receives over the wire)."""
        checks.instance(params, edgeacc.Params, "params")
        try:
            witness = edgeacc.encode_element(params, self.witness)
        except EdgeaccError as exc:
            raise EncodingError(f"inclusion proof witness: {exc}") from None
        w = (Writer().raw(PROOF_MAGIC).u8(PROOF_VERSION).text16(self.chain_id).bytes32(self.tx)
             .bytes32(self.header).u32(self.position).u16(len(self.path)))
        for node in self.path:
            w.raw(node, DIGEST_BYTES)
        return w.bytes16(witness).u64(self.against_height).getvalue()

    @classmethod
    def from_bytes(cls, params: edgeacc.Params, data: bytes) -> "InclusionProof":
        """Decode a proof; EncodingError on anything malformed."""
        checks.instance(params, edgeacc.Params, "params")
        r = Reader(data, "inclusion proof")
        r.magic(PROOF_MAGIC, PROOF_VERSION)
        chain_id = r.text16()
        tx, header, position = r.bytes32(MAX_PROOF_PART), r.bytes32(MAX_PROOF_PART), r.u32()
        path = tuple(r.raw(DIGEST_BYTES) for _ in range(r.u16()))
        try:
            witness = edgeacc.decode_element(params, r.bytes16())
        except EdgeaccError as exc:
            raise EncodingError(f"inclusion proof witness: {exc}") from None
        against = r.u64()
        r.end()
        proof = cls(chain_id, tx, header, position, path, witness, against)
        r.canonical(proof.to_bytes(params))
        return proof


Statement = tuple  # (w, x, v): the membership w^x = +-v (mod N) a proof rests on


def inclusion_claim(params: edgeacc.Params, proof: InclusionProof, chain_id: str, acc_value: int,
                    acc_height: int) -> tuple[Transaction, BlockContent, Statement]:
    """Every check of verify_inclusion but the accumulator membership, which is returned as
    the statement (witness, element, acc_value) the caller must still verify, alone
    (verify_inclusion) or in a batch with others (ledger.verifier.Verifier.verify_many)."""
    checks.instance(params, edgeacc.Params, "params")
    proof = checks.rebuilt(proof, InclusionProof, "proof")
    chain_id = checks.text(chain_id, "chain_id")
    acc_value = checks.integer(acc_value, "acc_value")
    acc_height = checks.integer(acc_height, "acc_height")
    if proof.chain_id != chain_id:
        raise ProofRejected("wrong-chain", f"proof is for chain {proof.chain_id}, not {chain_id}")
    if proof.against_height != acc_height:
        raise ProofRejected("wrong-height", f"proof is against height {proof.against_height}, "
                                            f"the accumulator is at {acc_height}")
    try:
        tx = Transaction.from_bytes(proof.tx)
        header = BlockHeader.from_bytes(proof.header)
    except EncodingError as exc:
        raise ProofRejected("malformed", f"proof does not decode: {exc}") from None
    if header.chain_id != chain_id or tx.chain_id != chain_id:
        raise ProofRejected("wrong-chain", "block or transaction names another chain")
    if header.height > acc_height:
        raise ProofRejected("not-interlocked", f"block {header.height} is after the accumulated height {acc_height}")
    root = root_from_path(leaf_hash(proof.tx), proof.position, header.tx_count, proof.path)
    if root != header.merkle_root:
        raise ProofRejected("merkle", "the Merkle path does not lead to the block's root")
    try:
        check_element(header)
    except AccumulatorMismatch as exc:
        raise ProofRejected("accumulator", str(exc)) from None
    return tx, header.content, (proof.witness, header.acc_element, acc_value)


def statement_failure(params: edgeacc.Params, statement: Statement) -> str:
    """Why the membership statement fails, "" when it holds (a malformed witness or value
    fails the statement rather than raising)."""
    try:
        if edgeacc.verify_membership(params, *statement):
            return ""
    except EdgeaccError as exc:
        return f"accumulator check failed: {exc}"
    return "the block is not a member of the accumulator"


def verify_inclusion(params: edgeacc.Params, proof: InclusionProof, chain_id: str, acc_value: int,
                     acc_height: int) -> tuple[Transaction, BlockContent]:
    """Check `proof` against chain `chain_id` whose accumulator after block `acc_height` is
    `acc_value`; returns the transaction and the proved content of its block (chain, height,
    link, time, Merkle root, count: what the accumulated element binds; the header's own
    accumulator value and digest are not proved, so they are not returned), or raises
    ProofRejected."""
    tx, content, statement = inclusion_claim(params, proof, chain_id, acc_value, acc_height)
    failure = statement_failure(params, statement)
    if failure:
        raise ProofRejected("accumulator", failure)
    return tx, content


@dataclass(frozen=True)
class Verdict:
    """The answer of Protocol 1: `ok`, and on rejection a `code` and a readable `reason`."""

    ok: bool
    code: str
    reason: str
    tx_id: bytes
    chain_id: str | None = None
    height: int | None = None
    main_height: int | None = None
    anchored_height: int | None = None
    transaction: Transaction | None = None

    def __bool__(self) -> bool:
        return self.ok


def reject(tx_id: bytes, code: str, reason: str, **kw) -> Verdict:
    """A rejecting Verdict."""
    return Verdict(False, code, reason, tx_id, **kw)


def _refused_by(policy: Callable[[SignedHeader], None] | None, signed: SignedHeader) -> str:
    """Why `policy` refuses `signed` ("" when it accepts, or when there is no policy)."""
    if policy is None:
        return ""
    try:
        policy(signed)
    except LedgerError as exc:
        return str(exc)
    return ""


@dataclass(frozen=True)
class Claim:
    """A Protocol 1 verdict that still rests on membership statements: the answer is the
    rejecting verdict beside the first statement (in order) that fails, else `verdict`.
    (A verdict decided without arithmetic comes with no statements.)"""

    verdict: Verdict
    statements: tuple[tuple[Statement, Verdict], ...] = ()

    def settle(self, params: edgeacc.Params, failed: Callable[[Statement], bool] | None = None) -> Verdict:
        """The verdict, each statement checked by `failed` (default: on its own)."""
        for statement, rejection in self.statements:
            if failed(statement) if failed is not None else statement_failure(params, statement):
                return rejection
        return self.verdict


def check_cross_chain(params: edgeacc.Params, *, tx_id: bytes, chain_id: str, main_chain_id: str,
                      main_status: SignedHeader, status_proof: InclusionProof | None,
                      tx_proof: InclusionProof,
                      endorsement_policy: Callable[[SignedHeader], None] | None = None) -> Verdict:
    """Protocol 1 on fetched proofs. `main_status` is the main-chain header carried by the
    verifier's latest Type-III; `status_proof` proves chain_id's Type-II under it (None when
    chain_id is the main chain itself); `tx_proof` proves the transaction. Every field of the
    Verdict is proved (or is the verifier's own `main_status`). `endorsement_policy`, when
    given (Verifier passes Deployment.check_endorsed), must accept both main_status and the
    header the Type-II reports: the same policy check as every commit and reopen."""
    return cross_chain_claim(params, tx_id=tx_id, chain_id=chain_id, main_chain_id=main_chain_id,
                             main_status=main_status, status_proof=status_proof, tx_proof=tx_proof,
                             endorsement_policy=endorsement_policy).settle(params)


def cross_chain_claim(params: edgeacc.Params, *, tx_id: bytes, chain_id: str, main_chain_id: str,
                      main_status: SignedHeader, status_proof: InclusionProof | None,
                      tx_proof: InclusionProof,
                      endorsement_policy: Callable[[SignedHeader], None] | None = None) -> Claim:
    """check_cross_chain without its two membership checks, which the Claim carries (step 1:
    the Type-II under acc_M, step 2: the transaction's block under acc_B) for the caller to
    verify, alone or batched."""
    checks.instance(params, edgeacc.Params, "params")
    tx_id = checks.data(tx_id, "tx_id")
    chain_id, main_chain_id = checks.text(chain_id, "chain_id"), checks.text(main_chain_id, "main_chain_id")
    main_status = checks.decoded(main_status, SignedHeader, "main_status")
    main_header = main_status.header
    if status_proof is not None:
        checks.exact(status_proof, InclusionProof, "status_proof")
    checks.exact(tx_proof, InclusionProof, "tx_proof")
    if endorsement_policy is not None:
        checks.function(endorsement_policy, "endorsement_policy")
    try:
        acc_m = edgeacc.decode_element(params, main_header.acc_value)
    except EdgeaccError as exc:
        return Claim(reject(tx_id, "malformed", f"main-chain status carries no valid accumulator: {exc}"))
    context = {"chain_id": chain_id, "main_height": main_header.height}
    if main_header.chain_id != main_chain_id:
        return Claim(reject(tx_id, "wrong-chain", "the Type-III status is not of the main chain", **context))
    refused = _refused_by(endorsement_policy, main_status)
    if refused:
        return Claim(reject(tx_id, "endorsement", f"the main-chain header behind acc_M: {refused}", **context))
    pending: tuple[tuple[Statement, Verdict], ...] = ()
    try:
        if status_proof is None:
            if chain_id != main_chain_id:
                return Claim(reject(tx_id, "no-status", f"no Type-II proof for chain {chain_id}", **context))
            acc_b, height_b = acc_m, main_header.height
        else:
            status_tx, _, statement = inclusion_claim(params, status_proof, main_chain_id, acc_m, main_header.height)
            pending = ((statement, reject(tx_id, "status-proof", "step 1 (Type-II under acc_M): the Type-II's "
                                          "block is not a member of acc_M", **context)),)
            if status_tx.kind != TxKind.SUBCHAIN_STATUS:
                return Claim(reject(tx_id, "status-proof", "the proved main-chain transaction is not a Type-II",
                                    **context), pending)
            reported = SubchainStatus.from_bytes(status_tx.payload).signed
            anchor = reported.header
            if anchor.chain_id != chain_id:
                return Claim(reject(tx_id, "wrong-chain", f"the Type-II reports chain {anchor.chain_id}, not {chain_id}",
                                    **context), pending)
            refused = _refused_by(endorsement_policy, reported)
            if refused:
                return Claim(reject(tx_id, "endorsement", f"the header the Type-II reports: {refused}", **context),
                             pending)
            acc_b, height_b = edgeacc.decode_element(params, anchor.acc_value), anchor.height
        context["anchored_height"] = height_b
    except ProofRejected as exc:
        return Claim(reject(tx_id, "status-proof", f"step 1 (Type-II under acc_M): {exc}", **context), pending)
    except (EncodingError, EdgeaccError) as exc:
        return Claim(reject(tx_id, "status-proof", f"step 1: the Type-II does not decode: {exc}", **context), pending)
    try:
        tx, block, statement = inclusion_claim(params, tx_proof, chain_id, acc_b, height_b)
    except ProofRejected as exc:
        code = exc.code if exc.code == "not-interlocked" else "tx-proof"
        return Claim(reject(tx_id, code, f"step 2 (transaction under acc_{chain_id}): {exc}", **context), pending)
    pending += ((statement, reject(tx_id, "tx-proof", f"step 2 (transaction under acc_{chain_id}): the block is "
                                   "not a member of the accumulator", **context)),)
    if tx.tx_id != tx_id:
        return Claim(reject(tx_id, "tx-proof", "the proved transaction has another id", **context), pending)
    return Claim(Verdict(True, "ok", "valid: in the main chain's Type-II of "
                         f"{chain_id} at height {height_b}, under acc_M at main height {main_header.height}",
                         tx_id, height=block.height, transaction=tx, **context), pending)
