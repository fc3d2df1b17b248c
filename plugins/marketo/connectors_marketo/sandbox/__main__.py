"""Run the Marketo sandbox in the foreground:

    python -m connectors_marketo.sandbox --port 8701 --client-id demo-client --client-secret demo-secret
"""
from __future__ import annotations

import argparse

from connectors.sandbox import SandboxServer

from .app import MarketoSandbox
from .seed import seed_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m connectors_marketo.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--client-id", default="demo-client")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument("--no-seed", action="store_true", help="start empty instead of with the demo data")
    args = parser.parse_args(argv)

    sandbox = MarketoSandbox(args.client_id, args.client_secret)
    if not args.no_seed:
        lists = seed_demo(sandbox)
        print(f"seeded {len(sandbox.leads)} leads, lists: " + ", ".join(f"{n} ({i})" for n, i in lists.items()))
    server = SandboxServer(sandbox, host=args.host, port=args.port)
    print(f"Marketo sandbox at {server.url}  (REST {server.url}/rest, identity {server.url}/identity)", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
