// The schema, as an ordered list of steps. Step i (1-based) takes a database from user_version i-1
// to i; openStore applies each missing step in its own IMMEDIATE transaction, so a crash or a second
// process starting at the same moment never leaves a half-migrated file. Never edit a shipped step:
// append a new one.
//
// Conventions: times are Unix seconds (INTEGER), the unit crypto/ uses for invites and certificates;
// ids are lowercase hex of random or derived 16-byte values; sealed columns are BLOBs made by
// sealed.ts; tables are STRICT so a wrong type is an error, not a silent conversion.

export interface Migration {
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    description: 'hub identity, epochs, cameras, devices, invites, audit log',
    sql: `
      CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
      ) STRICT;

      -- Counters that only go up: epoch numbers and camera numbers are never handed out twice.
      CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL CHECK (value >= 0)
      ) STRICT;
      INSERT INTO counters (name, value) VALUES ('epoch', 0), ('camera_number', 0);

      CREATE TABLE epochs (
        number     INTEGER PRIMARY KEY CHECK (number >= 1),
        reason     TEXT NOT NULL CHECK (reason IN ('start', 'device-added', 'device-removed', 'camera-added', 'camera-removed', 'daily')),
        started_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE hub_identity (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        secret     BLOB NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE cameras (
        id             TEXT PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
        number         INTEGER NOT NULL UNIQUE CHECK (number >= 1),
        topic          TEXT NOT NULL UNIQUE CHECK (length(topic) = 32 AND topic NOT GLOB '*[^0-9a-f]*'),
        name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
        url            TEXT NOT NULL,
        username       TEXT,
        password       BLOB,
        username_param TEXT,
        password_param TEXT,
        kind           TEXT NOT NULL CHECK (kind IN ('rtsp', 'test-pattern')),
        onvif_pin      TEXT,
        added_at       INTEGER NOT NULL,
        removed_at     INTEGER
      ) STRICT;
      -- Names are what people type ("vigil camera remove porch"): unique among active cameras,
      -- ignoring case; a removed camera's name is free again.
      CREATE UNIQUE INDEX cameras_active_name ON cameras (name COLLATE NOCASE) WHERE removed_at IS NULL;

      CREATE TABLE devices (
        id               TEXT PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
        name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
        role             TEXT NOT NULL CHECK (role IN ('owner', 'viewer')),
        certificate      BLOB NOT NULL,
        relay_key        TEXT NOT NULL UNIQUE,
        exchange_key     TEXT NOT NULL UNIQUE,
        signing_key      TEXT NOT NULL UNIQUE,
        paired_at        INTEGER NOT NULL,
        last_seen        INTEGER,
        revoked_at       INTEGER,
        -- u64 sequence numbers do not fit SQLite's signed INTEGER; decimal text, -1 for none yet.
        last_command_seq TEXT NOT NULL DEFAULT '-1'
      ) STRICT;

      CREATE TABLE invites (
        id         TEXT PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
        -- Sealed while open; cleared once used, expired or cancelled (it is never needed again).
        secret     BLOB,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        state      TEXT NOT NULL CHECK (state IN ('open', 'used', 'expired', 'cancelled')),
        -- Not a foreign key: pairing claims the invite before the device row exists.
        device_id  TEXT
      ) STRICT;
      CREATE INDEX invites_open ON invites (expires_at) WHERE state = 'open';

      CREATE TABLE audit (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     INTEGER NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
      ) STRICT;
      CREATE INDEX audit_at ON audit (at);
    `,
  },
  {
    description: 'the roster log (crypto/roster-log.ts): hub-signed, hash-chained entries, append only',
    sql: `
      CREATE TABLE roster_log (
        seq   INTEGER PRIMARY KEY CHECK (seq >= 0),
        entry BLOB NOT NULL
      ) STRICT;
    `,
  },
  {
    description: 'recordings (PROTOCOL §15): settings per camera, recording epochs and their sealed keys, the segment index',
    // Recording times are Unix ms (the fragments' capture times, as in the segment files), hence the
    // _ms columns; the rest keeps the seconds convention.
    sql: `
      INSERT INTO counters (name, value) VALUES ('recording_epoch', 0), ('segment', 0);

      CREATE TABLE recording_settings (
        camera_id TEXT PRIMARY KEY REFERENCES cameras (id),
        mode      TEXT NOT NULL CHECK (mode IN ('continuous', 'events', 'off')),
        keep_days INTEGER NOT NULL CHECK (keep_days BETWEEN 1 AND 3650)
      ) STRICT;

      -- Public and signed (crypto/recording.ts encodeRecordingEpoch): the private seed is never stored.
      CREATE TABLE recording_epochs (
        number        INTEGER PRIMARY KEY CHECK (number >= 1),
        created_at_ms INTEGER NOT NULL,
        epoch         BLOB NOT NULL
      ) STRICT;

      -- The epoch's seed sealed to one phone (sealEpochKey): only that phone opens it.
      CREATE TABLE recording_keys (
        epoch     INTEGER NOT NULL REFERENCES recording_epochs (number) ON DELETE CASCADE,
        device_id TEXT NOT NULL REFERENCES devices (id),
        sealed    BLOB NOT NULL,
        PRIMARY KEY (epoch, device_id)
      ) STRICT;
      CREATE INDEX recording_keys_device ON recording_keys (device_id, epoch);

      -- One row per segment file (DATA/recordings/<camera>/<id>.vseg); ids come from the 'segment'
      -- counter and are never reused. closed = 0 while written, or when the hub stopped before.
      CREATE TABLE segments (
        id        INTEGER PRIMARY KEY CHECK (id >= 1),
        camera_id TEXT NOT NULL REFERENCES cameras (id),
        epoch     INTEGER NOT NULL REFERENCES recording_epochs (number),
        start_ms  INTEGER NOT NULL,
        end_ms    INTEGER NOT NULL CHECK (end_ms >= start_ms),
        bytes     INTEGER NOT NULL CHECK (bytes >= 0),
        path      TEXT NOT NULL UNIQUE,
        closed    INTEGER NOT NULL CHECK (closed IN (0, 1))
      ) STRICT;
      CREATE INDEX segments_camera_start ON segments (camera_id, start_ms);
      CREATE INDEX segments_start ON segments (start_ms);
    `,
  },
  {
    description: 'events (PROTOCOL §17): detection settings per camera, sealed events, phones\' push subscriptions',
    // Times in ms as for segments. An event's camera, kind and times are in clear here (`vigil events`
    // lists them on the hub); its details and preview picture are sealed to the recording epoch, so the
    // hub cannot show them again once the epoch's key is erased.
    sql: `
      INSERT INTO counters (name, value) VALUES ('event', 0);

      -- masks and zones: JSON arrays of [x, y, w, h] in fractions of the picture (0..1).
      CREATE TABLE detection_settings (
        camera_id   TEXT PRIMARY KEY REFERENCES cameras (id),
        motion      INTEGER NOT NULL CHECK (motion IN (0, 1)),
        sensitivity INTEGER NOT NULL CHECK (sensitivity BETWEEN 1 AND 10),
        masks       TEXT NOT NULL,
        zones       TEXT NOT NULL
      ) STRICT;

      -- ids from the 'event' counter, never reused. end_ms is NULL while the event goes on.
      CREATE TABLE events (
        id        INTEGER PRIMARY KEY CHECK (id >= 1),
        camera_id TEXT NOT NULL REFERENCES cameras (id),
        kind      TEXT NOT NULL,
        start_ms  INTEGER NOT NULL,
        end_ms    INTEGER CHECK (end_ms IS NULL OR end_ms >= start_ms),
        epoch     INTEGER REFERENCES recording_epochs (number),
        sealed    BLOB
      ) STRICT;
      CREATE INDEX events_camera_start ON events (camera_id, start_ms);
      CREATE INDEX events_start ON events (start_ms);

      -- A phone's Web Push subscription (RFC 8030/8291) and what it wants pushed (JSON preferences).
      CREATE TABLE push_subscriptions (
        device_id TEXT PRIMARY KEY REFERENCES devices (id),
        endpoint  TEXT NOT NULL,
        p256dh    BLOB NOT NULL,
        auth      BLOB NOT NULL,
        prefs     TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    description: 'guests and scoped phones (PROTOCOL §16.3): the guest role, and the cameras and window a device or invite is limited to',
    // SQLite cannot change a CHECK in place and rebuilding devices would break the foreign keys that
    // name it, so the role moves to a new column with the wider CHECK (DROP COLUMN takes the old
    // CHECK with it). Its default is the narrowest role; every insert names the role anyway.
    // scope_cameras: a JSON array of camera ids, NULL for every camera; times Unix ms, NULL for none.
    sql: `
      ALTER TABLE devices ADD COLUMN role_scoped TEXT NOT NULL DEFAULT 'guest' CHECK (role_scoped IN ('owner', 'viewer', 'guest'));
      UPDATE devices SET role_scoped = role;
      ALTER TABLE devices DROP COLUMN role;
      ALTER TABLE devices RENAME COLUMN role_scoped TO role;
      ALTER TABLE devices ADD COLUMN scope_cameras TEXT;
      ALTER TABLE devices ADD COLUMN scope_from_ms INTEGER;
      ALTER TABLE devices ADD COLUMN scope_until_ms INTEGER;
      CREATE INDEX devices_scope_until ON devices (scope_until_ms) WHERE scope_until_ms IS NOT NULL AND revoked_at IS NULL;

      -- An invite made for a role and scope pairs a phone with exactly those; NULL role: chosen at approval.
      ALTER TABLE invites ADD COLUMN role TEXT CHECK (role IS NULL OR role IN ('owner', 'viewer', 'guest'));
      ALTER TABLE invites ADD COLUMN scope_cameras TEXT;
      ALTER TABLE invites ADD COLUMN scope_from_ms INTEGER;
      ALTER TABLE invites ADD COLUMN scope_until_ms INTEGER;
    `,
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;
