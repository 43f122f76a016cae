#!/usr/bin/env python3
"""Every web config of exporter-toolkit's own tests (0.8.2 in Debian 12, 0.14 in Debian 13), run through the
exporter, compared with what the toolkit's tests say must happen
(web/tls_config_test.go: TestYAMLFiles, TestServerBehaviour, TestUsers).

    toolkit_parity.py EXPORTER FIXTURE_NODE TESTDATA_DIR

TESTDATA_DIR is .../exporter-toolkit/web/testdata from Debian's
golang-github-prometheus-exporter-toolkit-dev (toolkit_parity.sh fetches
it). A "bad" file must stop the exporter with exit code 1 at start-up (the
toolkit's ListenAndServe returns its error there); a good one must start and
then answer the toolkit's clients as its tests expect. Clients are curl
(ciphers, curves, TLS versions, client certificates, basic auth). Every
exporter listens on 127.0.0.1 and is stopped by PID; each check is bounded.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

EXPORTER, FIXTURE, TESTDATA = sys.argv[1:4]

# What the toolkit's tests expect of each file at start-up.
BAD = [
    "web_config_junk.yml",                      # YAML error
    "web_config_junk_key.yml",                  # YAML error (unknown key)
    "web_config_noAuth_certPath_empty.bad.yml",
    "web_config_noAuth_keyPath_empty.bad.yml",
    "web_config_noAuth_certPath_keyPath_empty.bad.yml",
    "web_config_noAuth_certPath_invalid.bad.yml",
    "web_config_noAuth_keyPath_invalid.bad.yml",
    "web_config_noAuth_certPath_keyPath_invalid.bad.yml",
    "web_config_noAuth.bad.yml",                # client CA without a policy
    "web_config_auth_clientCAs_invalid.bad.yml",
    "web_config_auth_user_list_invalid.bad.yml",
    "web_config_noAuth_inventedCiphers.bad.yml",
    "web_config_noAuth_inventedCurves.bad.yml",
    "web_config_noAuth_wrongTLSVersion.bad.yml",
    "web_config_noAuth_noHTTP2Cipher.bad.yml",
    "web_config_headers_content_type_options.bad.yml",
    "web_config_headers_frame_options.bad.yml",
    "web_config_headers_extra_header.bad.yml",
    "somefile",                                 # no such file
]



def configured_cipher(name):
    """The one cipher suite a test file configures, by OpenSSL's name for curl. The file changed
    between the toolkit's versions: TLS_RSA_WITH_AES_128_CBC_SHA in 0.8.2 (Debian 12),
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 in 0.14 (Debian 13)."""
    openssl_names = {
        "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    }
    with open(os.path.join(TESTDATA, name), encoding="utf-8") as config:
        suites = re.findall(r"^\s*-\s*(TLS_\w+)\s*$", config.read(), re.M)
    if len(suites) != 1 or suites[0] not in openssl_names:
        sys.exit(f"{name}: expected one cipher suite of {sorted(openssl_names)}, got {suites}")
    return openssl_names[suites[0]]


NO_HTTP2_CIPHER = configured_cipher("web_config_noAuth_noHTTP2.good.yml")

# (file, [(description, curl arguments, expected outcome)]). Outcomes:
# an HTTP status (int), "tls-fail" (no answer: the handshake or the
# connection failed), "https-400" (Go's answer to plain HTTP on a TLS port).
TLS = ["--insecure"]  # the toolkit's clients trust its test CA; the server is under test
CLIENT = ["--cert", "client_selfsigned.pem", "--key", "client_selfsigned.key"]
GOOD = [
    ("web_config_empty.yml", [
        ("default client", ["http"], 200),
        ("TLS client", ["https"] + TLS, "tls-fail"),
    ]),
    ("web_config_noAuth.good.yml", [
        ("default client", ["http"], "https-400"),
        ("TLS client", ["https"] + TLS, 200),
        ("TLS 1.1 client", ["https"] + TLS + ["--tlsv1.1", "--tls-max", "1.1"], "tls-fail"),
    ]),
    ("web_config_noAuth_allCiphers.good.yml", [
        ("TLS client", ["https"] + TLS, 200),
    ]),
    ("web_config_noAuth_someCiphers.good.yml", [
        ("client with its cipher", ["https"] + TLS + ["--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"], 200),
        ("client without a common cipher",
         ["https"] + TLS + ["--ciphers", "ECDHE-RSA-AES256-SHA", "--tls-max", "1.2"], "tls-fail"),
        ("client with several ciphers",
         ["https"] + TLS + ["--ciphers", "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"], 200),
    ]),
    ("web_config_noAuth_someCiphers_noOrder.good.yml", [
        ("client with several ciphers",
         ["https"] + TLS + ["--ciphers", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"], 200),
    ]),
    ("web_config_noAuth_allCurves.good.yml", [
        ("TLS client", ["https"] + TLS, 200),
    ]),
    ("web_config_noAuth_someCurves.good.yml", [
        ("client with P-521", ["https"] + TLS + ["--curves", "P-521"], 200),
        ("client with P-384 only", ["https"] + TLS + ["--curves", "P-384"], "tls-fail"),
    ]),
    ("web_config_noAuth_noHTTP2.good.yml", [
        (f"client with {NO_HTTP2_CIPHER}",
         ["https"] + TLS + ["--ciphers", NO_HTTP2_CIPHER, "--tls-max", "1.2"], 200),
    ]),
    ("tls_config_noAuth.requireanyclientcert.good.yml", [
        ("client without a certificate", ["https"] + TLS, "tls-fail"),
        ("client with a self-signed certificate", ["https"] + TLS + CLIENT, 200),
    ]),
    ("tls_config_noAuth.requireandverifyclientcert.good.yml", [
        ("client without a certificate", ["https"] + TLS, "tls-fail"),
        ("client with the trusted certificate", ["https"] + TLS + CLIENT, 200),
        ("client with another certificate",
         ["https"] + TLS + ["--cert", "client2_selfsigned.pem", "--key", "client2_selfsigned.key"],
         "tls-fail"),
    ]),
    # Not in the toolkit's tables, but its code accepts both (Go verifies
    # against the system's roots when no client CA file is named), which is
    # what issue 14 asks for: a self-signed client is refused.
    ("web_config_noAuth.good.blocking.yml", [
        ("client without a certificate", ["https"] + TLS, "tls-fail"),
        ("client with a self-signed certificate", ["https"] + TLS + CLIENT, "tls-fail"),
    ]),
    ("web_config_auth_clientCAs_missing.bad.yml", [
        ("client with a self-signed certificate", ["https"] + TLS + CLIENT, "tls-fail"),
    ]),
    ("web_config_headers.good.yml", [
        ("default client gets the headers", ["http", "headers"], 200),
    ]),
    ("web_config_users_noTLS.good.yml", [
        ("without basic auth", ["http"], 401),
        ("with correct basic auth", ["http", "--user", "dave:dave123"], 200),
    ]),
    ("web_config_users.good.yml", [
        ("without basic auth and TLS", ["https"] + TLS, 401),
        ("with correct basic auth and TLS", ["https"] + TLS + ["--user", "dave:dave123"], 200),
        ("with another correct basic auth and TLS", ["https"] + TLS + ["--user", "carol:carol123"], 200),
        ("with bad password and TLS", ["https"] + TLS + ["--user", "dave:bad"], 401),
        ("with bad username and TLS", ["https"] + TLS + ["--user", "nonexistent:nonexistent"], 401),
    ]),
]

HEADERS = {
    "x-frame-options": "deny",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-xss-protection": "1",
    "content-security-policy": "default-src 'self' *.test.example.net",
}

failures = []


def report(name, ok, detail):
    print("%s  %-75s %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)
    if not ok:
        failures.append(name)


def start(config, log_path):
    log = open(log_path, "w")
    proc = subprocess.Popen([EXPORTER, "--web.listen-address", "127.0.0.1:0",
                             "--libvirt.uri", "test://" + FIXTURE,
                             "--web.config.file", config],
                            stdout=log, stderr=subprocess.STDOUT, cwd=TESTDATA)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open(log_path) as f:
            text = f.read()
        match = re.search(r"msg=listening address=127\.0\.0\.1:(\d+)", text)
        if match:
            return proc, int(match.group(1)), text
        if proc.poll() is not None:
            return proc, None, text
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    return proc, None, "did not start within 20 s"


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def outcome(port, args, work):
    scheme, args = args[0], args[1:]
    want_headers = bool(args) and args[0] == "headers"
    if want_headers:
        args = args[1:]
    headers_file = os.path.join(work, "headers")
    result = subprocess.run(
        ["curl", "--silent", "--max-time", "20", "--output", os.path.join(work, "body"),
         "--dump-header", headers_file, "--write-out", "%{http_code}"] + args
        + ["%s://127.0.0.1:%d/metrics" % (scheme, port)],
        cwd=TESTDATA, capture_output=True, text=True, timeout=60)
    code = result.stdout.strip()
    if code in ("", "000"):
        return "tls-fail"
    with open(os.path.join(work, "body"), "rb") as f:
        body = f.read()
    if code == "400" and b"Client sent an HTTP request to an HTTPS server." in body:
        return "https-400"
    if want_headers:
        with open(headers_file) as f:
            got = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in f if ":" in line)}
        for name, value in HEADERS.items():
            if got.get(name) != value:
                return "header %s = %r" % (name, got.get(name))
    return int(code)


def main():
    work = tempfile.mkdtemp(prefix="lme-toolkit.")
    try:
        for name in BAD:
            proc, port, text = start(os.path.join(TESTDATA, name), os.path.join(work, "log"))
            if port is not None:
                stop(proc)
            code = proc.returncode
            reason = re.search(r' err=(.*)$', text.strip(), re.M)
            report("%s: refused at start-up" % name, port is None and code == 1,
                   "exit %s: %s" % (code, reason.group(1)[:140] if reason else text[-140:]))
        for name, checks in GOOD:
            proc, port, text = start(os.path.join(TESTDATA, name), os.path.join(work, "log"))
            if port is None:
                report("%s: starts" % name, False, text.strip()[-300:])
                continue
            try:
                for description, args, expected in checks:
                    got = outcome(port, args, work)
                    report("%s: %s" % (name, description), got == expected,
                           "got %s, toolkit expects %s" % (got, expected))
            finally:
                stop(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = len(BAD) + sum(len(c) for _, c in GOOD)
    print("%d passed, %d failed" % (total - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
