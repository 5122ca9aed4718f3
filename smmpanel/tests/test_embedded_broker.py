"""The embedded broker (smmpanel/broker.py): a consumer never reads a message still being written."""
from __future__ import annotations

import threading

from kombu import Connection

MESSAGES = 400
PAYLOAD = "x" * 200_000  # large enough that writing a message takes a while


def test_a_consumer_racing_the_publisher_only_ever_gets_whole_messages(tmp_path):
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"]),
        "store_processed": False, "polling_interval": 0,
    }

    def connection() -> Connection:
        return Connection("filesystem://", transport="smmpanel.broker:Transport", transport_options=options)

    def publish() -> None:
        with connection() as conn, conn.SimpleQueue("race") as queue:
            for number in range(MESSAGES):
                queue.put({"number": number, "payload": PAYLOAD})

    publisher = threading.Thread(target=publish)
    received = []
    with connection() as conn, conn.SimpleQueue("race") as queue:
        publisher.start()
        while len(received) < MESSAGES:
            message = queue.get(timeout=30)  # a truncated file would raise a JSON error here
            received.append(message.payload["number"])
            assert message.payload["payload"] == PAYLOAD
            message.ack()
    publisher.join()
    assert sorted(received) == list(range(MESSAGES))
    assert not [path.name for path in folders["queue"].iterdir()]  # nothing half-written left behind
