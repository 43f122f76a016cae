#!/usr/bin/env bash
# --web.config.file end to end: TLS (with and without client certificates),
# basic auth, and configs that must stop the exporter at start-up. Makes its
# own CA, server and client certificates with openssl.
#   web_config_test.sh EXPORTER FIXTURE_NODE
set -euo pipefail
EXPORTER=$1 FIXTURE=$2
source "$(dirname "$0")/lib.sh"

pki=$E2E_TMP/pki
mkdir -p "$pki"
# Two CAs: the exporter trusts clients of "ca" only.
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$1.key" 2>/dev/null; }
for ca in ca other-ca; do
  new_key "$ca"
  openssl req -x509 -new -key "$pki/$ca.key" -subj "/CN=$ca" -days 1 -out "$pki/$ca.crt"
done
issue() {  # issue NAME CA [EXTENSIONS]
  new_key "$1"
  openssl req -new -key "$pki/$1.key" -subj "/CN=$1" -out "$pki/$1.csr"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.crt" -CAkey "$pki/$2.key" \
    -CAcreateserial -days 1 -out "$pki/$1.crt" ${3:+-extfile <(printf '%s\n' "$3")} 2>/dev/null
}
issue server ca "subjectAltName=IP:127.0.0.1,DNS:localhost"
issue client ca
issue rogue other-ca

# alice / correct horse (htpasswd -nbBC 4: a low cost keeps the test fast).
# shellcheck disable=SC2016 # a bcrypt hash, not an expansion
alice_hash='$2y$04$JP6IVPhM7xqtDYvKFfkJTOc/VQWV/rTqA2XudFHeNOjkQhFusJS42'

write_config() {  # write_config NAME YAML: relative paths are relative to it
  printf '%s\n' "$2" >"$pki/$1.yml"
  echo "$pki/$1.yml"
}

https_code() {  # https_code PATH CURL_ARGS...: prints the status, 000 on failure
  local path=$1
  shift
  curl --silent --output /dev/null --write-out '%{http_code}' --max-time 20 \
    --cacert "$pki/ca.crt" "$@" "https://127.0.0.1:$EXPORTER_PORT$path" || true
}

echo "--- TLS and basic auth"
config=$(write_config tls-auth "tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  alice: '$alice_hash'")
start_exporter tls_auth --libvirt.uri "test://$FIXTURE" --web.config.file "$config"
grep -q 'msg=listening .* tls=true basic_auth=true' "$EXPORTER_LOG" || fail "listening line does not say tls/basic_auth"
body=$(curl --silent --show-error --fail --max-time 20 --cacert "$pki/ca.crt" \
  --user 'alice:correct horse' "https://127.0.0.1:$EXPORTER_PORT/metrics")
grep -q '^libvirt_domains 9$' <<<"$body" || fail "no metrics over TLS with the right credentials"
[[ $(https_code / --user 'alice:correct horse') == 200 ]] || fail "landing page refused with the right credentials"
[[ $(https_code /metrics) == 401 ]] || fail "no credentials were not answered 401"
[[ $(https_code / --user 'alice:wrong') == 401 ]] || fail "a wrong password was not answered 401"
[[ $(https_code /metrics --user 'mallory:correct horse') == 401 ]] || fail "an unknown user was not answered 401"
headers=$(curl --silent --max-time 20 --cacert "$pki/ca.crt" --dump-header - --output /dev/null \
  "https://127.0.0.1:$EXPORTER_PORT/metrics")
grep -qi '^WWW-Authenticate: Basic realm=' <<<"$headers" || fail "401 without a Basic challenge: $headers"
if curl --silent --max-time 20 "https://127.0.0.1:$EXPORTER_PORT/metrics" -o /dev/null; then
  fail "a client that does not trust the CA got through"
fi
# As Go's server does: a 400 that says why, not a closed connection.
plain=$(curl --silent --max-time 20 --user 'alice:correct horse' --write-out '%{http_code}' \
  "http://127.0.0.1:$EXPORTER_PORT/metrics" || true)
[[ $plain == *"Client sent an HTTP request to an HTTPS server."*400 ]] ||
  fail "plain HTTP on the TLS port was not answered 400: $plain"
kill -0 "$EXPORTER_PID" || fail "exporter died"

