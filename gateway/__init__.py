"""Gateway to the event log: the embedded NATS server and connections to NATS."""

from gateway.connection import NatsConnectError, connect, start_or_connect
from gateway.nats_server import EmbeddedNatsServer

__all__ = ["EmbeddedNatsServer", "NatsConnectError", "connect", "start_or_connect"]
