"""Red team of session 7, the step audit's tolerance mode: a distance that is not a number
must fail the comparison, never pass it. max() and ">" skip NaN, so a recorded model with NaN
entries (one tensor, or the whole model, poisoning every FedAvg it enters) passed the audit
within any tolerance; a NaN tolerance let every model pass."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ledger.provenance import NumpyMLPTrainer, ProvenanceError, Tolerance
from ledger.provenance.audit import model_distances

from provenance_helpers import digits, net  # noqa: F401 (fixtures)
from test_provenance_ledger import HP, audit, collect, train

LOOSE = Tolerance(max_abs=1e-4, max_rel_l2=1e-3)


@pytest.mark.parametrize("where", ["one entry", "one tensor", "every tensor"])
def test_a_recorded_model_with_nan_fails_the_tolerance_audit(net, digits, where):
    """Recorded with NaN where the replay gives numbers, on a chain whose peers only check
    signatures: the exact audit fails, and so must every tolerance audit."""
    trainer = NumpyMLPTrainer(HP)

    def poisoned(model, global_model, batch, index):
        out = trainer.step(model, global_model, batch, index)
        if index != 2:
            return out
        out = {k: v.copy() for k, v in out.items()}
        if where == "one entry":
            out["b2"].flat[0] = np.nan
        for name in {"one tensor": ["b2"], "every tensor": list(out)}.get(where, []):
            out[name][...] = np.nan
        return out

    run = train(collect(net, digits, endorse_mode="signatures"), step=poisoned)
    assert not audit(run).passed
    report = audit(run, tolerance=LOOSE)
    assert not report.passed, report.summary()
    assert 2 in report.failed_steps and "outside the tolerance" in report.summary()
    assert math.isinf(next(v for v in report.verdicts if v.index == 2).max_abs)


def test_distances_between_models_with_nan_are_infinite():
    a = {"w": np.array([1.0, 2.0], np.float32)}
    assert model_distances({"w": np.array([np.nan, 2.0], np.float32)}, a) == (math.inf, math.inf)
    assert model_distances(a, {"w": np.array([1.0, np.nan], np.float32)}) == (math.inf, math.inf)
    assert model_distances(a, a) == (0.0, 0.0)


@pytest.mark.parametrize("bad", [dict(max_abs=math.nan), dict(max_rel_l2=math.nan), dict(max_abs=-1.0),
                                 dict(max_abs=math.inf), dict(max_rel_l2="1e-5"), dict(max_abs=True)])
def test_a_tolerance_that_is_not_a_finite_non_negative_number_is_refused(bad):
    with pytest.raises(ProvenanceError, match="tolerance"):
        Tolerance(**bad)
