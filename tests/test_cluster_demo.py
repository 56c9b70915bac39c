"""`edgeacc demo --cluster`, shrunk: the demo's scenario on a local distributed deployment
(every peer its own process, a 3-member etcd): the same audits pass and the same tampering is
caught, and the peers' own validators (deployment.json names "provenance") refuse a step
whose model re-execution does not reproduce. Validators come from the package's fixed
registry only."""
import sys
from types import SimpleNamespace

import pytest

from ledger import errors
from ledger.cluster import validators
from ledger.provenance.demo import EDGES, cluster_site, demo_succeeded, format_report, run_on
from ledger.provenance.network_ledger import EndorsementRefused
from ledger.provenance.trainers import Hyperparameters

from cluster_helpers import need_etcd


def test_demo_on_the_cluster_audits_clean_and_the_nodes_refuse_a_tampered_step(tmp_path, toy):
    need_etcd()
    hp = Hyperparameters(local_steps=2)
    with cluster_site(tmp_path / "c", toy) as site:
        result = run_on(site, rounds=1, hyperparameters=hp, audit_fraction=0.5, progress=False)
        assert demo_succeeded(result), format_report(result, 1, hp, "numpy-mlp")
        assert set(result.status) == {"main", "edge-0", "edge-1", "edge-2"}
        assert all(result.transactions[f"edge-{e}"]["type3"] > 0 for e in range(EDGES))
        edge = "edge-2"  # nothing of edge-2 was tampered with on disk
        last, previous = (site.chain.fetch(tx_id) for tx_id in result.manifests[2].step_txs[-1:-3:-1])
        statuses = site.ledger.status()[edge]["peers"].values()
        assert all(s["validators"] == ["provenance"] for s in statuses)
        # the gateway records the last step again with the previous step's model as its output
        forged = site.chain.submit(edge, f"{edge}.peer0", last.body, previous.obj)
        with pytest.raises(EndorsementRefused, match="re-execution does not reproduce"):
            site.chain.flush()
        with pytest.raises(errors.NotFound):
            site.ledger.locate(forged)


@pytest.mark.parametrize("name", ["this:main", "ledger.cluster.node:Node", "", 7, "Provenance"])
def test_a_validator_is_a_name_of_the_fixed_registry_never_code_from_the_configuration(name):
    """deployment.json (whoever writes it) names a module or anything else: the node refuses
    to start, and imports nothing."""
    node = SimpleNamespace(chain_id="edge-0", deployment_info={"chains": [{"id": "edge-0", "validators": [name]}]})
    sys.modules.pop("this", None)
    with pytest.raises(errors.ConfigurationError, match="validator"):
        validators.install(node, None)
    assert "this" not in sys.modules
    node.deployment_info["chains"][0]["validators"] = "provenance"  # not a list
    with pytest.raises(errors.ConfigurationError, match="list"):
        validators.install(node, None)
