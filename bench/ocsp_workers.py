"""What-if for bench/ocsp.py, not a product entry point: N copies of the product's centre
server (``myna.validation.server``, what ``myna validity serve`` runs) on one port with
SO_REUSEPORT, each process its own Centre + SyncLoop over HTTP on one centre's bundle
and replica (SQLite in WAL mode; applying the feed is idempotent, so each process applies
every event itself and keeps its own pre-signed cache and freshness).

It measures what a second process buys on this machine (the kernel spreads new
connections over the listening processes).

    python bench/ocsp_workers.py --workers 2 --centre tokyo --port 8002 --source URL --token T

The parent starts the workers and forwards SIGTERM/SIGINT to them.
"""

from __future__ import annotations

import argparse
import gc
import signal
import subprocess
import sys


def worker(args) -> None:
    from myna.settings import Settings
    from myna.validation.centre import Centre, CentreConfig
    from myna.validation.feeds import HttpFeed
    from myna.validation.http import SyncLoop
    from myna.validation.server import serve

    settings = Settings.from_env()
    centre = Centre.from_bundle(settings.home / "centres" / args.centre, CentreConfig(name=args.centre))
    gc.collect()
    gc.freeze()  # as myna validity serve
    serve(centre, SyncLoop(centre, HttpFeed(args.source, args.token), interval=0.2), "127.0.0.1", args.port, reuse_port=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--centre", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return worker(args)
    argv = [
        sys.executable,
        __file__,
        "--child",
        "--centre",
        args.centre,
        "--port",
        str(args.port),
        "--source",
        args.source,
        "--token",
        args.token,
    ]
    children = [subprocess.Popen(argv) for _ in range(args.workers)]

    def forward(sig, _frame):
        for c in children:
            if c.poll() is None:
                c.send_signal(sig)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for c in children:
        c.wait()


if __name__ == "__main__":
    main()
