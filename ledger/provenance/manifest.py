"""A final model's provenance as an in-toto statement, verifiable offline.

`export_statement` builds an in-toto Statement v1 in the layout of the OpenSSF model-signing
predicate (subjects: each model file's SHA-256; `serialization` and `resources` as
model-signing writes them, so the statement can be signed as a DSSE envelope) whose predicate
also holds the provenance under the key "edgeacc": every record the model derives from (the
pipeline rounds from round 0 to the final one, each round's inputs, their runs and all their
segments), each with its chain id, block height, the accumulator values it is proven under and
its Protocol 1 proofs (the sub-chain's Type-II under the main chain's accumulator, the
transaction under the sub-chain's accumulator), all against one main-chain status.

`verify_model` checks a statement with no access to the ledger's stores: only the model files,
a main-chain status (signed header) and the deployment's modulus the verifier trusts. It checks
every proof (Protocol 1, check_cross_chain), reads every record from its proved transaction
(never from the statement's copy), checks the heights and accumulator values the statement
states, the links from the model file to the final round, round by round to round 0, each
round's inputs to the last segments of runs trained from the previous round, each run's
complete list of segments, and returns what it proved. It does not re-execute training (the
endorsing peers and the auditors do): it proves the model is the recorded outcome of these
recorded, endorsed records. ManifestError otherwise.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping, Sequence

import edgeacc
from edgeacc.errors import EdgeaccError

from ledger import InclusionProof, Network, SignedHeader, check_cross_chain, verify_inclusion
from ledger.errors import LedgerError
from ledger.provenance.errors import ProvenanceError
from ledger.provenance.records import Ref, RunManifest, decode_body, segment_count

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
MAX_RECORDS = 1 << 16


class ManifestError(ProvenanceError):
    """A model provenance statement that does not verify, or is malformed."""


def _hex(value: int | bytes) -> str:
    return value.hex() if isinstance(value, bytes) else format(value, "x")


def _proof_entry(network: Network, tx_id: bytes, main_status: SignedHeader) -> dict:
    """Protocol 1 proofs of one transaction against `main_status` (from the chains' leaders)."""
    main_id, main_height = network.main_chain_id, main_status.header.height
    chain_id = network.locate(tx_id).chain_id
    main_peer, holder = network.service(main_id).leader, network.service(chain_id).leader
    where = holder.locate(tx_id)
    if where is None:
        raise ManifestError(f"{chain_id} holds no transaction {tx_id.hex()[:12]}")
    params = network.params
    entry = {"tx": tx_id.hex(), "chain": chain_id, "height": where[0],
             "acc_main": _hex(edgeacc.decode_element(params, main_status.header.acc_value))}
    if chain_id == main_id:
        if where[0] > main_height:
            raise ManifestError("a main-chain record is after the status: export after an interlocking round")
        entry.update(status_proof=None, tx_proof=holder.inclusion_proof(tx_id, main_height).to_bytes(params).hex(),
                     anchored_height=main_height, acc_anchored=entry["acc_main"])
        return entry
    anchor = main_peer.statuses(chain_id).last_held_by(main_height)
    if anchor is None or anchor.source_height < where[0]:
        raise ManifestError(f"block {where[0]} of {chain_id} is not anchored in the main chain: interlock first")
    status_tx = main_peer.inclusion_proof(anchor.tx_id, main_height)
    entry.update(status_proof=status_tx.to_bytes(params).hex(),
                 tx_proof=holder.inclusion_proof(tx_id, anchor.source_height).to_bytes(params).hex(),
                 anchored_height=anchor.source_height,
                 acc_anchored=_hex(holder.accumulator_value(anchor.source_height)))
    return entry


def export_statement(network: Network, rounds: Sequence[Ref], runs: Sequence[RunManifest],
                     model_name: str = "model.safetensors") -> tuple[dict, bytes, bytes]:
    """(statement, model bytes, main-chain status bytes) for the model of the last of `rounds`
    (a federation's pipeline rounds from round 0), whose inputs are segments of `runs`. Runs an
    interlocking round first so every record is anchored under the status."""
    if not rounds:
        raise ManifestError("no rounds to export")
    network.interlock()
    main_status = network.service(network.main_chain_id).leader.latest()
    tx_ids = [ref.tx_id for ref in rounds] + [tx for run in runs for tx in (run.run_tx, *run.step_txs)]
    model = network.get_object(rounds[-1].digest)
    digest = hashlib.sha256(model).hexdigest()
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": digest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False, "ignore_paths": []},
            "resources": [{"name": model_name, "algorithm": "sha256", "digest": digest}],
            "edgeacc": {"main_chain": network.main_chain_id, "main_height": main_status.header.height,
                        "final_round": rounds[-1].tx_id.hex(),
                        "records": [_proof_entry(network, tx, main_status) for tx in dict.fromkeys(tx_ids)]},
        },
    }
    return statement, model, main_status.to_bytes()


