"""The monitor's application layer: keyword-only use cases over a unit of work, one module per aggregate.

Routes, the consumer and the hold worker are adapters that call them; a use case never knows which did.
"""
