#!/usr/bin/env bash
# Creates (or updates) the least-privilege RabbitMQ users of one AIaaS.Queue deployment on a plain RabbitMQ, with
# rabbitmqctl on the broker's host. Idempotent: run it again after a change of password or of these patterns.
#
#   AIAAS_BROKER_CLIENT_PASSWORD=... AIAAS_BROKER_WORKERS_PASSWORD=... AIAAS_BROKER_API_PASSWORD=... \
#     ./scripts/rabbitmq-users.sh [vhost]            # vhost defaults to /
#   AIAAS_BROKER_TENANT_PASSWORD=... ./scripts/rabbitmq-users.sh --tenant <tenant id> [vhost]
#
# Roles (users aiaas-client, aiaas-workers, aiaas-api unless AIAAS_BROKER_*_USER says otherwise):
#   client   SDK and CLI processes of the default tenant (the open deployment). Writes only to the command exchanges
#            (SubmitPredictJob, JobsQueued, SubmitTrainJob, SubmitBulkJob, CancelJob); reads only its own completion queue
#            (aiaas-client-<tenant>-<id>, exclusive to its connection), which it binds to the clients' event exchange
#            aiaas.client-events with its tenant as key: RabbitMQ's topic permissions let this user bind only "default".
#   tenant   (--tenant T, user aiaas-client-T) the client role of one tenant: its own queues (aiaas-client-T-<id>) only,
#            and aiaas.client-events only with the key T, so the broker itself never delivers it another tenant's events.
#            Give every tenant whose events others must not hear a user of its own.
#   workers  Consumes the command queues, publishes the completion events and its own bulk-chunk messages.
#   api      Consumes the completion events (webhooks, waits, dashboard), publishes commands for HTTP submissions, and
#            binds the completion events' exchanges into aiaas.client-events (a client must not: see below).
# Nobody but the workers can publish a completion event, and nobody but the clients and the API can publish a command.
# Completion events are published with their tenant as routing key to fanout exchanges that only the workers and the API
# may read: read on them would let a client bind its queue there and hear every tenant.
# RabbitMQ checks these regular expressions against exchange and queue names: configure = declare or delete,
# write = publish to an exchange or bind into a queue/exchange, read = consume from a queue or bind from an exchange.
# Topic permissions (set_topic_permissions) check routing keys on topic exchanges: write when publishing, read when binding.
# MassTransit declares every exchange and queue it uses at start-up, hence the configure patterns; RabbitMQ has no
# permission to declare without the right to delete, so a client may also delete the command exchanges and
# aiaas.client-events (the next declaration, by any process, restores them, but not the bindings the API made: restart the
# API after such an outage). A consumer that throws publishes Fault<T> (exchange MassTransit:Fault--<T>--, bound into
# MassTransit:Fault), hence write and read on those.
# Transport__EndpointPrefix must be empty (the default) for these patterns; set AIAAS_ENDPOINT_PREFIX to match it otherwise.
set -euo pipefail

tenant=""
if [ "${1:-}" = "--tenant" ]; then
  tenant="${2:?--tenant takes a tenant id}"
  shift 2
fi
vhost="${1:-/}"
ctl="${RABBITMQCTL:-rabbitmqctl}"
p="${AIAAS_ENDPOINT_PREFIX:-}"

# ---- the patterns (tests/Integration.Tests/BrokerRolesTests.cs reads them from this file: keep one per line) ----
commands='AIaaS\.Queue\.Contracts:(SubmitPredictJob|JobsQueued|SubmitTrainJob|SubmitBulkJob|CancelJob)'
events='AIaaS\.Queue\.Contracts:(PredictBatchCompleted|JobFailed|TrainJobFinished|BulkJobFinished|TrainingProgressed)'
internal='AIaaS\.Queue\.Contracts:(ScoreBulkChunk|FinalizeBulkJob)'
faults='MassTransit:Fault(--.*--)?'
client_events='aiaas\.client-events'
t="${tenant:-default}"
client_queue="aiaas-client-default-[0-9a-f]{32}(_error|_skipped)?"
tenant_queue="aiaas-client-${t}-[0-9a-f]{32}(_error|_skipped)?"
worker_queues='(predict-jobs|explain-jobs|job-registry|train-jobs|cancel-jobs|bulk-jobs|bulk-chunks|bulk-finalize)(_error|_skipped)?'
api_queues='(webhook-events(_error|_skipped)?|[^:]+_(dashboard|job-completions)_[a-z0-9]+)'

