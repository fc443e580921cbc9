"""``python -m target_app``: start the reference target, optionally with planted flaws.

Command-line flags override the environment. With more than one worker and no ``REDIS_URL`` an
embedded Redis is started on a free loopback port and stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from target_app import embedded_redis
from target_app.core.config import ConfigError, Settings, validate
from target_app.core.keys import generate_private_pem
from target_app.flaws import CATALOGUE, UnknownFlawError
from target_app.seed import read_seed_file, seed_users

# Flag -> environment variable; the factory in each worker reads the environment.
FLAG_ENV = {
    "workers": "TARGET_WORKERS",
    "flaws": "TARGET_FLAWS",
    "redis_url": "REDIS_URL",
    "database_url": "DATABASE_URL",
    "algorithm": "JWT_ALGORITHM",
    "environment": "ENVIRONMENT",
    "redis_prefix": "REDIS_PREFIX",
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m target_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, help="uvicorn worker processes (TARGET_WORKERS)")
    parser.add_argument("--flaws", help="planted flaws, e.g. alg_none,login_delay_ms=20")
    parser.add_argument("--redis-url", help="shared Redis (REDIS_URL); embedded if omitted")
    parser.add_argument("--redis-prefix", help="namespace for this target's Redis keys")
    parser.add_argument("--database-url", help="SQLAlchemy async URL (DATABASE_URL)")
    parser.add_argument("--algorithm", choices=["HS256", "RS256", "ES256"])
    parser.add_argument("--environment", choices=["development", "test", "staging", "production"])
    parser.add_argument("--seed", type=Path, help="JSON file of users to create before serving")
    parser.add_argument(
        "--diagnostic-headers",
        action="store_true",
        help="local only: name the answering worker in X-Target-Worker",
    )
    parser.add_argument("--list-flaws", action="store_true", help="print the flaw catalogue")
    parser.add_argument(
        "--app",
        default="target_app.main:create_app",
        help="import string of the app factory to serve (benchmarks add a bare route)",
    )
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def export_flags(args: argparse.Namespace) -> None:
    for flag, env in FLAG_ENV.items():
        value = getattr(args, flag)
        if value is not None:
            os.environ[env] = str(value)
    if args.diagnostic_headers:
        os.environ["DIAGNOSTIC_HEADERS"] = "true"
    algorithm = os.environ.get("JWT_ALGORITHM", "HS256")
    if algorithm != "HS256" and not os.environ.get("JWT_PRIVATE_KEY"):
        print(f"note: no JWT_PRIVATE_KEY given; generated an ephemeral {algorithm} key pair")
        os.environ["JWT_PRIVATE_KEY"] = generate_private_pem(algorithm)


def load_settings() -> Settings:
    try:
        settings = Settings()
        validate(settings)
    except (ConfigError, UnknownFlawError) as exc:
        raise SystemExit(f"error: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"error: invalid setting: {problems}") from None
    return settings


def print_catalogue() -> None:
    for flaw in CATALOGUE.values():
        print(f"{flaw.name:42} {flaw.category:10} {', '.join(flaw.detected_by)}")
        print(f"{'':42} {flaw.description}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list_flaws:
        print_catalogue()
        return 0
    export_flags(args)
    redis_server = None
    workers = int(os.environ.get("TARGET_WORKERS", "1"))
    if workers > 1 and not os.environ.get("REDIS_URL"):
        redis_server = embedded_redis.start()
        os.environ["REDIS_URL"] = redis_server.url
        print(f"note: started embedded Redis at {redis_server.url}")
    try:
        settings = load_settings()
        if args.seed:
            asyncio.run(seed_users(settings, read_seed_file(args.seed)))
        uvicorn.run(
            args.app,
            factory=True,
            host=args.host,
            port=args.port,
            workers=workers,
            # The socket address is the client address; no X-Forwarded-For from anyone.
            proxy_headers=False,
            server_header=False,
            log_level=args.log_level,
        )
    finally:
        if redis_server is not None:
            redis_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
