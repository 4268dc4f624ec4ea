-- The edge: every add-on's stable endpoint. An add-on's row in edges says
-- which host its URLs name (written when its ports were claimed, so its URL
-- never changes after) and who may connect; edge_ports holds the ports the
-- edge listens on for it, one per kind, claimed for the add-on's whole life
-- (INSERT … ON CONFLICT (port) DO NOTHING, like node ports) and released
-- with the add-on.
CREATE TABLE edges (
    addon_id   TEXT PRIMARY KEY REFERENCES addons(id) ON DELETE CASCADE,
    host       TEXT NOT NULL,
    allowlist  TEXT NOT NULL DEFAULT '',  -- CIDRs, one per line; '' means the edge's default list
    tls_only   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE edge_ports (
    port      INTEGER PRIMARY KEY,
    addon_id  TEXT NOT NULL REFERENCES edges(addon_id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('plain', 'tls')),
    UNIQUE (addon_id, kind)
);

-- The edge follows the change feed: an add-on's edge changing is an add-on
-- change (its URL moves to the edge when its ports are claimed).
CREATE TRIGGER changes_edge_insert AFTER INSERT ON edges BEGIN
    INSERT INTO changes (addon_id, addon_name, kind, subject)
    VALUES (NEW.addon_id, COALESCE((SELECT name FROM addons WHERE id = NEW.addon_id), ''), 'addon', 'edge');
END;
CREATE TRIGGER changes_edge_update AFTER UPDATE ON edges
WHEN OLD.host IS NOT NEW.host OR OLD.allowlist IS NOT NEW.allowlist OR OLD.tls_only IS NOT NEW.tls_only
BEGIN
    INSERT INTO changes (addon_id, addon_name, kind, subject)
    VALUES (NEW.addon_id, COALESCE((SELECT name FROM addons WHERE id = NEW.addon_id), ''), 'addon', 'edge');
END;
CREATE TRIGGER changes_edge_port_insert AFTER INSERT ON edge_ports BEGIN
    INSERT INTO changes (addon_id, addon_name, kind, subject)
    VALUES (NEW.addon_id, COALESCE((SELECT name FROM addons WHERE id = NEW.addon_id), ''), 'addon', 'edge');
END;
