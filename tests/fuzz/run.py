"""Fuzzes the HTTP API from its own OpenAPI description with schemathesis.

Builds and starts a throwaway agent on a free loopback port (both tiers, a fresh data dir,
timeouts capped at 200 ms so generated workloads stay quick, access control on with an admin
key made by `vulcan keys create`), waits until every tier is available, runs schemathesis
with a fixed seed and that key (its `ignored_auth` check also sends each operation without a
key and with a wrong one, which must be refused), and stops the agent with SIGTERM. Exits with
schemathesis's status: non-zero on any 5xx, schema violation, undocumented status code,
wrongly accepted or refused request, or unreachable agent; and non-zero if the agent then
does not stop cleanly (exit 0 within 30 s).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "200")


def build_agent() -> str:
    """Builds `vulcan` (debug) and returns the executable cargo reports."""
    out = subprocess.run(
        ["cargo", "build", "--quiet", "--bin", "vulcan", "--message-format=json"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        message = json.loads(line)
        if message.get("executable"):
            return message["executable"]
    sys.exit("fuzz: cargo built no vulcan executable")


def drain(stream, keep: list[str]) -> None:
    """Reads the agent's log to its end (so it never blocks on a full pipe), keeping its
    warnings and errors."""
    for line in stream:
        if " WARN " in line or " ERROR " in line:
            keep.append(line)


def create_key(binary: str, data_dir: str) -> str:
    """An admin key on the agent's store, as an operator makes the first one."""
    return subprocess.run(
        [binary, "keys", "create", "--tenant", "fuzz", "--scopes", "admin", "--data-dir", data_dir],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def start_agent(binary: str, data_dir: str, problems: list[str]) -> tuple[subprocess.Popen, str]:
    agent = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
         "--timeout-ms", "200", "--max-timeout-ms", "200", "--max-experiment-runs", "20",
         "--auth", "required", "--tenant-rate", "0", "--tenant-max-in-flight", "0"],
        env={**os.environ, "NO_COLOR": "1", "RUST_LOG": "info"},
        stderr=subprocess.PIPE, text=True,
    )
    for line in agent.stderr:
        match = re.search(r"vulcan listening address=(\S+)", line)
        if match:
            threading.Thread(target=drain, args=(agent.stderr, problems), daemon=True).start()
            return agent, f"http://{match.group(1)}"
    sys.exit(f"fuzz: the agent exited ({agent.wait()}) before it listened")


def wait_for_tiers(url: str, key: str) -> None:
    deadline = time.monotonic() + 60
    request = urllib.request.Request(f"{url}/v1/backends", headers={"Authorization": f"Bearer {key}"})
    while time.monotonic() < deadline:
        with urllib.request.urlopen(request) as response:
            backends = json.load(response)["backends"]
        if all(tier["available"] for tier in backends):
            return
        time.sleep(0.1)
    sys.exit(f"fuzz: tiers not available within 60 s: {backends}")


def stop_agent(agent: subprocess.Popen) -> str | None:
    """Stops the agent as a service manager would (SIGTERM), so a fuzzing storm is also
    followed by a clean shutdown; what went wrong with it, if anything."""
    agent.terminate()
    try:
        code = agent.wait(timeout=30)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait()
        return "the agent did not stop within 30 s of SIGTERM"
    return None if code == 0 else f"the agent exited {code} after SIGTERM"


def main() -> int:
    binary = build_agent()
    with tempfile.TemporaryDirectory(prefix="vulcan-fuzz-") as work:
        problems: list[str] = []
        data_dir = os.path.join(work, "data")
        key = create_key(binary, data_dir)
        agent, url = start_agent(binary, data_dir, problems)
        try:
            wait_for_tiers(url, key)
            schemathesis = Path(sys.executable).parent / "schemathesis"
            # One worker: with two, a CI run failed inside hypothesis itself, CPython 3.11.7's
            # `ast.parse` raising "AST constructor recursion depth mismatch" while two threads
            # generated examples (no request had failed). One worker takes as long here.
            fuzzed = subprocess.run(
                [str(schemathesis), "--config-file", str(HERE / "schemathesis.toml"),
                 "run", f"{url}/openapi.json",
                 "--seed", "1", "--max-examples", EXAMPLES, "--workers", "1",
                 "--header", f"Authorization: Bearer {key}",
                 "--continue-on-failure", "--request-timeout", "10",
                 "--generation-database", "none", "--no-color"],
                cwd=work,  # where it leaves its own files
                timeout=600,
            ).returncode
        finally:
            stopped = stop_agent(agent)
            if problems:
                print("fuzz: the agent logged these warnings and errors:", *problems, sep="\n")
    if stopped is not None:
        print(f"fuzz: {stopped}")
        return 1
    return fuzzed


if __name__ == "__main__":
    sys.exit(main())
