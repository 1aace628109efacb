#!/usr/bin/env python3
"""`qbench-native serve` as a process: --port 0 prints the URL it chose, the server answers,
SIGTERM and SIGINT stop it with status 0, QBENCH_TOKEN enables uploads, bad flags exit 2, and
a host other than loopback prints a warning."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

QB = sys.argv[1]
failures = 0


def check(name, cond, detail=""):
    global failures
    if cond:
        print(f"ok   {name}")
    else:
        failures += 1
        print(f"FAIL {name} {detail}")


def start(tmp, *extra, env=None):
    args = [QB, "serve", "--port", "0", "--site", os.path.join(tmp, "no-site"), "--data", os.path.join(tmp, "data"),
            "--log-dir", os.path.join(tmp, "logs"), *extra]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline().strip()  # "qbench serve: http://127.0.0.1:PORT/"
    return p, line


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post(url, body, headers=None):
    req = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def stop(p, sig):
    p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, err
    return p.returncode, err


with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "data"))
    with open(os.path.join(tmp, "data", "hardware.json"), "w") as f:
        f.write('{"hardware": []}\n')
    env = {k: v for k, v in os.environ.items() if k != "QBENCH_TOKEN"}

    p, line = start(tmp, env=env)
    check("prints its URL", line.startswith("qbench serve: http://127.0.0.1:") and line.endswith("/"), repr(line))
    url = line.split(" ", 2)[-1]
    status, body = get(url + "api/health")
    health = json.loads(body) if status == 200 else {}
    check("health answers", status == 200 and health.get("status") == "ok", body)
    check("uploads disabled without a token", health.get("uploads_enabled") is False, body)
    status, body = get(url)
    check("placeholder page when the site is missing", status == 200 and "not built" in body, body[:200])
    status, body = get(url + "data/hardware.json")
    check("data served", status == 200 and json.loads(body) == {"hardware": []}, body)
    status, body = post(url + "api/results", "{}", {"Authorization": "Bearer x"})
    check("upload refused, says how to enable", status == 403 and "QBENCH_TOKEN" in body, body)
    status, body = post(url + "api/events", '{"type": "cli-test"}')
    check("event logged", status == 200, body)
    rc, err = stop(p, signal.SIGTERM)
    check("SIGTERM stops with status 0", rc == 0, f"rc={rc} {err}")
    check("request lines on stderr", "GET /api/health 200" in err, err)
    check("says it stopped", "stopped (SIGTERM)" in err, err)
    with open(os.path.join(tmp, "logs", "events.log")) as f:
        check("events.log written", json.loads(f.readline())["type"] == "cli-test")

    p, line = start(tmp, "--quiet", env={**env, "QBENCH_TOKEN": "env-token"})
    url = line.split(" ", 2)[-1]
    status, body = get(url + "api/health")
    check("QBENCH_TOKEN enables uploads", status == 200 and json.loads(body).get("uploads_enabled") is True, body)
    rc, err = stop(p, signal.SIGINT)
    check("SIGINT stops with status 0", rc == 0, f"rc={rc} {err}")
    check("--quiet: no request lines", "GET /api/health" not in err, err)

    p, line = start(tmp, "--host", "0.0.0.0", "--quiet", env=env)
    rc, err = stop(p, signal.SIGTERM)
    check("--host 0.0.0.0 warns", rc == 0 and "warning" in err and "0.0.0.0" in err, err)

    for bad in (["--port", "70000"], ["--port", "x"], ["--nope", "1"], ["--cors-origin", "docs.example.com"],
                ["--cors-origin", "https://a.example/path"], ["--max-upload-bytes", "0"], ["--token", ""], ["stray"],
                ["--site"]):
        r = subprocess.run([QB, "serve", *bad], capture_output=True, text=True, timeout=20)
        check(f"bad flags {bad} exit 2", r.returncode == 2 and r.stderr.count("\n") == 1, f"rc={r.returncode} {r.stderr}")

sys.exit(1 if failures else 0)
