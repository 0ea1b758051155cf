"""Serves a folder over HTTP on 127.0.0.1, as `python3 -m http.server` does; with
--isolated every response carries the COOP/COEP headers that make a page
crossOriginIsolated (SharedArrayBuffer, so pocketnn's pthreads build).

    python3 wasm/demo/serve.py --directory wasm --isolated 8766   # then open /demo/
"""

from __future__ import annotations

import argparse
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}


class IsolatedHandler(SimpleHTTPRequestHandler):
    """Adds the cross-origin isolation headers to every response."""

    def end_headers(self) -> None:
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--directory", default=".")
    parser.add_argument("--isolated", action="store_true", help="send COOP/COEP headers")
    args = parser.parse_args()
    handler = IsolatedHandler if args.isolated else SimpleHTTPRequestHandler
    server = ThreadingHTTPServer(("127.0.0.1", args.port), functools.partial(handler, directory=args.directory))
    with server:
        server.serve_forever()


if __name__ == "__main__":
    main()
