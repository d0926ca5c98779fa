"""The worker's channel: frames read on the loop, frames written from any thread.

Real socket pairs: frames that arrive in pieces are put back together, a frame above
the limit or a stream cut inside a frame is refused, and what a thread and the loop
send while the socket is full arrives whole and in order once the peer reads.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import pytest

from ophost.execution._frame_channel import FrameChannel
from ophost.execution._frames import FrameError, frame


async def test_frames_sent_in_pieces_are_read_whole_then_the_end() -> None:
    ours, theirs = socket.socketpair()
    channel = FrameChannel(ours, asyncio.get_running_loop(), max_bytes=1024)
    data = frame(b"first") + frame(b"") + frame(b"x" * 600)
    try:
        for start in range(0, len(data), 7):
            theirs.sendall(data[start : start + 7])
            await asyncio.sleep(0)
        theirs.close()
        assert await channel.read() == b"first"
        assert await channel.read() == b""
        assert await channel.read() == b"x" * 600
        assert await channel.read() is None
    finally:
        channel.close()


async def test_a_frame_above_the_limit_is_refused() -> None:
    ours, theirs = socket.socketpair()
    channel = FrameChannel(ours, asyncio.get_running_loop(), max_bytes=16)
    try:
        theirs.sendall(frame(b"small") + frame(b"y" * 17))
        assert await channel.read() == b"small"
        with pytest.raises(FrameError, match="a frame of 17 bytes is above the limit of 16"):
            await channel.read()
    finally:
        channel.close()
        theirs.close()


async def test_a_stream_cut_inside_a_frame_is_refused() -> None:
    ours, theirs = socket.socketpair()
    channel = FrameChannel(ours, asyncio.get_running_loop(), max_bytes=1024)
    try:
        theirs.sendall(struct.pack(">I", 10) + b"abc")
        theirs.close()
        with pytest.raises(FrameError, match="the stream ended inside a frame"):
            await channel.read()
    finally:
        channel.close()


async def test_what_waits_for_a_full_socket_leaves_whole_and_in_order() -> None:
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    loop = asyncio.get_running_loop()
    channel = FrameChannel(ours, loop, max_bytes=1 << 20)
    from_thread = [frame(b"t%05d" % i + b"." * 1000) for i in range(200)]
    from_loop = [frame(b"l%05d" % i + b"." * 1000) for i in range(200)]

    def send_from_a_thread() -> None:
        for data in from_thread:
            channel.send(data)

    try:
        thread = threading.Thread(target=send_from_a_thread)
        thread.start()
        for data in from_loop:
            channel.send(data)
            await asyncio.sleep(0)
        await asyncio.to_thread(thread.join)
        assert channel.backlog > 0  # nobody read yet: the socket is full

        received = bytearray()

        def read_everything() -> None:
            theirs.settimeout(10)
            while len(received) < sum(map(len, from_thread + from_loop)):
                received.extend(theirs.recv(65536))

        reader = asyncio.ensure_future(asyncio.to_thread(read_everything))
        await asyncio.wait_for(channel.drain(), 10)
        await reader
        assert channel.backlog == 0
        frames = []
        view = memoryview(received)
        while view:
            (size,) = struct.unpack(">I", view[:4])
            frames.append(bytes(view[4 : 4 + size]))
            view = view[4 + size :]
        # Each sender's frames arrive whole and in the order it sent them.
        assert [f for f in frames if f.startswith(b"t")] == [d[4:] for d in from_thread]
        assert [f for f in frames if f.startswith(b"l")] == [d[4:] for d in from_loop]
    finally:
        channel.close()
        theirs.close()
