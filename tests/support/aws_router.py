"""One AWS endpoint on loopback for AWS-mode tests (stdlib only).

Lambda's data plane -- Invoke (`/2015-03-31/functions/NAME/invocations`) and
GetAccountSettings (`/2016-08-19/account-settings`), which moto_server cannot
serve without Docker -- goes to the project's own Lambda stand-in of the
request's region (read from the SigV4 credential scope); every other request
(S3, CloudFormation, IAM, STS, Lambda's control plane) goes to moto_server.
Requests pass through unchanged, Host header and signature included.

    python aws_router.py PORT MOTO_URL REGION=URL... [--date-offset SECONDS]

--date-offset shifts the Date header of every answer, as if this machine's
clock were that far from AWS's (the doctor's clock check). Prints `ready`.
"""

import email.utils
import http.client
import re
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
MOTO = urllib.parse.urlsplit(sys.argv[2])
LAMBDAS = {}
OFFSET = 0.0
args = sys.argv[3:]
while args:
    arg = args.pop(0)
    if arg == "--date-offset":
        OFFSET = float(args.pop(0))
    else:
        region, url = arg.split("=", 1)
        LAMBDAS[region] = urllib.parse.urlsplit(url)

DATA_PLANE = re.compile(r"^/(2015-03-31/functions/[^/]+/invocations|2016-08-19/account-settings)")
SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/lambda/")


class Router(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        upstream = MOTO
        path = urllib.parse.urlsplit(self.path).path
        if DATA_PLANE.match(path):
            scope = SCOPE.search(self.headers.get("Authorization", ""))
            if scope and scope.group(1) in LAMBDAS:
                upstream = LAMBDAS[scope.group(1)]
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=300)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        data = answer.read()
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() in ("connection", "transfer-encoding", "content-length", "date", "server"):
                continue
            self.send_header(name, value)
        self.send_header("Date", email.utils.formatdate(time.time() + OFFSET, usegmt=True))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = forward


server = ThreadingHTTPServer(("127.0.0.1", PORT), Router)
print("ready", flush=True)
server.serve_forever()
