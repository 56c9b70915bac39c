"""The two-layer edge ledger on the edgeacc engine (DESIGN.md section 4). Uses only the
public edgeacc API."""
