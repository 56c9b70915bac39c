"""Red team rv10 (session 9): provenance endorsement rules."""
import pytest
from provenance_helpers import net  # noqa: F401  (fixture)


def test_a_round_claimed_by_a_version_that_never_commits_is_released(net):
    """A dishonest submitter gets version A of a round endorsed and lets it drop; on 6fe4a65
    the endorser refused every other version of that round until restart. The claim of an
    uncommitted version now lapses after claim_timeout; until then it holds."""
    from ledger.provenance.network_ledger import ProvenanceEndorser
    from ledger.provenance.records import RecordError

    endorser = ProvenanceEndorser(net, {})
    previous = "ab" * 32
    endorser._claim_round(b"version A", previous, 1)  # endorsed, never committed
    with pytest.raises(RecordError, match="one aggregation per round"):
        endorser._claim_round(b"version B", previous, 1)
    endorser._claim_round(b"version A", previous, 1)  # a retry of A is the same round
    endorser.claim_timeout = 0.0
    endorser._claim_round(b"version B", previous, 1)  # A never committed: B may take the round
