"""The application layer every service shares: a unit of work for use cases, and per-event-type handlers
for consumers. Routes, consumers and workers are thin adapters over use cases written against these."""