echo "--- RequireAndVerifyClientCert, TLS 1.3 only, from the environment variable"
config=$(write_config mtls "tls_server_config:
  cert_file: $pki/server.crt
  key_file: $pki/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13")
LIBVIRT_EXPORTER_WEB_CONFIG_FILE=$config start_exporter mtls --libvirt.uri "test://$FIXTURE"
client=(--cert "$pki/client.crt" --key "$pki/client.key")
[[ $(https_code /metrics "${client[@]}") == 200 ]] || fail "a client with a certificate of the CA was refused"
[[ $(https_code /metrics "${client[@]}") == 200 ]] || fail "a second client certificate connection was refused"
[[ $(https_code /metrics) == 000 ]] || fail "a client without a certificate got through"
[[ $(https_code /metrics --cert "$pki/rogue.crt" --key "$pki/rogue.key") == 000 ]] ||
  fail "a client certificate of another CA got through"
[[ $(https_code /metrics "${client[@]}" --tls-max 1.2) == 000 ]] || fail "TLS 1.2 got through min_version TLS13"
kill -0 "$EXPORTER_PID" || fail "exporter died on client certificates"

echo "--- VerifyClientCertIfGiven"
config=$(write_config optional "tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: VerifyClientCertIfGiven
  client_ca_file: ca.crt")
start_exporter optional --libvirt.uri "test://$FIXTURE" --web.config.file "$config"
[[ $(https_code /metrics) == 200 ]] || fail "a client without a certificate was refused"
[[ $(https_code /metrics "${client[@]}") == 200 ]] || fail "a client with a good certificate was refused"
[[ $(https_code /metrics --cert "$pki/rogue.crt" --key "$pki/rogue.key") == 000 ]] ||
  fail "a client certificate of another CA got through"

echo "--- broken configs stop the exporter with exit code 1 and a reason"
expect_start_failure() {  # expect_start_failure NAME YAML REGEX
  local config output code
  config=$(write_config "$1" "$2")
  set +e
  output=$(timeout 20 "$EXPORTER" --web.listen-address 127.0.0.1:0 --libvirt.uri "test://$FIXTURE" \
    --web.config.file "$config" 2>&1)
  code=$?
  set -e
  [[ $code == 1 ]] || fail "$1: exit code $code, expected 1: $output"
  grep -q 'level=error msg="cannot load the web config file"' <<<"$output" || fail "$1: unclear message: $output"
  grep -Eq -- "$3" <<<"$output" || fail "$1: message does not match $3: $output"
}
expect_start_failure yaml "tls_server_config: [" 'not valid YAML: line'
expect_start_failure unknown "tls_server_config: {cert_file: server.crt, key_file: server.key, ca: x}" \
  'unknown setting tls_server_config.ca'
expect_start_failure missing_key "tls_server_config: {cert_file: server.crt, key_file: absent.key}" \
  'tls_server_config.key_file [^ ]*/absent.key: No such file or directory'
expect_start_failure wrong_key "tls_server_config: {cert_file: server.crt, key_file: client.key}" \
  'does not belong to the certificate'
expect_start_failure bad_hash "basic_auth_users: {alice: hunter2}" 'basic_auth_users.alice is not a bcrypt hash'
expect_start_failure bad_cipher \
  "tls_server_config: {cert_file: server.crt, key_file: server.key, cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}" \
  'unknown cipher TLS_RSA_WITH_RC4_128_SHA'
set +e
output=$(timeout 20 "$EXPORTER" --web.config.file "$pki/absent.yml" 2>&1)
code=$?
set -e
if [[ $code != 1 ]] || ! grep -q "cannot read $pki/absent.yml: No such file or directory" <<<"$output"; then
  fail "a missing config file: exit $code: $output"
fi

echo "--- certificates and users change without a restart"
issue rotated ca "subjectAltName=IP:127.0.0.1,DNS:localhost"
cp "$pki/server.crt" "$pki/live.crt"
cp "$pki/server.key" "$pki/live.key"
config=$(write_config live "tls_server_config:
  cert_file: live.crt
  key_file: live.key
basic_auth_users:
  alice: '$alice_hash'")
start_exporter live --libvirt.uri "test://$FIXTURE" --web.config.file "$config"
served_serial() {
  openssl s_client -connect "127.0.0.1:$EXPORTER_PORT" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -serial
}
[[ $(served_serial) == $(openssl x509 -noout -serial -in "$pki/server.crt") ]] || fail "not serving the first certificate"
# As cert-manager or an ACME client would: new files moved into place.
cp "$pki/rotated.key" "$pki/live.key.new" && mv "$pki/live.key.new" "$pki/live.key"
cp "$pki/rotated.crt" "$pki/live.crt.new" && mv "$pki/live.crt.new" "$pki/live.crt"
[[ $(served_serial) == $(openssl x509 -noout -serial -in "$pki/rotated.crt") ]] ||
  fail "the rotated certificate was not served on the next connection"
[[ $(https_code /metrics --user 'alice:correct horse') == 200 ]] || fail "alice refused after the rotation"
# Remove alice, add bob (the same hash: "correct horse").
write_config live "tls_server_config:
  cert_file: live.crt
  key_file: live.key
basic_auth_users:
  bob: '$alice_hash'" >/dev/null
[[ $(https_code /metrics --user 'alice:correct horse') == 401 ]] || fail "a removed user was still served"
[[ $(https_code /metrics --user 'bob:correct horse') == 200 ]] || fail "an added user was refused"
# A broken file keeps the last good one in force and is logged once.
write_config live "basic_auth_users: [" >/dev/null
for _ in 1 2 3; do
  [[ $(https_code /metrics --user 'bob:correct horse') == 200 ]] || fail "a broken file replaced the good one"
done
[[ $(grep -c 'cannot reload the web config file' "$EXPORTER_LOG") == 1 ]] || fail "the broken file was not logged exactly once"

echo "--- an empty config file means plain HTTP"
start_exporter empty --libvirt.uri "test://$FIXTURE" --web.config.file "$(write_config empty "")"
[[ $(scrape /metrics | grep -c '^libvirt_domains 9$') == 1 ]] || fail "plain HTTP with an empty config file"
echo "PASS: web config"
