"""A consumer's handlers, registered one per event type, and the subscription they declare.

A service declares what it consumes once, at import time::

    INTAKE = EventHandlers(service="session", consumer="session-intake", topic=intake.TOPIC, summary="...")

    @INTAKE.on(ClinicianAssigned)
    async def assignment(uow: UnitOfWork, event: ClinicianAssigned) -> None: ...

The runtime builds the Kafka consumer from it; the AsyncAPI document lists its :attr:`subscription` (who
consumes which types of which topic). Each batch runs in one unit of work; with ``inbox`` (the default) the
events' ids are claimed first and only new events reach a handler, so a redelivered batch has no second
effect. Types without a handler are acknowledged and ignored (tolerant reader).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from rapport_common.application.unit_of_work import Transactions, UnitOfWork
from rapport_common.db import inbox
from rapport_common.events.envelope import CloudEvent
from rapport_common.kafka.consumer import ConsumedEvent, Handler
from rapport_common.telemetry import event_span

E = TypeVar("E", bound=CloudEvent[Any])
EventHandler = Callable[[UnitOfWork, E], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """What one consumer of a service reads: its topic and the event types it handles."""

    service: str
    #: the consumer's name: its default group id and its inbox name
    consumer: str
    topic: str
    handles: tuple[type[CloudEvent[Any]], ...]
    summary: str


class EventHandlers:
    def __init__(self, *, service: str, consumer: str, topic: str, summary: str, inbox: bool = True) -> None:
        self.service = service
        self.consumer = consumer
        self.topic = topic
        self.summary = summary
        self.inbox = inbox
        self._handlers: dict[type[CloudEvent[Any]], EventHandler[Any]] = {}

    def on(self, event_cls: type[E]) -> Callable[[EventHandler[E]], EventHandler[E]]:
        """Register the handler of ``event_cls`` (one per type; the type must belong to the topic)."""
        if event_cls.topic != self.topic:
            raise ValueError(f"{event_cls.event_type()} is an event of {event_cls.topic}, not {self.topic}")

        def register(handler: EventHandler[E]) -> EventHandler[E]:
            if event_cls in self._handlers:
                raise ValueError(f"{self.consumer} already handles {event_cls.event_type()}")
            self._handlers[event_cls] = handler
            return handler

        return register

    @property
    def subscription(self) -> Subscription:
        return Subscription(self.service, self.consumer, self.topic, tuple(self._handlers), self.summary)

    def batch_handler(self, transactions: Transactions) -> Handler:
        """The consumer's batch handler: one unit of work per batch, each event to its type's handler."""

        async def handle(batch: list[ConsumedEvent]) -> None:
            handled = [consumed.event for consumed in batch if type(consumed.event) in self._handlers]
            if not handled:
                return
            async with transactions.begin() as uow:
                new = await inbox.claim(uow.conn, self.consumer, [e.id for e in handled]) if self.inbox else None
                for event in handled:
                    if new is not None and event.id not in new:
                        continue
                    with event_span(f"{self.service}.{event.type}", event):
                        await self._handlers[type(event)](uow, event)

        return handle
