"""The official python-socketio client with default options against the edge:
it connects over HTTP long-polling, upgrades to the WebSocket, joins a
conversation, sends with an ack and hears a second client (one that stays on
polling). Run by tests/e2e/run.sh with EDGE_URL and TMS_URL set; exits
non-zero on the first failed check."""

import os
import sys
import threading
import time
import uuid

import requests
import socketio

EDGE = os.environ["EDGE_URL"]
TMS = os.environ["TMS_URL"]
NSP = "/messaging"


def token(user):
    r = requests.post(f"{TMS}/dev/token", json={"sub": user}, timeout=10)
    r.raise_for_status()
    return r.json()["token"]


def until(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def client(tok, transports=None):
    sio = socketio.Client(reconnection=False)
    heard = []
    lock = threading.Lock()

    @sio.on("new_message", namespace=NSP)
    def on_new_message(message):
        with lock:
            heard.append(message)

    sio.heard = heard
    # transports=None: the client's default, polling then the WebSocket
    # python-socketio does not do connection-state recovery, and its handlers
    # take a fixed number of arguments: it declines the offsets
    auth = {"token": tok, "recovery": False}
    sio.connect(EDGE, namespaces=[NSP], auth=auth, transports=transports, wait_timeout=10)
    return sio


def main():
    erin, frank = token("erin"), token("frank")
    r = requests.post(
        f"{EDGE}/api/v1/conversations",
        json={"type": "direct", "member_ids": ["frank"]},
        headers={"authorization": f"Bearer {erin}"},
        timeout=10,
    )
    assert r.status_code in (200, 201), r.text
    dm = r.json()["data"]["id"]

    # defaults: transports polling then websocket, upgraded in the background
    default = client(erin)
    until(lambda: default.transport() == "websocket", "the upgrade to the WebSocket")
    polling = client(frank, transports=["polling"])
    assert polling.transport() == "polling", polling.transport()

    for sio in (default, polling):
        ack = sio.call("join_conversation", {"conversation_id": dm}, namespace=NSP, timeout=10)
        assert ack == {"ok": True, "data": {"conversation_id": dm}}, ack

    ack = default.call(
        "send_message",
        {"conversation_id": dm, "type": "text", "content": "hello from python", "client_msg_id": str(uuid.uuid4())},
        namespace=NSP,
        timeout=10,
    )
    assert ack.get("ok") is True, ack
    until(lambda: any(m.get("content") == "hello from python" for m in polling.heard), "the polling client to hear it")

    ack = polling.call(
        "send_message",
        {"conversation_id": dm, "type": "text", "content": "and back over polling", "client_msg_id": str(uuid.uuid4())},
        namespace=NSP,
        timeout=10,
    )
    assert ack.get("ok") is True, ack
    until(lambda: any(m.get("content") == "and back over polling" for m in default.heard), "the upgraded client to hear it")

    assert default.transport() == "websocket"
    default.disconnect()
    polling.disconnect()
    print("python-socketio default client: ok")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
