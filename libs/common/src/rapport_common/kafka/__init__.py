"""Kafka plumbing on aiokafka: an ordered batch producer and a validating batch consumer with DLQ."""
