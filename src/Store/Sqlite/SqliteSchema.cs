using System.Globalization;
using AIaaS.Queue.Domain;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store;

/// <summary>
/// The embedded store's schema as ordered migrations. The file's <c>PRAGMA user_version</c> is the number of migrations
/// it has had; opening a file runs the ones after it, and sets the version, in the caller's write transaction, so a file
/// is never half upgraded and two processes opening one file upgrade it once. A migration is never changed once released:
/// a change to the schema is a new one at the end of <see cref="Migrations"/>.
/// </summary>
internal static class SqliteSchema
{
    /// <summary>Step <c>i</c> takes a file from version <c>i</c> to <c>i + 1</c>. Tables and indexes are made with
    /// <c>IF NOT EXISTS</c>, so that files from before schema versions, which may hold some of a later step's tables
    /// already (see <see cref="VersionOfUnversionedFile"/>), take every step that they need.</summary>
    internal static readonly IReadOnlyList<string> Migrations =
    [
        // 1: predict jobs, and model versions with their files as 1 MiB chunks.
        """
        CREATE TABLE IF NOT EXISTS jobs (
            id            BLOB    NOT NULL PRIMARY KEY, -- 16 bytes, RFC 4122 order (see JobCursor)
            kind          TEXT    NOT NULL,
            model         TEXT    NOT NULL,
            model_version INTEGER NULL,
            status        TEXT    NOT NULL,
            submitted_at  INTEGER NOT NULL,             -- UTC ticks, exact and ordered
            started_at    INTEGER NULL,
            completed_at  INTEGER NULL,
            device        TEXT    NULL,
            batch_size    INTEGER NULL,
            batch_id      TEXT    NULL,
            worker_id     TEXT    NULL,
            error         TEXT    NULL,
            outputs       TEXT    NULL                  -- JSON: { name: { shape, data } }
        );
        CREATE INDEX IF NOT EXISTS ix_jobs_page   ON jobs (submitted_at DESC, id DESC);
        CREATE INDEX IF NOT EXISTS ix_jobs_status ON jobs (status, submitted_at DESC, id DESC);
        CREATE INDEX IF NOT EXISTS ix_jobs_model  ON jobs (model, submitted_at DESC, id DESC);
        CREATE INDEX IF NOT EXISTS ix_jobs_kind   ON jobs (kind, submitted_at DESC, id DESC);
        CREATE TABLE IF NOT EXISTS model_files (
            id         INTEGER PRIMARY KEY,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS model_file_chunks (
            file_id INTEGER NOT NULL,
            seq     INTEGER NOT NULL,
            data    BLOB    NOT NULL,
            PRIMARY KEY (file_id, seq)
        );
        CREATE TABLE IF NOT EXISTS model_versions (
            name        TEXT    NOT NULL,
            version     INTEGER NOT NULL,
            created_at  INTEGER NOT NULL,
            size_bytes  INTEGER NOT NULL,
            sha256      TEXT    NOT NULL,
            inputs      TEXT    NOT NULL,
            outputs     TEXT    NOT NULL,
            batching    TEXT    NULL,
            description TEXT    NULL,
            file_id     INTEGER NOT NULL,
            PRIMARY KEY (name, version)
        );
        """,

        // 2: train jobs. A train job has a row in "jobs" (what clients read) and one in "train_jobs" (the request and the
        // work-queue state); its events; uploaded data files; and what trained a model version.
        """
        CREATE TABLE IF NOT EXISTS train_jobs (
            id               BLOB    NOT NULL PRIMARY KEY,
            request          TEXT    NOT NULL,             -- JSON: SubmitTrainJob
            queued_at        INTEGER NOT NULL,
            state            TEXT    NOT NULL,             -- Queued, Running, Done
            attempts         INTEGER NOT NULL DEFAULT 0,
            lease_owner      TEXT    NULL,
            lease_until      INTEGER NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            last_error       TEXT    NULL
        );
        CREATE INDEX IF NOT EXISTS ix_train_jobs_state ON train_jobs (state, queued_at);
        CREATE TABLE IF NOT EXISTS job_events (
            job_id BLOB    NOT NULL,
            seq    INTEGER NOT NULL,
            body   TEXT    NOT NULL,                       -- JSON: JobEventView
            PRIMARY KEY (job_id, seq)
        );
        CREATE TABLE IF NOT EXISTS datasets (
            id         TEXT    NOT NULL PRIMARY KEY,
            name       TEXT    NOT NULL,
            created_at INTEGER NOT NULL,
            size_bytes INTEGER NOT NULL,
            sha256     TEXT    NOT NULL,
            file_id    INTEGER NOT NULL                    -- chunks in model_file_chunks
        );
        ALTER TABLE model_versions ADD COLUMN training_job_id BLOB NULL;
        ALTER TABLE model_versions ADD COLUMN training TEXT NULL;
        CREATE UNIQUE INDEX IF NOT EXISTS ux_model_versions_training_job
            ON model_versions (training_job_id) WHERE training_job_id IS NOT NULL;
        """,

        // 3: webhook deliveries, one row per event, its attempts as a JSON array in the row (a handful at most).
        """
        CREATE TABLE IF NOT EXISTS webhook_deliveries (
            id              TEXT    NOT NULL PRIMARY KEY,  -- the webhook-id header
            job_id          BLOB    NOT NULL,
            event_type      TEXT    NOT NULL,
            url             TEXT    NOT NULL,
            payload         TEXT    NOT NULL,              -- the exact body every attempt sends
            created_at      INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,              -- UTC ticks; also the lease of a claimed delivery
            state           TEXT    NOT NULL,              -- Pending, Delivered, Failed
            attempts        TEXT    NOT NULL               -- JSON: [WebhookAttemptView]
        );
        CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
        CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_job ON webhook_deliveries (job_id, created_at);
        """,

        // 4: bulk jobs: the job row with its live counters, one row per stored chunk input and one per chunk result.
        """
        CREATE TABLE IF NOT EXISTS bulk_jobs (
            id             BLOB    NOT NULL PRIMARY KEY,  -- 16 bytes, as jobs.id
            model          TEXT    NOT NULL,
            model_version  INTEGER NULL,
            status         TEXT    NOT NULL,
            input_file_id  TEXT    NOT NULL,
            format         TEXT    NULL,
            chunk_size     INTEGER NULL,
            callback_url   TEXT    NULL,
            expires_at     INTEGER NULL,                  -- UTC ticks, as every time here
            submitted_at   INTEGER NOT NULL,
            started_at     INTEGER NULL,
            completed_at   INTEGER NULL,
            error          TEXT    NULL,
            total          INTEGER NOT NULL DEFAULT 0,
            succeeded      INTEGER NOT NULL DEFAULT 0,
            failed         INTEGER NOT NULL DEFAULT 0,
            chunks_done    INTEGER NOT NULL DEFAULT 0,    -- skipped chunks included
            chunks_skipped INTEGER NOT NULL DEFAULT 0,
            chunks_total   INTEGER NULL                   -- null until the file is fully split
        );
        CREATE INDEX IF NOT EXISTS ix_bulk_jobs_page ON bulk_jobs (submitted_at DESC, id DESC);
        CREATE TABLE IF NOT EXISTS bulk_chunk_inputs (
            bulk_id     BLOB    NOT NULL,
            chunk_index INTEGER NOT NULL,
            records     INTEGER NOT NULL,
            payload     BLOB    NULL,                     -- null once removed; the row stays so a late save is not counted
            PRIMARY KEY (bulk_id, chunk_index)
        );
        CREATE TABLE IF NOT EXISTS bulk_chunk_results (
            bulk_id     BLOB    NOT NULL,
            chunk_index INTEGER NOT NULL,
            succeeded   INTEGER NOT NULL,
            failed      INTEGER NOT NULL,
            skipped     INTEGER NOT NULL,
            output      BLOB    NULL,                     -- UTF-8 JSON lines
            errors      BLOB    NULL,
            PRIMARY KEY (bulk_id, chunk_index)
        );
        """,

        // 5: tenants and API keys (hashes only; the key itself is never stored). What was stored before belongs to the
        // default tenant.
        $"""
        CREATE TABLE IF NOT EXISTS tenants (
            id         TEXT    NOT NULL PRIMARY KEY,
            name       TEXT    NULL,
            created_at INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO tenants (id, name, created_at) VALUES ('{Tenants.DefaultTenantId}', '{Tenants.DefaultTenantId}', 0);
        CREATE TABLE IF NOT EXISTS api_keys (
            key_id     TEXT    NOT NULL PRIMARY KEY,
            tenant_id  TEXT    NOT NULL,
            sha256     TEXT    NOT NULL,                   -- hex SHA-256 of the key
            name       TEXT    NULL,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER NULL
        );
        CREATE INDEX IF NOT EXISTS ix_api_keys_tenant ON api_keys (tenant_id, created_at);
        ALTER TABLE jobs ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '{Tenants.DefaultTenantId}';
        ALTER TABLE datasets ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '{Tenants.DefaultTenantId}';
        ALTER TABLE bulk_jobs ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '{Tenants.DefaultTenantId}';
        CREATE INDEX IF NOT EXISTS ix_jobs_tenant ON jobs (tenant_id, submitted_at DESC, id DESC);
        DROP INDEX IF EXISTS ix_bulk_jobs_page;
        CREATE INDEX ix_bulk_jobs_page ON bulk_jobs (tenant_id, submitted_at DESC, id DESC);
        """,

        // 6: a predict job's callback URL, so that its webhook is built from the store rather than from a broker event.
        """
        ALTER TABLE jobs ADD COLUMN callback_url TEXT NULL;
        """,

        // 7: the admission check counts a model's queued jobs on every submission: (model, status) makes that count a
        // range of the index as long as the backlog, not a walk over all of the model's jobs.
        """
        CREATE INDEX IF NOT EXISTS ix_jobs_model_status ON jobs (model, status);
        """,

        // 8: a model version's recipe (pre- and post-processing for text and images) and a text recipe's vocabulary.
        """
        ALTER TABLE model_versions ADD COLUMN recipe TEXT NULL;
        ALTER TABLE model_versions ADD COLUMN vocabulary TEXT NULL;
        """,

        // 9: whether a predict job was answered from a worker's response cache rather than by a model call.
        """
        ALTER TABLE jobs ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
        """,

        // 10: retention. Tombstones (when a job's outputs, a file's content or a bulk job's chunks were swept), partial
        // indexes that hold only what a sweep can still take, so that each batch is an index range however many tombstones
        // lie behind it, a lease table so that one process sweeps at a time, and the last sweep's report.
        """
        ALTER TABLE jobs ADD COLUMN payload_expired_at INTEGER NULL;
        ALTER TABLE datasets ADD COLUMN expired_at INTEGER NULL;
        ALTER TABLE bulk_jobs ADD COLUMN outputs_expired_at INTEGER NULL;
        CREATE INDEX IF NOT EXISTS ix_jobs_payload_retention ON jobs (tenant_id, kind, completed_at)
            WHERE completed_at IS NOT NULL AND payload_expired_at IS NULL;
        CREATE INDEX IF NOT EXISTS ix_jobs_record_retention ON jobs (tenant_id, kind, completed_at) WHERE completed_at IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_datasets_retention ON datasets (tenant_id, created_at) WHERE expired_at IS NULL;
        CREATE INDEX IF NOT EXISTS ix_bulk_jobs_retention ON bulk_jobs (tenant_id, completed_at)
            WHERE completed_at IS NOT NULL AND outputs_expired_at IS NULL;
        CREATE TABLE IF NOT EXISTS leases (
            name  TEXT    NOT NULL PRIMARY KEY,
            owner TEXT    NOT NULL,
            until INTEGER NOT NULL                         -- UTC ticks
        );
        CREATE TABLE IF NOT EXISTS sweep_reports (
            name   TEXT NOT NULL PRIMARY KEY,
            report TEXT NOT NULL                           -- JSON: SweepReport
        );
        """,

        // 11: encryption at rest: each tenant's data key, wrapped by the master key (see PayloadCipher). Payloads sealed
        // with it are BLOBs where plaintext is TEXT, so a file can hold both (encryption turned on later).
        """
        CREATE TABLE IF NOT EXISTS data_keys (
            tenant_id  TEXT    NOT NULL PRIMARY KEY,
            wrapped    BLOB    NOT NULL,
            created_at INTEGER NOT NULL
        );
        """,

        // 12: explanations: a model version's background data (JSON, at most 100 rows) and a predict job's attributions.
        """
        ALTER TABLE model_versions ADD COLUMN background TEXT NULL;
        ALTER TABLE jobs ADD COLUMN explanation TEXT NULL;
        """,

        // 13: bulk chunks, uploaded files' chunks and webhook payloads sealed under Store:Encryption. Plain and sealed
        // chunks are BLOBs alike, so a flag tells them apart (a file can hold chunks written before encryption was turned
        // on); a sealed webhook payload is a BLOB where a plain one is TEXT, and opens with its delivery's tenant's key.
        """
        ALTER TABLE bulk_chunk_inputs ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE bulk_chunk_results ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE model_file_chunks ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE webhook_deliveries ADD COLUMN tenant_id TEXT NULL;
        """,

        // 14: ids are unique per tenant (issue #13, finding 14). Every table keyed by a job or bulk job id is rebuilt with a
        // primary key that starts with tenant_id, and its rows copied: a job's tenant from its own row, a train request's,
        // event's and chunk's from their job's (until now ids were unique, so that lookup is unambiguous; it runs before the job
        // tables are rebuilt, while the id is still their primary key). Sealed values
        // are bound to their tenant and job id (or place), never to a row id, so they open after the copy as before.
        // A webhook delivery keeps its id (the webhook-id already sent) and gets its tenant where it had none. A trained
        // model version is found by its model name (per tenant) and its train job id.
        $"""
        CREATE TABLE train_jobs_14 (
            tenant_id        TEXT    NOT NULL,
            id               BLOB    NOT NULL,
            request          TEXT    NOT NULL,             -- JSON: SubmitTrainJob, or a sealed BLOB
            queued_at        INTEGER NOT NULL,
            state            TEXT    NOT NULL,
            attempts         INTEGER NOT NULL DEFAULT 0,
            lease_owner      TEXT    NULL,
            lease_until      INTEGER NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            last_error       TEXT    NULL,
            PRIMARY KEY (tenant_id, id)
        );
        INSERT INTO train_jobs_14 (tenant_id, id, request, queued_at, state, attempts, lease_owner, lease_until, cancel_requested, last_error)
        SELECT COALESCE((SELECT j.tenant_id FROM jobs j WHERE j.id = t.id), '{Tenants.DefaultTenantId}'),
            t.id, t.request, t.queued_at, t.state, t.attempts, t.lease_owner, t.lease_until, t.cancel_requested, t.last_error FROM train_jobs t;
        DROP TABLE train_jobs;
        ALTER TABLE train_jobs_14 RENAME TO train_jobs;
        CREATE INDEX ix_train_jobs_state ON train_jobs (state, queued_at);

        CREATE TABLE job_events_14 (
            tenant_id TEXT    NOT NULL,
            job_id    BLOB    NOT NULL,
            seq       INTEGER NOT NULL,
            body      TEXT    NOT NULL,
            PRIMARY KEY (tenant_id, job_id, seq)
        );
        INSERT INTO job_events_14 (tenant_id, job_id, seq, body)
        SELECT COALESCE((SELECT j.tenant_id FROM jobs j WHERE j.id = e.job_id), '{Tenants.DefaultTenantId}'), e.job_id, e.seq, e.body FROM job_events e;
        DROP TABLE job_events;
        ALTER TABLE job_events_14 RENAME TO job_events;

        UPDATE webhook_deliveries SET tenant_id = COALESCE(
                (SELECT j.tenant_id FROM jobs j WHERE j.id = webhook_deliveries.job_id),
                (SELECT b.tenant_id FROM bulk_jobs b WHERE b.id = webhook_deliveries.job_id),
                '{Tenants.DefaultTenantId}')
            WHERE tenant_id IS NULL;
        DROP INDEX IF EXISTS ix_webhook_deliveries_job;
        CREATE INDEX ix_webhook_deliveries_job ON webhook_deliveries (tenant_id, job_id, created_at);

        CREATE TABLE jobs_14 (
            tenant_id          TEXT    NOT NULL,
            id                 BLOB    NOT NULL,
            kind               TEXT    NOT NULL,
            model              TEXT    NOT NULL,
            model_version      INTEGER NULL,
            status             TEXT    NOT NULL,
            submitted_at       INTEGER NOT NULL,
            started_at         INTEGER NULL,
            completed_at       INTEGER NULL,
            device             TEXT    NULL,
            batch_size         INTEGER NULL,
            batch_id           TEXT    NULL,
            worker_id          TEXT    NULL,
            error              TEXT    NULL,
            outputs            TEXT    NULL,               -- JSON, or a sealed BLOB (TEXT affinity leaves a BLOB as it is)
            callback_url       TEXT    NULL,
            cached             INTEGER NOT NULL DEFAULT 0,
            payload_expired_at INTEGER NULL,
            explanation        TEXT    NULL,
            PRIMARY KEY (tenant_id, id)
        );
        INSERT INTO jobs_14 (tenant_id, id, kind, model, model_version, status, submitted_at, started_at, completed_at, device,
            batch_size, batch_id, worker_id, error, outputs, callback_url, cached, payload_expired_at, explanation)
        SELECT tenant_id, id, kind, model, model_version, status, submitted_at, started_at, completed_at, device,
            batch_size, batch_id, worker_id, error, outputs, callback_url, cached, payload_expired_at, explanation FROM jobs;
        DROP TABLE jobs;
        ALTER TABLE jobs_14 RENAME TO jobs;
        CREATE INDEX ix_jobs_page   ON jobs (submitted_at DESC, id DESC);
        CREATE INDEX ix_jobs_status ON jobs (status, submitted_at DESC, id DESC);
        CREATE INDEX ix_jobs_model  ON jobs (model, submitted_at DESC, id DESC);
        CREATE INDEX ix_jobs_kind   ON jobs (kind, submitted_at DESC, id DESC);
        CREATE INDEX ix_jobs_tenant ON jobs (tenant_id, submitted_at DESC, id DESC);
        CREATE INDEX ix_jobs_model_status ON jobs (model, status);
        CREATE INDEX ix_jobs_payload_retention ON jobs (tenant_id, kind, completed_at)
            WHERE completed_at IS NOT NULL AND payload_expired_at IS NULL;
        CREATE INDEX ix_jobs_record_retention ON jobs (tenant_id, kind, completed_at) WHERE completed_at IS NOT NULL;

        CREATE TABLE bulk_chunk_inputs_14 (
            tenant_id   TEXT    NOT NULL,
            bulk_id     BLOB    NOT NULL,
            chunk_index INTEGER NOT NULL,
            records     INTEGER NOT NULL,
            payload     BLOB    NULL,
            sealed      INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant_id, bulk_id, chunk_index)
        );
        INSERT INTO bulk_chunk_inputs_14 (tenant_id, bulk_id, chunk_index, records, payload, sealed)
        SELECT COALESCE((SELECT b.tenant_id FROM bulk_jobs b WHERE b.id = i.bulk_id), '{Tenants.DefaultTenantId}'),
            i.bulk_id, i.chunk_index, i.records, i.payload, i.sealed FROM bulk_chunk_inputs i;
        DROP TABLE bulk_chunk_inputs;
        ALTER TABLE bulk_chunk_inputs_14 RENAME TO bulk_chunk_inputs;

        CREATE TABLE bulk_chunk_results_14 (
            tenant_id   TEXT    NOT NULL,
            bulk_id     BLOB    NOT NULL,
            chunk_index INTEGER NOT NULL,
            succeeded   INTEGER NOT NULL,
            failed      INTEGER NOT NULL,
            skipped     INTEGER NOT NULL,
            output      BLOB    NULL,
            errors      BLOB    NULL,
            sealed      INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant_id, bulk_id, chunk_index)
        );
        INSERT INTO bulk_chunk_results_14 (tenant_id, bulk_id, chunk_index, succeeded, failed, skipped, output, errors, sealed)
        SELECT COALESCE((SELECT b.tenant_id FROM bulk_jobs b WHERE b.id = r.bulk_id), '{Tenants.DefaultTenantId}'),
            r.bulk_id, r.chunk_index, r.succeeded, r.failed, r.skipped, r.output, r.errors, r.sealed FROM bulk_chunk_results r;
        DROP TABLE bulk_chunk_results;
        ALTER TABLE bulk_chunk_results_14 RENAME TO bulk_chunk_results;

        CREATE TABLE bulk_jobs_14 (
            tenant_id          TEXT    NOT NULL,
            id                 BLOB    NOT NULL,
            model              TEXT    NOT NULL,
            model_version      INTEGER NULL,
            status             TEXT    NOT NULL,
            input_file_id      TEXT    NOT NULL,
            format             TEXT    NULL,
            chunk_size         INTEGER NULL,
            callback_url       TEXT    NULL,
            expires_at         INTEGER NULL,
            submitted_at       INTEGER NOT NULL,
            started_at         INTEGER NULL,
            completed_at       INTEGER NULL,
            error              TEXT    NULL,
            total              INTEGER NOT NULL DEFAULT 0,
            succeeded          INTEGER NOT NULL DEFAULT 0,
            failed             INTEGER NOT NULL DEFAULT 0,
            chunks_done        INTEGER NOT NULL DEFAULT 0,
            chunks_skipped     INTEGER NOT NULL DEFAULT 0,
            chunks_total       INTEGER NULL,
            outputs_expired_at INTEGER NULL,
            PRIMARY KEY (tenant_id, id)
        );
        INSERT INTO bulk_jobs_14 (tenant_id, id, model, model_version, status, input_file_id, format, chunk_size, callback_url,
            expires_at, submitted_at, started_at, completed_at, error, total, succeeded, failed, chunks_done, chunks_skipped,
            chunks_total, outputs_expired_at)
        SELECT tenant_id, id, model, model_version, status, input_file_id, format, chunk_size, callback_url,
            expires_at, submitted_at, started_at, completed_at, error, total, succeeded, failed, chunks_done, chunks_skipped,
            chunks_total, outputs_expired_at FROM bulk_jobs;
        DROP TABLE bulk_jobs;
        ALTER TABLE bulk_jobs_14 RENAME TO bulk_jobs;
        CREATE INDEX ix_bulk_jobs_page ON bulk_jobs (tenant_id, submitted_at DESC, id DESC);
        CREATE INDEX ix_bulk_jobs_retention ON bulk_jobs (tenant_id, completed_at)
            WHERE completed_at IS NOT NULL AND outputs_expired_at IS NULL;

        DROP INDEX IF EXISTS ux_model_versions_training_job;
        CREATE UNIQUE INDEX ux_model_versions_training_job ON model_versions (name, training_job_id) WHERE training_job_id IS NOT NULL;
        """,
    ];

