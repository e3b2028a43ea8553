#!/usr/bin/env bash
# Offline mode, proven: `switchyard serve` with `offline = true` runs in a network namespace
# whose only interface is loopback (no route out: nothing outside the machine can be
# reached), and answers chat and embeddings from the embedded engine. A config naming a cloud
# provider is refused at start. Needs root (unshare) and the default models in
# $SWITCHYARD_HOME (scripts/test pulls them first).
set -euo pipefail
bin=${SWITCHYARD_BIN:?set SWITCHYARD_BIN to the switchyard binary}
home=${SWITCHYARD_HOME:-$HOME/.switchyard}
chat_model=$(ls "$home"/models/qwen2.5-coder-0.5b-instruct/*.gguf | head -n1)
embed_model="$home/models/all-minilm-l6-v2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/offline.toml" <<TOML
offline = true
listen = "127.0.0.1:4517"

[[providers]]
id = "chat-engine"
type = "local"
path = "$chat_model"
parallel = 1
context_size = 1024

[[providers]]
id = "embed-engine"
type = "local"
path = "$embed_model"

[[models]]
name = "chat"
route = [{ provider = "chat-engine", model = "qwen" }]

[[models]]
name = "embed"
route = [{ provider = "embed-engine", model = "minilm" }]
TOML

cat > "$work/cloud.toml" <<TOML
offline = true
[[providers]]
id = "openai"
type = "openai"
api_key = "sk-test"
[[models]]
name = "gpt"
route = [{ provider = "openai", model = "gpt-4o-mini" }]
TOML

export SWITCHYARD_HOME="$work/home" SWITCHYARD_BIN="$bin" WORK="$work"
unshare --net bash -euo pipefail -c '
  ip link set lo up
  # No route out: an outside address cannot even be attempted.
  if ip route get 1.1.1.1 >/dev/null 2>&1; then echo "FAIL: the namespace has a route out"; exit 1; fi
  if "$SWITCHYARD_BIN" serve --config "$WORK/cloud.toml" >"$WORK/cloud.log" 2>&1; then
    echo "FAIL: offline mode accepted a cloud provider"; exit 1
  fi
  grep -q "offline = true" "$WORK/cloud.log" || { cat "$WORK/cloud.log"; exit 1; }
  "$SWITCHYARD_BIN" serve --config "$WORK/offline.toml" >"$WORK/serve.log" 2>&1 &
  pid=$!
  trap "kill $pid 2>/dev/null || true" EXIT
  for _ in $(seq 1 300); do
    curl -fsS http://127.0.0.1:4517/healthz >/dev/null 2>&1 && break
    sleep 0.2
  done
  answer=$(curl -fsS http://127.0.0.1:4517/v1/chat/completions -H "content-type: application/json" \
    -d "{\"model\":\"chat\",\"max_tokens\":16,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello.\"}]}")
  echo "$answer" | python3 -c "import json,sys; a=json.load(sys.stdin); t=a[\"choices\"][0][\"message\"][\"content\"]; assert t.strip(), a; print(\"offline chat answered:\", repr(t))"
  vectors=$(curl -fsS http://127.0.0.1:4517/v1/embeddings -H "content-type: application/json" \
    -d "{\"model\":\"embed\",\"input\":[\"offline\"]}")
  echo "$vectors" | python3 -c "import json,sys; a=json.load(sys.stdin); assert len(a[\"data\"][0][\"embedding\"]) == 384, a; print(\"offline embeddings answered: 384 dimensions\")"
  # A request that would need a URL fetched is refused, not attempted.
  status=$(curl -s -o "$WORK/url.json" -w "%{http_code}" http://127.0.0.1:4517/v1/chat/completions -H "content-type: application/json" \
    -d "{\"model\":\"chat\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/cat.png\"}}]}]}")
  [ "$status" -ge 400 ] || { echo "FAIL: a URL fetch was attempted offline ($status)"; cat "$WORK/url.json"; exit 1; }
  kill -TERM $pid; wait $pid || true
'
echo "offline mode: served from the embedded engine with no route out"
