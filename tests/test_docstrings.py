import doctest

import pytest

import edgeacc.accumulator
import edgeacc.params
import edgeacc.primes


@pytest.mark.parametrize("module", [edgeacc.accumulator, edgeacc.params, edgeacc.primes])
def test_docstrings_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
