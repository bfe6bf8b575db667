import GRDB

/// The store's tables, created and upgraded by GRDB's `DatabaseMigrator`.
///
/// Times are INTEGER milliseconds since 1970 UTC (`Date.millisecondsSince1970`), so a
/// `Date` read back equals the millisecond-truncated `Date` that was written. JSON columns
/// hold compact JSON text with sorted keys. Migrations are append-only: add `v2`, never
/// edit `v1`. A file migrated by a newer TeleOps (one with migrations this build does not
/// know) is refused rather than written with an older idea of the schema.
///
/// Migrations that only add or drop indexes and columns run with `foreignKeyChecks: .immediate`:
/// with GRDB's default (deferred), every migration ends with `PRAGMA foreign_key_check` over
/// every table, which took about 14 s at a million scenarios for a migration that itself
/// takes milliseconds. They recreate no table, so immediate checks keep the same guarantee.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: v3)
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: v4)
        }
        migrator.registerMigration("v5") { db in
            try db.execute(sql: v5)
            try SQLiteHistory.backfill(db)
        }
        migrator.registerMigration("v6", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: v6)
        }
        migrator.registerMigration("v7", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: v7)
        }
        migrator.registerMigration("v8", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: v8)
        }
        migrator.registerMigration("v9", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: v9)
        }
        migrator.registerMigration("v10", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: v10)
        }
        return migrator
    }

    /// AUTOINCREMENT keeps ids strictly increasing even if rows are ever pruned, so paging
    /// (`beforeID`) and "newest = highest id" stay true.
    private static let v1 = """
        CREATE TABLE scenarios (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            fingerprint TEXT NOT NULL,
            source TEXT NOT NULL,
            host TEXT NOT NULL,
            check_name TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
            summary TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
            occurrences INTEGER NOT NULL,
            opened_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            resolved_at INTEGER,
            acknowledged_by TEXT,
            previous_id INTEGER REFERENCES scenarios(id)
        );
        -- At most one active scenario per fingerprint, whoever writes.
        CREATE UNIQUE INDEX scenarios_active_fingerprint ON scenarios(fingerprint) WHERE status != 'resolved';
        CREATE INDEX scenarios_fingerprint ON scenarios(fingerprint, id);
        CREATE INDEX scenarios_host ON scenarios(host, id);

        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            scenario_id INTEGER REFERENCES scenarios(id),
            source TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            host TEXT NOT NULL,
            check_name TEXT NOT NULL,
            severity TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
            summary TEXT NOT NULL,
            labels TEXT NOT NULL CHECK (json_valid(labels)),
            details TEXT CHECK (details IS NULL OR json_valid(details)),
            received_at INTEGER NOT NULL
        );
        CREATE INDEX alerts_scenario ON alerts(scenario_id);

        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            scenario_id INTEGER NOT NULL REFERENCES scenarios(id),
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            data TEXT NOT NULL CHECK (json_valid(data))
        );
        CREATE INDEX events_scenario ON events(scenario_id, id);

        CREATE TABLE messages (
            transport TEXT NOT NULL,
            chat TEXT NOT NULL,
            message_id TEXT NOT NULL,
            scenario_id INTEGER NOT NULL REFERENCES scenarios(id),
            PRIMARY KEY (transport, chat, message_id)
        ) WITHOUT ROWID;

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            scenario_id INTEGER REFERENCES scenarios(id),
            purpose TEXT NOT NULL CHECK (purpose IN ('announcement', 'reply')),
            text TEXT NOT NULL,
            reply_transport TEXT,
            reply_chat TEXT,
            reply_message_id TEXT,
            chat TEXT,
            created_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at INTEGER,
            gave_up_at INTEGER,
            CHECK ((reply_transport IS NULL) = (reply_chat IS NULL) AND (reply_chat IS NULL) = (reply_message_id IS NULL))
        );
        CREATE INDEX outbox_pending ON outbox(id) WHERE sent_at IS NULL AND gave_up_at IS NULL;
        """

    /// v2: alerts may be `acknowledged` (PagerDuty's acknowledge event) and carry the
    /// source's idempotency key, so a retried delivery is found and changes nothing.
    /// SQLite cannot change a CHECK constraint in place, so the table is rebuilt.
    private static let v2 = """
        CREATE TABLE alerts_v2 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            scenario_id INTEGER REFERENCES scenarios(id),
            source TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            host TEXT NOT NULL,
            check_name TEXT NOT NULL,
            severity TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('firing', 'resolved', 'acknowledged')),
            summary TEXT NOT NULL,
            labels TEXT NOT NULL CHECK (json_valid(labels)),
            details TEXT CHECK (details IS NULL OR json_valid(details)),
            idempotency_key TEXT,
            received_at INTEGER NOT NULL
        );
        INSERT INTO alerts_v2 (id, scenario_id, source, fingerprint, host, check_name, severity, status, summary,
            labels, details, received_at)
        SELECT id, scenario_id, source, fingerprint, host, check_name, severity, status, summary, labels, details,
            received_at FROM alerts;
        DROP TABLE alerts;
        ALTER TABLE alerts_v2 RENAME TO alerts;
        CREATE INDEX alerts_scenario ON alerts(scenario_id);
        CREATE INDEX alerts_idempotency_key ON alerts(idempotency_key, id) WHERE idempotency_key IS NOT NULL;
        """

    /// v3, chat platforms: scenarios can be silenced; a scenario's announcements are marked
    /// among its messages (so state changes edit them everywhere); outbox drafts carry buttons,
    /// a pinned transport and the `update` purpose (the CHECK changes, so the table is
    /// rebuilt); the inbox keeps what people typed until the responder settles it, unique per
    /// platform delivery; cursors keep platform positions (Telegram's update offset).
    private static let v3 = """
        ALTER TABLE scenarios ADD COLUMN silenced_until INTEGER;

        ALTER TABLE messages ADD COLUMN announcement INTEGER NOT NULL DEFAULT 0;
        UPDATE messages SET announcement = 1 WHERE EXISTS (
            SELECT 1 FROM events WHERE events.scenario_id = messages.scenario_id AND events.kind = 'notified'
                AND json_extract(events.data, '$.transport') = messages.transport
                AND json_extract(events.data, '$.chat') = messages.chat
                AND json_extract(events.data, '$.message_id') = messages.message_id);
        CREATE INDEX messages_announcements ON messages(scenario_id) WHERE announcement = 1;

        CREATE TABLE outbox_v3 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            scenario_id INTEGER REFERENCES scenarios(id),
            purpose TEXT NOT NULL CHECK (purpose IN ('announcement', 'reply', 'update')),
            text TEXT NOT NULL,
            buttons TEXT CHECK (buttons IS NULL OR json_valid(buttons)),
            transport TEXT,
            reply_transport TEXT,
            reply_chat TEXT,
            reply_message_id TEXT,
            chat TEXT,
            created_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at INTEGER,
            gave_up_at INTEGER,
            CHECK ((reply_transport IS NULL) = (reply_chat IS NULL) AND (reply_chat IS NULL) = (reply_message_id IS NULL))
        );
        INSERT INTO outbox_v3 (id, scenario_id, purpose, text, reply_transport, reply_chat, reply_message_id, chat,
            created_at, attempts, last_error, sent_at, gave_up_at)
        SELECT id, scenario_id, purpose, text, reply_transport, reply_chat, reply_message_id, chat, created_at,
            attempts, last_error, sent_at, gave_up_at FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_v3 RENAME TO outbox;
        CREATE INDEX outbox_pending ON outbox(id) WHERE sent_at IS NULL AND gave_up_at IS NULL;

        CREATE TABLE inbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            transport TEXT NOT NULL,
            delivery_id TEXT,
            kind TEXT NOT NULL CHECK (kind IN ('text', 'button')),
            chat TEXT NOT NULL,
            message_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            display_name TEXT NOT NULL,
            text TEXT NOT NULL,
            reply_transport TEXT,
            reply_chat TEXT,
            reply_message_id TEXT,
            received_at INTEGER NOT NULL,
            settled_at INTEGER,
            CHECK ((reply_transport IS NULL) = (reply_chat IS NULL) AND (reply_chat IS NULL) = (reply_message_id IS NULL))
        );
        CREATE UNIQUE INDEX inbox_delivery ON inbox(transport, delivery_id) WHERE delivery_id IS NOT NULL;
        CREATE INDEX inbox_unsettled ON inbox(id) WHERE settled_at IS NULL;

        CREATE TABLE cursors (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        """

    /// v4, command progress: an outbox draft may carry a key; the messages it was posted as
    /// keep it, so later drafts with the key edit them in place.
    private static let v4 = """
        ALTER TABLE outbox ADD COLUMN key TEXT;
        ALTER TABLE messages ADD COLUMN key TEXT;
        CREATE INDEX messages_key ON messages(key) WHERE key IS NOT NULL;
        """

    /// v5, the shared scenario log:
    /// - the hash chain (`EventChain`): `events.hash`, and `scenarios.head_hash` (the hash of the
    ///   scenario's newest event); existing events are chained by the migration;
    /// - full-text search: `search`, a contentless FTS5 index (the text lives in `alerts` and
    ///   `events`; see `SQLiteHistory.SearchRow` for its rowids), filled for existing rows;
    ///   `alerts.searchable` marks the alerts indexed (a repeat with the same summary is not);
    /// - `store_meta`: `pruned_below` (scenario ids below it may have been removed by retention);
    /// - indexes for the review filters (`SQLiteQueryPlan` says which query uses which).
    private static let v5 = """
        ALTER TABLE events ADD COLUMN hash TEXT;
        ALTER TABLE scenarios ADD COLUMN head_hash TEXT;
        ALTER TABLE alerts ADD COLUMN searchable INTEGER NOT NULL DEFAULT 0;
        -- No sizes (columnsize=0: nothing ranks by them); prefix indexes of 2 and 3 letters,
        -- as a search for "co*" merges the documents of every word it names otherwise.
        CREATE VIRTUAL TABLE search USING fts5(
            body, content='', columnsize=0, prefix='2 3', tokenize='unicode61 remove_diacritics 2');
        -- Segments were merged between writes, not in them (v7 moved the index out of this file).
        INSERT INTO search (search, rank) VALUES ('automerge', 0);
        CREATE TABLE store_meta (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX scenarios_status ON scenarios(status, id);
        CREATE INDEX scenarios_check ON scenarios(check_name, id);
        -- "Seen before": a check's newest resolved scenarios and their hosts, from the index
        -- alone (no row read for each, and no walk past the scenarios still firing).
        CREATE INDEX scenarios_check_resolved ON scenarios(check_name, id, host) WHERE status = 'resolved';
        CREATE INDEX scenarios_opened ON scenarios(opened_at);
        CREATE INDEX events_actor ON events(actor, scenario_id);
        """

    /// v6, fewer pages written per alert. An index keyed by a digest or a fingerprint puts
    /// each new entry on a leaf of its own; in a group commit every such index costs a page
    /// per alert in the WAL, and again when the checkpoint copies it (`docs/intake.md`). Two go:
    /// - `scenarios_active_fingerprint`: a fingerprint's active scenario is its newest one,
    ///   unless that is resolved (a scenario opens only when none is active, and status only
    ///   moves forward), so `scenarios_fingerprint` finds it;
    /// - `alerts_idempotency_key`: a retry matters only against the scenario the alert would
    ///   act on, so the key is looked up within that scenario's alerts (or the unmatched ones,
    ///   `scenario_id IS NULL`); the new index sits beside `alerts_scenario`, at the end of the
    ///   tree for a new scenario's alerts.
    private static let v6 = """
        DROP INDEX scenarios_active_fingerprint;
        DROP INDEX alerts_idempotency_key;
        CREATE INDEX alerts_scenario_key ON alerts(scenario_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
        """

    /// v7, the full-text index leaves the store for a file of its own (`SQLiteSearchIndex`),
    /// filled after each commit instead of inside it; it is rebuilt there from the store's rows.
    /// `store_id` names this store, so that an index file built from another is not taken for
    /// its own.
    private static let v7 = """
        DROP TABLE search;
        INSERT OR IGNORE INTO store_meta (name, value) VALUES ('store_id', random() & 9223372036854775807);
        """

    /// v8, an index behind every reference to a scenario. Removing a scenario (retention) clears
    /// the links of the scenarios that reopened it and deletes its messages and outbox rows, and
    /// SQLite checks each foreign key that points at it: without these indexes each of those
    /// walked its whole table, about 0.2 s for `scenarios` at a million, twice per scenario
    /// removed, inside the write transaction that intake waits behind. `previous_id` is set only
    /// on reopened scenarios, so its index holds those alone and costs a new scenario nothing.
    private static let v8 = """
        CREATE INDEX scenarios_previous ON scenarios(previous_id) WHERE previous_id IS NOT NULL;
        CREATE INDEX messages_scenario ON messages(scenario_id);
        CREATE INDEX outbox_scenario ON outbox(scenario_id);
        """

    /// v9, the `chat.routes` rule an announcement was queued under (`OutboxDraft.route`), so a
    /// message that waits across a restart still goes to its route's chat. Adding a nullable
    /// column rewrites nothing.
    private static let v9 = """
        ALTER TABLE outbox ADD COLUMN route TEXT;
        """

    /// v10, the scenarios each engineer owns, by id: with `events_actor`, the engineer filter
    /// starts at the engineer's newest scenario (`SQLiteQueryPlan`) instead of walking every
    /// newer scenario. Only acknowledged or handed-over scenarios are in it, so intake of new
    /// alerts writes nothing to it.
    private static let v10 = """
        CREATE INDEX scenarios_acknowledged_by ON scenarios(acknowledged_by, id) WHERE acknowledged_by IS NOT NULL;
        """
}
