"""HTTP/2 attacks on a server, scripted with the `h2` package (a real protocol stack;
hyperframe and hpack for the frames it will not send itself). For tests/h2_attacks.rs.

    python attacks.py ATTACK PORT   (the server listens on 127.0.0.1:PORT with --h2c)

Prints one JSON line: what the server did — `goaway` (its error code, or null),
`resets` (RST_STREAM frames it sent, by error code), `answered` (responses it
completed), `closed` (it closed the connection) — within the attack's time.
"""

import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
from hpack import Encoder
from hyperframe.frame import ContinuationFrame, HeadersFrame

PORT = int(sys.argv[2])
REQUEST = [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"), (":path", "/a.txt")]


class Client:
    def __init__(self, window=None):
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.flush()
        self.goaway = None
        self.resets = {}
        self.answered = 0
        self.closed = False
        self.frames = b""
        self.eof = False
        self.broken = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def raw(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def read(self, seconds):
        """Reads events for up to `seconds` (less once the connection is gone)."""
        end = time.monotonic() + seconds
        # A send that failed does not stop the reading: what the server said before it
        # closed (a GOAWAY) is still in the socket.
        while not self.eof and time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                self.closed = self.eof = True
                break
            if not data:
                self.closed = self.eof = True
                break
            self.count(data)
            # The stack answers SETTINGS and PINGs; what the server did is counted
            # from the frames themselves, so that a stream state the attack broke on
            # purpose cannot hide a GOAWAY.
            # Once the stack meets a frame it cannot place (a stream the attack opened
            # with raw frames), it is left out: its own GOAWAY would end the test.
            if not self.broken:
                try:
                    self.conn.receive_data(data)
                    self.flush()
                except Exception:
                    self.broken = True

    def count(self, data):
        self.frames += data
        while len(self.frames) >= 9:
            length = int.from_bytes(self.frames[:3], "big")
            if len(self.frames) < 9 + length:
                break
            kind, flags = self.frames[3], self.frames[4]
            payload = self.frames[9 : 9 + length]
            self.frames = self.frames[9 + length :]
            if kind == 0x7:  # GOAWAY
                self.goaway = int.from_bytes(payload[4:8], "big")
            elif kind == 0x3:  # RST_STREAM
                code = int.from_bytes(payload[:4], "big")
                self.resets[code] = self.resets.get(code, 0) + 1
            elif kind in (0x0, 0x1) and flags & 0x1:  # DATA or HEADERS with END_STREAM
                self.answered += 1

    def result(self):
        return {"goaway": self.goaway, "resets": self.resets, "answered": self.answered, "closed": self.closed}


def rapid_reset():
    """Open a stream and reset it at once, 2,000 times, as fast as it goes."""
    c = Client()
    for _ in range(2000):
        if c.closed or c.goaway is not None:
            break
        stream = c.conn.get_next_available_stream_id()
        c.conn.send_headers(stream, REQUEST, end_stream=True)
        c.conn.reset_stream(stream)
        c.flush()
        c.read(0.0)
    c.read(2.0)
    return c.result()


def continuation_flood():
    """One HEADERS without END_HEADERS, then CONTINUATION frames of real header-block
    bytes, 1 MiB in all."""
    c = Client()
    stream = c.conn.get_next_available_stream_id()
    encoder = Encoder()
    block = encoder.encode(REQUEST)
    c.raw(HeadersFrame(stream, data=block, flags=["END_STREAM"]).serialize())
    piece = encoder.encode([("x-flood", "a" * 900)])
    for _ in range(1100):
        if c.closed or c.goaway is not None:
            break
        c.raw(ContinuationFrame(stream, data=piece).serialize())
        c.read(0.0)
    c.raw(ContinuationFrame(stream, data=b"", flags=["END_HEADERS"]).serialize())
    c.read(2.0)
    return c.result()


def hpack_bomb():
    """A 4 KiB field put in the dynamic table once, then named by its one-byte index
    4,000 times: 16 MiB of header list from a 4 KiB block."""
    c = Client()
    stream = c.conn.get_next_available_stream_id()
    encoder = Encoder()
    block = encoder.encode(REQUEST + [("x-bomb", "b" * 4000)])
    # Index 62 is the newest dynamic entry: x-bomb.
    block += bytes([0x80 | 62]) * 4000
    c.raw(HeadersFrame(stream, data=block, flags=["END_HEADERS", "END_STREAM"]).serialize())
    c.read(3.0)
    return c.result()


def stalled(streams, seconds):
    """A window of zero, `streams` requests for the 5 MiB file, and never a
    WINDOW_UPDATE, for `seconds`."""
    c = Client(window=0)
    c.read(0.2)
    for _ in range(streams):
        stream = c.conn.get_next_available_stream_id()
        c.conn.send_headers(stream, REQUEST[:3] + [(":path", "/big.bin")], end_stream=True)
    c.flush()
    c.read(seconds)
    return c.result()


def zero_window():
    """One stalled stream, for argv[3] seconds (4 if not given)."""
    return stalled(1, float(sys.argv[3]) if len(sys.argv) > 3 else 4.0)


def zero_window_many():
    """128 stalled streams on one connection, for 3 s."""
    return stalled(128, 3.0)


def idle_streams():
    """10,000 streams opened and left open: HEADERS without END_STREAM, no body."""
    c = Client()
    for _ in range(10000):
        if c.closed or c.goaway is not None:
            break
        stream = c.conn.get_next_available_stream_id()
        c.conn.send_headers(stream, REQUEST, end_stream=False)
        c.flush()
        c.read(0.0)
    c.read(2.0)
    return c.result()


if __name__ == "__main__":
    print(json.dumps(globals()[sys.argv[1]]()))
