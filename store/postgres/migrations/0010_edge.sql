-- The edge: every add-on's stable endpoint (as SQLite's 0010). An add-on's
-- row in edges says which host its URLs name (written when its ports were
-- claimed, so its URL never changes after) and who may connect; edge_ports
-- holds the ports the edge listens on for it, one per kind, claimed for the
-- add-on's whole life (INSERT … ON CONFLICT (port) DO NOTHING, like node
-- ports) and released with the add-on.
CREATE TABLE edges (
    addon_id   TEXT PRIMARY KEY REFERENCES addons(id) ON DELETE CASCADE,
    host       TEXT NOT NULL,
    allowlist  TEXT NOT NULL DEFAULT '',  -- CIDRs, one per line; '' means the edge's default list
    tls_only   BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE edge_ports (
    port      INTEGER PRIMARY KEY,
    addon_id  TEXT NOT NULL REFERENCES edges(addon_id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('plain', 'tls')),
    UNIQUE (addon_id, kind)
);

-- The edge follows the change feed: an add-on's edge changing is an add-on
-- change (its URL moves to the edge when its ports are claimed).
CREATE FUNCTION changes_edge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM larder_change('', NEW.addon_id, larder_addon_name(NEW.addon_id), 'addon', 'edge');
    RETURN NULL;
END $$;
CREATE TRIGGER changes_edge AFTER INSERT ON edges FOR EACH ROW EXECUTE FUNCTION changes_edge();
CREATE TRIGGER changes_edge_update AFTER UPDATE ON edges FOR EACH ROW
WHEN (OLD.host IS DISTINCT FROM NEW.host OR OLD.allowlist IS DISTINCT FROM NEW.allowlist OR OLD.tls_only IS DISTINCT FROM NEW.tls_only)
EXECUTE FUNCTION changes_edge();
CREATE TRIGGER changes_edge_port AFTER INSERT ON edge_ports FOR EACH ROW EXECUTE FUNCTION changes_edge();
