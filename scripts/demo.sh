#!/usr/bin/env bash
# The main job on local files, no server, no network: make worker keys, produce a task's artifacts, generate and
# sign its chain-of-trust document in both formats, verify it (and let GnuPG verify it too when installed), then
# show what a verifier says when an artifact is tampered with.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cot() { node "$here/bin/cot.js" "$@"; }
out="${1:-$(mktemp -d "${TMPDIR:-/tmp}/cot-demo.XXXXXX")}"
mkdir -p "$out"
cd "$out"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. worker keys (private keys mode 0600)"
rm -f ed25519.key ed25519.pub openpgp.key openpgp.pub
cot keys new --type ed25519 --out ed25519.key --pub-out ed25519.pub >/dev/null
cot keys new --type openpgp --curve ed25519 --user-id "demo docker-worker <docker-worker@example.com>" --out openpgp.key --pub-out openpgp.pub >/dev/null
ls -l ed25519.key ed25519.pub openpgp.key openpgp.pub

step "2. a task and the artifacts it produced"
cat > task.json <<'JSON'
{
  "provisionerId": "releng-3",
  "workerType": "b-linux",
  "schedulerId": "gecko-level-3",
  "taskGroupId": "KRa-CdtXTda3i7MQ5snK1A",
  "dependencies": ["KRa-CdtXTda3i7MQ5snK1A"],
  "scopes": ["queue:route:index.gecko.v2.build"],
  "created": "2026-11-25T10:00:00.000Z",
  "deadline": "2026-11-26T10:00:00.000Z",
  "expires": "2027-11-25T10:00:00.000Z",
  "payload": {"image": "ubuntu:24.04", "command": ["make", "package"], "maxRunTime": 3600,
              "features": {"chainOfTrust": true}},
  "metadata": {"name": "build-linux64/opt", "description": "Linux64 opt build", "owner": "release@example.com",
               "source": "https://hg.example.com/releases/file/tip/.taskcluster.yml"}
}
JSON
rm -rf artifacts && mkdir -p artifacts/public/build artifacts/public/logs
head -c 5000000 /dev/urandom > artifacts/public/build/target.tar.gz
printf 'Release notes: built by the demo\n' > artifacts/public/build/notes.txt
printf '[task] make package\n[task] exit code: 0\n' > artifacts/public/logs/certified.log
find artifacts -type f | sort

step "3. cot generate: hash, build the v1 document, sign with both keys (the 2019 transition layout)"
cot generate --task task.json --task-id LnshJjNXTfeBlPNrAzyy9w --run-id 0 --worker-group us-east-1 \
  --worker-id i-0123456789abcdef0 --worker-type b-linux --artifacts artifacts --key ed25519.key --key openpgp.key
echo "--- public/chain-of-trust.json (first lines) ---"
head -n 12 artifacts/public/chain-of-trust.json

step "4. cot verify-link: signature first, then the verified JSON, the ids and every artifact's hash"
cot verify-link artifacts/public/chain-of-trust.json --key ed25519.pub --artifacts artifacts --task-id LnshJjNXTfeBlPNrAzyy9w --run-id 0
cot verify-link artifacts/public/chainOfTrust.json.asc --key openpgp.pub --artifacts artifacts

if command -v gpg >/dev/null 2>&1; then
  step "5. GnuPG verifies the OpenPGP file too"
  export GNUPGHOME="$out/gnupg"; rm -rf "$GNUPGHOME"; mkdir -m 700 "$GNUPGHOME"
  gpg --batch -q --import openpgp.pub
  gpg --batch --verify artifacts/public/chainOfTrust.json.asc 2>&1 | grep -E 'Good signature|BAD' || true
fi

step "6. a tampered artifact is refused (exit code 1, one line naming the reason)"
printf 'Release notes: EVIL\n' > artifacts/public/build/notes.txt
set +e
cot verify-link artifacts/public/chain-of-trust.json --key ed25519.pub --artifacts artifacts
code=$?
set -e
echo "exit code: $code"
[ "$code" -eq 1 ] || { echo "demo: expected the tampered artifact to be refused" >&2; exit 1; }

step "done: everything is in $out"
