"""`rag-gesture worker`: the JSON-lines process the Blender add-on drives (docs/protocol.md)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys


def worker(args: argparse.Namespace) -> int:
    """Serve the worker protocol on the real stdin/stdout until EOF or `shutdown`.

    The protocol gets a private copy of file descriptor 1, and fd 1 itself is pointed at
    stderr, so even native code printing to stdout cannot corrupt the JSON lines. The process
    ends with os._exit: the stdin reader is a daemon thread blocked in read(), and a normal
    interpreter shutdown can abort on the lock that read holds.
    """
    sys.stdout.flush()  # before any import that might print: only protocol lines on stdout
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="ascii", newline="\n")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    try:
        from ..worker.server import serve
        from .options import session_config

        config = session_config(args)
        code = serve(config, sys.stdin.buffer, protocol_out, hard_exit_after=3.0)
    except KeyboardInterrupt:
        code = 130
    with contextlib.suppress(OSError, ValueError):
        protocol_out.flush()
    sys.stderr.flush()
    os._exit(code)
