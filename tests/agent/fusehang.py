"""A FUSE file system that answers the kernel's INIT and then nothing: a process that touches
it (statvfs, open) waits in the kernel for an answer that never comes, and since the request was
already handed to this server, not even SIGKILL ends that wait (the dead NFS mount of a client
server, reproducible). Ending this server aborts the connection and frees every waiter.

    python tests/agent/fusehang.py MOUNTPOINT     # prints "ready" once mounted; needs root

Talks the FUSE protocol on /dev/fuse itself (no libfuse), so the test needs nothing installed.
"""
from __future__ import annotations

import ctypes
import os
import struct
import sys

FUSE_INIT = 26
IN_HEADER = struct.Struct("<IIQQIIIHH")  # len, opcode, unique, nodeid, uid, gid, pid, extlen, pad
OUT_HEADER = struct.Struct("<IiQ")       # len, error, unique


def main(mountpoint: str) -> None:
    fd = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL(None, use_errno=True)
    opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other".encode()
    if libc.mount(b"xunjian-hang", mountpoint.encode(), b"fuse", 0, opts) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount: {os.strerror(err)}")
    print("ready", flush=True)
    held = []  # requests read and never answered
    while True:
        data = os.read(fd, 1 << 20)
        _, opcode, unique, *_ = IN_HEADER.unpack_from(data)
        if opcode == FUSE_INIT:
            major, minor = struct.unpack_from("<II", data, IN_HEADER.size)
            # major, minor, max_readahead, flags, max_background, congestion_threshold, max_write,
            # time_gran, max_pages, map_alignment, flags2, unused[7]
            body = struct.pack("<IIIIHHIIHHI7I", major, minor, 0, 0, 16, 12, 65536, 1, 0, 0, 0, *([0] * 7))
            os.write(fd, OUT_HEADER.pack(OUT_HEADER.size + len(body), 0, unique) + body)
        else:
            held.append(unique)


if __name__ == "__main__":
    main(sys.argv[1])