    /// <summary>The version this build writes: the number of migrations.</summary>
    public static int LatestVersion => Migrations.Count;

    /// <summary>Brings the file to <paramref name="targetVersion"/> (the latest unless given: tests make older files with
    /// it). A file newer than this build is refused: this build cannot know what the later steps expect.</summary>
    public static void Upgrade(SqliteConnection connection, SqliteTransaction transaction, int? targetVersion = null)
    {
        var target = targetVersion ?? LatestVersion;
        var version = ReadVersion(connection, transaction);
        if (version == 0)
        {
            version = VersionOfUnversionedFile(connection, transaction);
        }

        if (version > LatestVersion)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The store file is at schema version {version}, newer than this build's {LatestVersion}: it was written by a newer release."));
        }

        for (; version < target; version++)
        {
            Execute(connection, transaction, Migrations[version]);
        }

        if (ReadVersion(connection, transaction) != version)
        {
            Execute(connection, transaction, string.Create(CultureInfo.InvariantCulture, $"PRAGMA user_version = {version}"));
        }
    }

    public static int ReadVersion(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version";
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Files written before schema versions have version 0 and whatever tables the release that wrote them made; three
    /// columns tell which of the column-adding steps they had: the callback column of jobs (6), the tenant column of jobs (5), the training columns of model
    /// versions (2). The steps after that make only what is missing. A new, empty file is version 0 and takes every step.
    /// </summary>
    private static int VersionOfUnversionedFile(SqliteConnection connection, SqliteTransaction transaction) =>
        HasColumn(connection, transaction, "jobs", "callback_url") ? 6
        : HasColumn(connection, transaction, "jobs", "tenant_id") ? 5
        : HasColumn(connection, transaction, "model_versions", "training") ? 2
        : 0;

    private static bool HasColumn(SqliteConnection connection, SqliteTransaction transaction, string table, string column)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT COUNT(*) FROM pragma_table_info($table) WHERE name = $column";
        command.Parameters.AddWithValue("$table", table);
        command.Parameters.AddWithValue("$column", column);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // The migrations above and a version number: no input.
        command.CommandText = sql;
#pragma warning restore CA2100
        command.ExecuteNonQuery();
    }
}