@dataclass(frozen=True)
class ModelProvenance:
    """What verify_model proved."""

    model_digest: str
    rounds: int              # FedAvg rounds after round 0
    runs: int                # local runs the rounds average
    records: int             # records proved by Protocol 1
    main_height: int


def _field(mapping: object, key: str, kind: type | tuple, where: str):
    if not isinstance(mapping, dict) or key not in mapping or not isinstance(mapping[key], kind):
        raise ManifestError(f"{where}.{key} is missing or not a {getattr(kind, '__name__', kind)}")
    return mapping[key]


def _proof(params: edgeacc.Params, value: object, where: str) -> InclusionProof:
    try:
        return InclusionProof.from_bytes(params, bytes.fromhex(value))  # type: ignore[arg-type]
    except (ValueError, TypeError, LedgerError, EdgeaccError) as exc:
        raise ManifestError(f"{where} is not an inclusion proof: {str(exc)[:80]}") from None


def _prove(params: edgeacc.Params, entry: object, main_chain: str, main_status: SignedHeader,
           position: int) -> tuple[str, tuple[str, dict, str]]:
    """(tx id hex, (chain, body, object digest hex)) of one statement record, read from its
    proved transaction."""
    where = f"record {position}"
    tx_hex, chain = _field(entry, "tx", str, where), _field(entry, "chain", str, where)
    status_value = entry.get("status_proof") if isinstance(entry, dict) else None
    status_proof = None if status_value is None else _proof(params, status_value, f"{where}.status_proof")
    tx_proof = _proof(params, _field(entry, "tx_proof", str, where), f"{where}.tx_proof")
    try:
        tx_id = bytes.fromhex(tx_hex)
        verdict = check_cross_chain(params, tx_id=tx_id, chain_id=chain, main_chain_id=main_chain,
                                    main_status=main_status, status_proof=status_proof, tx_proof=tx_proof)
    except (ValueError, LedgerError, EdgeaccError) as exc:
        raise ManifestError(f"{where}: {str(exc)[:120]}") from None
    if not verdict.ok or verdict.transaction is None:
        raise ManifestError(f"{where} ({tx_hex[:12]}) fails Protocol 1: {verdict.code}: {verdict.reason[:120]}")
    proved = {"height": verdict.height, "anchored_height": verdict.anchored_height,
              "acc_main": _hex(edgeacc.decode_element(params, main_status.header.acc_value))}
    for key, value in proved.items():
        stated = entry.get(key)  # type: ignore[union-attr]
        if type(stated) is not type(value) or stated != value:  # true is not the height 1
            raise ManifestError(f"{where} states {key} {str(stated)[:20]}; its proofs give {str(value)[:20]}")
    # the stated sub-chain accumulator is the one the transaction is proved under (the Type-II's)
    try:
        verify_inclusion(params, tx_proof, chain, int(_field(entry, "acc_anchored", str, where), 16),
                         verdict.anchored_height)  # type: ignore[arg-type]
    except (ValueError, LedgerError, EdgeaccError) as exc:
        raise ManifestError(f"{where} states an accumulator its transaction is not proved under: {str(exc)[:80]}") from None
    tx = verdict.transaction
    try:
        body = decode_body(tx.payload)
    except ProvenanceError as exc:
        raise ManifestError(f"{where} is not a provenance record: {exc}") from None
    return tx.tx_id.hex(), (chain, body, tx.object_digest.hex())


