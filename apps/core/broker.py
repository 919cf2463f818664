"""The Celery broker transport: kombu's Redis transport, made to survive an outage.

Celery 5.7.0 (`Consumer.on_connection_error_after_connected`) handles a lost broker by
`connection.collect()`, which detaches the transport from its connection, and then
`connection.close()`, which closes the default channel a second time when the first
close was cut short by the dead socket. The Redis channel then builds a new connection
pool to restore its unacknowledged messages, reads the host from the detached transport
(`None.hostname`), and the AttributeError — not a connection error, so not ignored —
stops the worker ("Unrecoverable error"). Celery 5.6 did not close after collecting.

Here a channel of a detached transport raises a *connection* error instead, which the
close ignores as it ignores every other one, and the worker reconnects. Its messages stay
in Redis' unacked set (restored after the visibility timeout) and the run reaper resumes
any run whose chunk was lost, so nothing is lost or done twice.
"""

from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise redis.ConnectionError("the broker connection is closed")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]


class Transport(kombu_redis.Transport):
    Channel = Channel
