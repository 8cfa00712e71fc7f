#!/usr/bin/env bash
# Creates (or updates) the least-privilege RabbitMQ users of one AIaaS.Queue deployment on a plain RabbitMQ, with
# rabbitmqctl on the broker's host. Idempotent: run it again after a change of password or of these patterns.
#
#   AIAAS_BROKER_CLIENT_PASSWORD=... AIAAS_BROKER_WORKERS_PASSWORD=... AIAAS_BROKER_API_PASSWORD=... \
#     ./scripts/rabbitmq-users.sh [vhost]            # vhost defaults to /
#
# Roles (users aiaas-client, aiaas-workers, aiaas-api unless AIAAS_BROKER_*_USER says otherwise):
#   client   SDK and CLI processes. Writes only to the command exchanges (SubmitPredictJob, SubmitTrainJob,
#            SubmitBulkJob, CancelJob); reads only its own completion queue (aiaas-client-<id>, exclusive to its
#            connection), which it binds to the three completion event exchanges.
#   workers  Consumes the command queues, publishes the completion events and its own bulk-chunk messages.
#   api      Consumes the completion events (webhooks, waits, dashboard), publishes commands for HTTP submissions.
# Nobody but the workers can publish a completion event, and nobody but the clients and the API can publish a command.
# RabbitMQ checks these regular expressions against exchange and queue names: configure = declare or delete,
# write = publish to an exchange or bind into a queue/exchange, read = consume from a queue or bind from an exchange.
# MassTransit declares every exchange and queue it uses at start-up, hence the configure patterns. A consumer that throws
# publishes Fault<T> (exchange MassTransit:Fault--<T>--, bound into MassTransit:Fault), hence write and read on those.
# Transport__EndpointPrefix must be empty (the default) for these patterns; set AIAAS_ENDPOINT_PREFIX to match it otherwise.
set -euo pipefail

vhost="${1:-/}"
ctl="${RABBITMQCTL:-rabbitmqctl}"
p="${AIAAS_ENDPOINT_PREFIX:-}"

# ---- the patterns (tests/Integration.Tests/BrokerRolesTests.cs reads them from this file: keep one per line) ----
commands='AIaaS\.Queue\.Contracts:(SubmitPredictJob|SubmitTrainJob|SubmitBulkJob|CancelJob)'
events='AIaaS\.Queue\.Contracts:(PredictBatchCompleted|JobFailed|TrainJobFinished|BulkJobFinished|TrainingProgressed)'
internal='AIaaS\.Queue\.Contracts:(ScoreBulkChunk|FinalizeBulkJob)'
faults='MassTransit:Fault(--.*--)?'
client_queue='aiaas-client-[0-9a-f]{32}(_error|_skipped)?'
worker_queues='(predict-jobs|explain-jobs|job-registry|train-jobs|cancel-jobs|bulk-jobs|bulk-chunks|bulk-finalize)(_error|_skipped)?'
api_queues='(webhook-events(_error|_skipped)?|[^:]+_(dashboard|job-completions)_[a-z0-9]+)'

client_configure="^(${commands}|AIaaS\.Queue\.Contracts:(PredictBatchCompleted|JobFailed|TrainJobFinished)|${p}${client_queue})\$"
client_write="^(${commands}|${p}${client_queue})\$"
client_read="^(AIaaS\.Queue\.Contracts:(PredictBatchCompleted|JobFailed|TrainJobFinished)|${p}${client_queue})\$"
workers_configure="^(${commands}|${events}|${internal}|${faults}|${p}${worker_queues})\$"
workers_write="^(${events}|${internal}|${faults}|${p}${worker_queues})\$"
workers_read="^(${commands}|${internal}|${faults}|${p}${worker_queues})\$"
api_configure="^(${commands}|${events}|${faults}|${p}${api_queues})\$"
api_write="^(${commands}|${faults}|${p}${api_queues})\$"
api_read="^(${events}|${faults}|${p}${api_queues})\$"
# ---- end of patterns ----

ensure_user() { # name password tags configure write read
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
}

if ! "$ctl" -q list_vhosts | grep -qx -- "$vhost"; then
  "$ctl" -q add_vhost "$vhost"
fi

ensure_user "${AIAAS_BROKER_CLIENT_USER:-aiaas-client}" "${AIAAS_BROKER_CLIENT_PASSWORD:?set AIAAS_BROKER_CLIENT_PASSWORD}" "" \
  "$client_configure" "$client_write" "$client_read"
ensure_user "${AIAAS_BROKER_WORKERS_USER:-aiaas-workers}" "${AIAAS_BROKER_WORKERS_PASSWORD:?set AIAAS_BROKER_WORKERS_PASSWORD}" "" \
  "$workers_configure" "$workers_write" "$workers_read"
# monitoring: the dashboard reads queue depths from the management API.
ensure_user "${AIAAS_BROKER_API_USER:-aiaas-api}" "${AIAAS_BROKER_API_PASSWORD:?set AIAAS_BROKER_API_PASSWORD}" "monitoring" \
  "$api_configure" "$api_write" "$api_read"
