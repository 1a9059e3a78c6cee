"""Pure session-service rules (no I/O): scheduling boundaries, feedback totals and message flags.

Kept free of databases, brokers and clocks so every rule is unit-tested at its boundaries; the API,
store and timers call these functions with the values they already hold.
"""