client_configure="^(${commands}|${client_events}|${p}${client_queue})\$"
client_write="^(${commands}|${p}${client_queue})\$"
client_read="^(${client_events}|${p}${client_queue})\$"
client_topic_read='^default$'
tenant_configure="^(${commands}|${client_events}|${p}${tenant_queue})\$"
tenant_write="^(${commands}|${p}${tenant_queue})\$"
tenant_read="^(${client_events}|${p}${tenant_queue})\$"
tenant_topic_read="^${t}\$"
workers_configure="^(${commands}|${events}|${internal}|${faults}|${p}${worker_queues})\$"
workers_write="^(${events}|${internal}|${faults}|${p}${worker_queues})\$"
workers_read="^(${commands}|${internal}|${faults}|${p}${worker_queues})\$"
api_configure="^(${commands}|${events}|${client_events}|${faults}|${p}${api_queues})\$"
api_write="^(${commands}|${client_events}|${faults}|${p}${api_queues})\$"
api_read="^(${events}|${client_events}|${faults}|${p}${api_queues})\$"
# ---- end of patterns ----

ensure_user() { # name password tags configure write read [topic read on aiaas.client-events]
  local name="$1" password="$2" tags="$3"
  if "$ctl" -q list_users | awk '{print $1}' | grep -qx -- "$name"; then
    "$ctl" -q change_password "$name" "$password"
  else
    "$ctl" -q add_user "$name" "$password"
  fi
  "$ctl" -q set_user_tags "$name" $tags
  "$ctl" -q set_permissions -p "$vhost" "$name" "$4" "$5" "$6"
  echo "$name: configure $4"
  echo "$name: write     $5"
  echo "$name: read      $6"
  if [ -n "${7:-}" ]; then
    # Publishing to aiaas.client-events is refused by the write pattern already; '^$' says so for the topic check too.
    "$ctl" -q set_topic_permissions -p "$vhost" "$name" aiaas.client-events '^$' "$7"
    echo "$name: binds aiaas.client-events with keys $7"
  fi
}

if ! "$ctl" -q list_vhosts | grep -qx -- "$vhost"; then
  "$ctl" -q add_vhost "$vhost"
fi

if [ -n "$tenant" ]; then
  case "$tenant" in
    *[!a-z0-9-]* | -* | "") echo "not a tenant id: $tenant" >&2; exit 2 ;;
  esac
  ensure_user "aiaas-client-$tenant" "${AIAAS_BROKER_TENANT_PASSWORD:?set AIAAS_BROKER_TENANT_PASSWORD}" "" \
    "$tenant_configure" "$tenant_write" "$tenant_read" "$tenant_topic_read"
  exit 0
fi

ensure_user "${AIAAS_BROKER_CLIENT_USER:-aiaas-client}" "${AIAAS_BROKER_CLIENT_PASSWORD:?set AIAAS_BROKER_CLIENT_PASSWORD}" "" \
  "$client_configure" "$client_write" "$client_read" "$client_topic_read"
ensure_user "${AIAAS_BROKER_WORKERS_USER:-aiaas-workers}" "${AIAAS_BROKER_WORKERS_PASSWORD:?set AIAAS_BROKER_WORKERS_PASSWORD}" "" \
  "$workers_configure" "$workers_write" "$workers_read"
# monitoring: the dashboard reads queue depths from the management API.
ensure_user "${AIAAS_BROKER_API_USER:-aiaas-api}" "${AIAAS_BROKER_API_PASSWORD:?set AIAAS_BROKER_API_PASSWORD}" "monitoring" \
  "$api_configure" "$api_write" "$api_read"
