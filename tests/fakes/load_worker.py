"""A separate process that makes LLM calls, for the cross-process limit tests.

    python -m tests.fakes.load_worker --base-url URL --key KEY --calls 10 --rpm 10

Prints `{"ready": true}` once imported and configured, then waits for a line on stdin so
that a test can start several workers at the same moment, then prints one JSON line per
finished call (`{"ok": true, "t": ...}` or `{"ok": false, "error": ...}`), flushing each line.
Needs DJANGO_SETTINGS_MODULE, REDIS_URL and PROVIDER_HOST_ALLOWLIST in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--kind", default="openai")
    parser.add_argument("--key", required=True)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--rpm", type=int, default=None)
    parser.add_argument("--tpm", type=int, default=None)
    parser.add_argument("--max-concurrency", type=int, default=16)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--prompt-chars", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from apps.core.llm import LLMClient, LLMError, ProviderConfig, ProviderLimiter

    config = ProviderConfig(
        key=args.key,
        kind=args.kind,
        base_url=args.base_url,
        default_model="fake-model",
        requests_per_minute=args.rpm,
        tokens_per_minute=args.tpm,
        max_concurrency=args.max_concurrency,
        timeout_seconds=args.timeout,
        max_attempts=1,
    )
    limiter = ProviderLimiter.for_config(config, lease_seconds=args.lease)
    prompt = ("x" * (args.prompt_chars - 1)) + "?"

    def emit(record: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    async def one(client: LLMClient, number: int) -> None:
        try:
            result = await client.chat(
                [{"role": "user", "content": prompt}], max_tokens=args.max_tokens
            )
        except LLMError as exc:
            emit({"ok": False, "n": number, "error": str(exc), "t": time.time()})
        else:
            emit({"ok": True, "n": number, "tokens": result.usage.total_tokens, "t": time.time()})

    async def run() -> None:
        client = LLMClient(config, limiter=limiter)
        emit({"ready": True, "pid": os.getpid()})
        await asyncio.to_thread(sys.stdin.readline)  # the start signal
        await asyncio.gather(*(one(client, n) for n in range(args.calls)))

    asyncio.run(run())


if __name__ == "__main__":
    main()
