"""Typical use of the public API of edgeacc and ledger, checked by mypy (never run).

`mypy` (configured in pyproject.toml) checks this file and the two packages' __init__; a
type error here means an annotation of the public API is wrong or missing.
tests/test_packaging.py::test_mypy_catches_wrong_argument_types checks the converse.
"""
import edgeacc
import ledger


def engine() -> bool:
    P = edgeacc.Params.rsa2048()
    acc = edgeacc.Accumulator(P, P.generator(b"chain-1"))
    x, k = edgeacc.hash_to_prime(b"record")
    acc.add(x)
    acc.add_many([edgeacc.hash_to_prime(b"r%d" % i)[0] for i in range(3)])
    w: int = acc.witness(0)
    ws: list[int] = acc.witnesses([0, 1])
    bad: list[int] = edgeacc.batch_verify(P, [(w, x, acc.value)])
    proof = edgeacc.MembershipProof(x, k, w)
    blob: bytes = edgeacc.encode_element(P, w)
    return (acc.verify(x, w) and edgeacc.check_representative(b"record", x, k) and not bad
            and proof.verify(P, b"record", acc.value) and len(ws) == 2 and len(blob) > 0
            and edgeacc.verify_membership(P, w, x, acc.value))


def chain(path: str) -> str:
    with ledger.Network.init(path, subchains=2) as net:
        dev = net.identity("sensor-7", role="device", chain_id="edge-0")
        ref = net.put_object(b"reading")
        r = net.submit("edge-0", b"meta", obj=ref, signer=dev).result()
        net.interlock()
        v = net.verifier("edge-1").verify(r.tx_id)
        return v.reason if not v.ok else r.tx_id.hex()


def provenance(path: str) -> str:
    from ledger.provenance import (Auditor, CloudRecorder, Device, EdgeRecorder, NetworkLedger,
                                   NumpyMLPTrainer, fedavg, load_digits_split)

    with ledger.Network.init(path, subchains=1) as net:
        chain, trainer = NetworkLedger(net), NumpyMLPTrainer()
        cloud = CloudRecorder(chain, "main", submitter="main.peer0")
        edge = EdgeRecorder(chain, "edge-0", "edge-0.peer0", trainer, net.trust)
        sensor = Device(net.identity("sensor-1", role="device", chain_id="edge-0"))
        pixels, labels, _, _ = load_digits_split()
        readings = [edge.record_reading(sensor.read(p, y)) for p, y in zip(pixels[:64], labels[:64])]
        order = [readings[i:i + 16] for i in range(0, 64, 16)]
        initial, _ = cloud.record_initial(trainer)
        edge.start_run(order, initial, data_order_seed=0)
        for i, batch_readings in enumerate(order, start=1):
            batch = edge.record_batch(batch_readings)
            edge.record_step(trainer.step(edge.model, edge.global_model, batch, i))
        cloud.record_aggregation([edge.steps[-1]], [64], fedavg([edge.model], [64]))
        report = Auditor(chain, net.trust, verifier_chain="main").audit(edge.manifest(), fraction=0.5)
        return report.summary()
