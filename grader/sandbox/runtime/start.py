"""Entry point of a worker: confine this process, greet the grading process, serve requests.

Reached either in a process forked from the grading process (first worker) or as
``python -m grader.sandbox.runtime.start FD`` (replacement workers, a fresh interpreter).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import warnings

import numpy as np

# Everything the worker runs is imported before it gives up its privileges: afterwards it may not
# be allowed to read the grader's files at all.
from ..jail import confine
from ..wire.messages import send_message
from ..wire.protocol import WorkerSettings
from . import worker


def serve_confined(sock: socket.socket, settings: WorkerSettings) -> None:
    iso = confine.Isolation(**settings["isolation"])
    protections = confine.confine(iso, sock.fileno())
    # A forked worker inherits the grading process's warning filters and NumPy error state (under
    # pytest: warnings as errors); student code runs with Python's and NumPy's defaults instead.
    warnings.resetwarnings()
    warnings.simplefilter("default")
    np.seterr(all="warn", under="ignore")
    send_message(sock, {"hello": True, "protections": protections})
    worker.main(sock, output_chars=settings["output_chars"], value_bytes=settings["value_bytes"])


def main() -> None:
    settings: WorkerSettings = json.loads(os.environ.pop("GRADER_WORKER_SETTINGS"))
    sock = socket.socket(fileno=int(sys.argv[1]))
    serve_confined(sock, settings)
    os._exit(0)


if __name__ == "__main__":
    main()
