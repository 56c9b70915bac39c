"""Distributed generation of an RSA modulus with no trusted dealer (paper section IV.C;
Boneh–Franklin with Malkin–Wu–Boneh's distributed sieving). See DESIGN.md section 5.

``generate_modulus`` runs a ceremony in this process (tests) or as separate OS processes
over TLS; ``python -m edgeacc.dkg ceremony`` and ``python -m edgeacc.dkg party`` are the CLI.
"""
from edgeacc.dkg.protocol import (
    DkgConfig,
    DkgResult,
    LocalRun,
    Party,
    PartyStats,
    generate_modulus,
    run_in_process,
)

__all__ = ["DkgConfig", "DkgResult", "LocalRun", "Party", "PartyStats", "generate_modulus",
           "run_in_process"]
