"""Check ``seqflow serve-model`` the way a fresh clone runs it: the venv's bin off PATH, one model, five requests.

Usage (from the project's root, after a run registered the sales model):
    .venv/bin/python benchmarks/serve_model.py models:/forecast-alcohol-sales@candidate

Prints the seconds to the first /ping, a forecast of data/alcohol-sales.csv without its last 12
months, a one-row history (400), a 16 MB body (413 against the default 10 MB limit), a /ping after it,
and SIGTERM: the exit code, the time to exit and the server's children before and after.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main(uri: str) -> None:
    """Start the server on a free port, send the five requests, stop it; print what each gave."""
    seqflow = ROOT / ".venv/bin/seqflow"
    bin_dir = str(seqflow.parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != bin_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    server = subprocess.Popen([str(seqflow), "serve-model", "--model", uri, "--port", str(port)], cwd=ROOT,
                              env={**os.environ, "PATH": path}, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"

    def post(body: bytes):
        req = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
        t = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.loads(r.read()), time.monotonic() - t
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read()), time.monotonic() - t

    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2):
                    break
            except Exception:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.5)
        print(f"ready after {time.monotonic() - t0:.1f} s (PATH without {bin_dir})")
        frame = pd.read_csv(ROOT / "data/alcohol-sales.csv").iloc[:-12]
        frame.columns = ["timestamp", "value"]
        status, body, took = post(json.dumps({"dataframe_split": frame.to_dict(orient="split", index=False)}).encode())
        print(f"forecast: {status} in {took:.2f} s, {len(body.get('predictions', []))} rows")
        status, body, took = post(json.dumps({"dataframe_split": frame.head(1).to_dict(orient="split", index=False)}).encode())
        print(f"one row: {status} in {took:.2f} s: {body['message']}")
        big = json.dumps({"dataframe_split": {"columns": ["timestamp", "value"],
                                              "data": [["1992-01-01", 3459.0]] * 700_000}}).encode()
        status, body, took = post(big)
        print(f"{len(big) / 2**20:.1f} MB body: {status} in {took:.2f} s: {body['message']}")
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as r:
            print(f"ping after the 413: {r.status}")
        kids = subprocess.run(["ps", "--ppid", str(server.pid), "-o", "pid="], capture_output=True, text=True).stdout.split()
        t = time.monotonic()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        print(f"SIGTERM: exit {code} in {time.monotonic() - t:.2f} s; children before: {kids or 'none'}; "
              f"alive after: {[k for k in kids if Path(f'/proc/{k}').exists()] or 'none'}")
        print("stderr:", server.stderr.read().strip().replace("\n", " | "))
    finally:
        if server.poll() is None:
            server.kill()


if __name__ == "__main__":
    main(sys.argv[1])
