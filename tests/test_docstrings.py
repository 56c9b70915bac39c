import doctest

import pytest

import edgeacc.accumulator
import edgeacc.nonmem
import edgeacc.params
import edgeacc.poke
import edgeacc.primes
import edgeacc.updates


@pytest.mark.parametrize("module", [edgeacc.accumulator, edgeacc.params, edgeacc.primes, edgeacc.nonmem,
                                    edgeacc.poke, edgeacc.updates])
def test_docstrings_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
