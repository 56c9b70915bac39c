import pytest

import edgeacc


@pytest.fixture(scope="session")
def P():
    return edgeacc.Params.rsa2048()


@pytest.fixture(scope="session")
def toy():
    """A 512-bit test-only modulus: fast, and marked insecure."""
    return edgeacc.generate_insecure_params(512, seed=7)
