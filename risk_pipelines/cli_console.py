"""``risk-pipelines console``: serve the risk console (127.0.0.1:3001 by default), and
``risk-pipelines console add-user NAME --role analyst``: add or reset a user of its users file,
asking for the password (or reading it from stdin with --password-stdin, for scripts)."""

from __future__ import annotations

import getpass
import sys


def add_console_commands(sub) -> None:
    console = sub.add_parser("console", help="serve the risk console (alerts in the browser)")
    console.add_argument("--host", default="127.0.0.1")
    console.add_argument("--port", type=int, default=3001)
    console_sub = console.add_subparsers(dest="console_command")
    add = console_sub.add_parser("add-user", help="add a console user (or set a new password)")
    add.add_argument("name")
    add.add_argument("--role", choices=["viewer", "analyst"], required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")


def run_console_command(args) -> int:
    from risk_pipelines.config import load_console_settings, load_settings

    console = load_console_settings()
    if args.console_command == "add-user":
        from risk_pipelines.console.auth import add_user

        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"password for {args.name}: ")
            if getpass.getpass("again: ") != password:
                raise ValueError("the two passwords differ")
        add_user(console.users_file, args.name, args.role, password)
        print(f"{args.name} ({args.role}) can sign in; users file {console.users_file}")
        return 0
    import uvicorn

    from risk_pipelines.console.app import create_app

    if console.auth == "password" and not console.users_file.exists():
        print(
            f"no users yet ({console.users_file}): add one with "
            "risk-pipelines console add-user NAME --role analyst",
            flush=True,
        )
    print(f"risk console on http://{args.host}:{args.port} ({console.auth} sign-in)", flush=True)
    uvicorn.run(create_app(load_settings(), console), host=args.host, port=args.port,
                log_level="warning")  # fmt: skip
    return 0
