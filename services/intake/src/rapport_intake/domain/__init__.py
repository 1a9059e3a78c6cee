"""Pure intake rules (no I/O): schedules, baseline ORS scoring, who may do what."""
