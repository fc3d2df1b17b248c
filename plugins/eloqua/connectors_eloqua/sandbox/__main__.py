"""Run the Eloqua sandbox in the foreground:

    python -m connectors_eloqua.sandbox --port 8702 --site DemoCompany --user demo.user --password demo-password

The port is the login host's (``/id``, ``/auth/oauth2/token``); each pod gets its own port,
which clients learn from ``/id``, as they must with the real Eloqua.
"""
from __future__ import annotations

import argparse
import signal
import threading

from .app import EloquaSandbox
from .seed import seed_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m connectors_eloqua.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="login host port; 0 picks a free one")
    parser.add_argument("--pod-port", type=int, default=0, help="port of the first pod; 0 picks a free one")
    parser.add_argument("--site", default="DemoCompany")
    parser.add_argument("--user", default="demo.user")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--client-id", default="demo-client", help="OAuth app (Basic client auth at the token endpoint)")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument("--no-seed", action="store_true", help="start empty instead of with the demo data")
    args = parser.parse_args(argv)

    sandbox = EloquaSandbox(args.site, args.user, args.password, client_id=args.client_id,
                            client_secret=args.client_secret)
    if not args.no_seed:
        ids = seed_demo(sandbox)
        lists = ", ".join(f"{name} ({list_id})" for name, list_id in ids["lists"].items())
        print(f"seeded {len(sandbox.contacts.contacts)} contacts, lists: {lists}")
    sandbox.start(port=args.port, host=args.host, pod_ports={"p01": args.pod_port} if args.pod_port else None)
    print(f"Eloqua sandbox login host at {sandbox.url}  (pod {sandbox.pod} at {sandbox.pod_url()}; "
          f"site {args.site}, user {args.user}, OAuth client {args.client_id})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
