import pytest
from hypothesis import HealthCheck, settings

import edgeacc

# One hypothesis profile for the whole suite (a module-level profile would leak into the others).
settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("ci")


@pytest.fixture(scope="session")
def P():
    return edgeacc.Params.rsa2048()


@pytest.fixture(scope="session")
def toy():
    """A 512-bit test-only modulus: fast, and marked insecure."""
    return edgeacc.generate_insecure_params(512, seed=7)
