"""The embedded broker (`make run`, no Redis): kombu's filesystem transport, publishing atomically.

kombu's own `_put` creates the message file under its final name and then writes it, while a
consumer's `_get` takes any file with that name (moving it away, then reading it without the
writer's lock). A worker that picks a message up mid-write reads truncated JSON, and Celery treats
that as unrecoverable: the worker exits and nothing moves any more. Here a message is written
under a name no consumer looks at and renamed into place when complete; a rename within one
folder is atomic, so consumers only ever see whole messages.
"""
from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"  # kombu's naming and order
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"partial-{uuid.uuid4()}")  # no ".<queue>.msg" suffix
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