def verify_model(statement: object, model_files: Mapping[str, bytes], main_status: SignedHeader | bytes,
                 params: edgeacc.Params) -> ModelProvenance:
    """Check a statement export_statement made against model files and a trusted main-chain
    status (see the module docstring); ManifestError for anything that does not verify."""
    try:
        status = main_status if isinstance(main_status, SignedHeader) else SignedHeader.from_bytes(main_status)
    except (LedgerError, EdgeaccError, TypeError) as exc:
        raise ManifestError(f"the main-chain status does not decode: {str(exc)[:80]}") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE \
            or statement.get("predicateType") != PREDICATE_TYPE:
        raise ManifestError(f"not an in-toto statement of predicate type {PREDICATE_TYPE}")
    subjects = _field(statement, "subject", list, "statement")
    predicate = _field(statement, "predicate", dict, "statement")
    provenance = _field(predicate, "edgeacc", dict, "predicate")
    if len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise ManifestError("the statement has one subject: the model file")
    name = _field(subjects[0], "name", str, "subject")
    digest = _field(_field(subjects[0], "digest", dict, "subject"), "sha256", str, "subject.digest")
    if set(model_files) != {name}:
        raise ManifestError(f"give exactly the subject's file {name[:60]!r}")
    if hashlib.sha256(model_files[name]).hexdigest() != digest:
        raise ManifestError(f"{name[:60]} does not have the subject's SHA-256")
    resources = predicate.get("resources")
    if resources != [{"name": name, "algorithm": "sha256", "digest": digest}]:
        raise ManifestError("the predicate's resources are not the subject's file and digest")
    main_chain = _field(provenance, "main_chain", str, "edgeacc")
    if status.header.chain_id != main_chain or provenance.get("main_height") != status.header.height:
        raise ManifestError("the statement is not against this main-chain status")
    entries = _field(provenance, "records", list, "edgeacc")
    if len(entries) > MAX_RECORDS:
        raise ManifestError(f"a statement holds at most {MAX_RECORDS} records")
    records: dict[str, tuple[str, dict, str]] = {}
    for position, entry in enumerate(entries):
        tx_hex, proved = _prove(params, entry, main_chain, status, position)
        if tx_hex in records:  # counted once: the result states how many records were proved
            raise ManifestError(f"record {position} ({tx_hex[:12]}) is listed twice")
        records[tx_hex] = proved
    return _check_links(records, _field(provenance, "final_round", str, "edgeacc"), main_chain, digest,
                        status.header.height)


def _check_links(records: dict, final: str, main_chain: str, model_digest: str, main_height: int) -> ModelProvenance:
    """From the model file to round 0: every link between the proved records."""
    def record(tx: str, kind: str, chain: str | None = None) -> tuple[dict, str]:
        if tx not in records:
            raise ManifestError(f"the statement lacks the {kind} record {tx[:12]}")
        found_chain, body, obj = records[tx]
        if body["kind"] != kind or (chain is not None and found_chain != chain):
            raise ManifestError(f"{tx[:12]} is a {body['kind']} record of {found_chain}, not a {kind}")
        return body, obj

    body, obj = record(final, "pipeline-round", main_chain)
    if obj != model_digest:
        raise ManifestError("the model file is not the final round's recorded model")
    indexes_of: dict[tuple[str, str], list[int]] = {}  # (chain, run) -> its segments' indexes, built once
    for c, b, _ in records.values():
        if b["kind"] == "segment":
            indexes_of.setdefault((c, b["run"]), []).append(b["index"])
    rounds, runs = 0, set()
    while body["round"] > 0:
        for entry in body["locals"]:
            segment, state = record(entry["tx"], "segment")
            chain = records[entry["tx"]][0]
            run, _ = record(segment["run"], "pipeline", chain)
            if run["global"] != body["previous"]:
                raise ManifestError(f"round {body['round']}: input {entry['tx'][:12]} did not train from the previous round")
            count = segment_count(run["iterations"], run["contract"]["interval"])
            if segment["index"] != count:
                raise ManifestError(f"round {body['round']}: input {entry['tx'][:12]} is not its run's last segment")
            indexes = sorted(indexes_of.get((chain, segment["run"]), ()))  # the run's own chain's segments only
            if indexes != list(range(1, count + 1)):
                raise ManifestError(f"run {segment['run'][:12]}: the statement lacks some of its {count} segments")
            runs.add(segment["run"])
        previous, _ = record(body["previous"], "pipeline-round", main_chain)
        if previous["round"] != body["round"] - 1:
            raise ManifestError(f"round {body['round']} names round {previous['round']} as the previous one")
        body, rounds = previous, rounds + 1
    return ModelProvenance(model_digest, rounds, len(runs), len(records), main_height)
