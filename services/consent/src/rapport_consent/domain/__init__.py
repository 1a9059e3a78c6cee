"""Pure consent rules (no I/O): consent state over time, grant rules, the ledger's hash chain."""
