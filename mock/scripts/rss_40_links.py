#!/usr/bin/env python3
"""Measures the emulator's memory after 40 links completed with ~1.9 MB results each (issue 13).

Starts `passage mock` (the binary given as argv[1]) on a free port, with a local webhook receiver
answering 200, creates 40 `ubereats orderHistory/read` links with that webhookUrl, completes each
through the control API with a ~1.9 MB result, waits for the deliveries, then prints the mock's
VmRSS / VmHWM (from /proc/PID/status) and the size of `GET /sandbox/webhooks`.

    python3 mock/scripts/rss_40_links.py target/debug/passage [LINKS]

LINKS (default 40) shows whether memory levels off as links are evicted.
"""
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request

KEY = "psg_test_mock"


def rss(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields["VmRSS"], fields["VmHWM"]


def request(method, url, body=None, key=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=60) as answer:
        return answer.read()


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/webhook"
    # The port is chosen by this script: the mock must be told one (it prints none).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mock = subprocess.Popen([binary, "mock", "--addr", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                request("GET", f"{base}/v1/providers", key=KEY)
                break
            except OSError:
                time.sleep(0.05)
        print("start:", "VmRSS %s, VmHWM %s" % rss(mock.pid))
        orders = [{"id": f"order_{i:06d}", "restaurant": "Restaurant number %d" % i,
                   "total": i * 1.25, "items": ["item a", "item b", "item c"]} for i in range(16000)]
        result = {"orderCount": len(orders), "orders": orders}
        size = len(json.dumps(result))
        for i in range(count):
            link = json.loads(request("POST", f"{base}/v1/links", {
                "integrationId": "ubereats",
                "operations": [{"resource": "orderHistory", "action": "read"}],
                "webhookUrl": hook}, key=KEY))
            request("POST", f"{base}/sandbox/links/{link['linkId']}/complete", {"result": result})
        time.sleep(3)
        log = request("GET", f"{base}/sandbox/webhooks")
        print(f"after {count} links with {size / 1e6:.2f} MB results:",
              "VmRSS %s, VmHWM %s" % rss(mock.pid),
              f"; GET /sandbox/webhooks = {len(log) / 1e6:.1f} MB")
    finally:
        mock.terminate()
        mock.wait()
        receiver.shutdown()


if __name__ == "__main__":
    main()
