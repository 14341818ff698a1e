import struct

import pytest

from kwire.protocol.framing import FrameError, FrameReader, frame


def sized(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def test_whole_frames_come_out_in_order():
    reader = FrameReader()
    reader.feed(sized(b"one") + sized(b"two"))
    assert reader.next_frame() == b"one"
    assert reader.next_frame() == b"two"
    assert reader.next_frame() is None


def test_frame_split_across_feeds_byte_by_byte():
    reader = FrameReader()
    data = sized(b"hello world")
    for byte in data[:-1]:
        reader.feed(bytes([byte]))
        assert reader.next_frame() is None
    reader.feed(data[-1:])
    assert reader.next_frame() == b"hello world"
    assert reader.pending_bytes == 0


def test_empty_frame_is_a_frame():
    reader = FrameReader()
    reader.feed(sized(b""))
    assert reader.next_frame() == b""


@pytest.mark.parametrize("size", [-1, -(2**31), 101])
def test_size_prefix_outside_limit_is_rejected_before_the_body(size):
    reader = FrameReader(max_frame_bytes=100)
    reader.feed(struct.pack(">i", size))
    with pytest.raises(FrameError):
        reader.next_frame()


def test_size_at_limit_is_accepted():
    reader = FrameReader(max_frame_bytes=4)
    reader.feed(sized(b"abcd"))
    assert reader.next_frame() == b"abcd"


def test_frame_prefixes_total_size():
    parts = frame([b"ab", b"cde"])
    assert b"".join(parts) == sized(b"abcde")
