-- Open Service Broker API: what a platform (Cloud Foundry, Kubernetes) knows
-- as service instances and bindings. An instance is an ordinary add-on
-- (addon_id); a binding is an engine user of that add-on with its own password.
--
-- Rows outlive their add-on so that a finished delete stays answerable: state
-- goes active → deleted (deleted_at set) → forgotten once the retention has
-- passed. A forgotten row keeps only its id, so the broker can still tell "gone"
-- (410) from "never seen" (404).

CREATE TABLE osb_instances (
    instance_id        TEXT PRIMARY KEY,
    addon_id           TEXT NOT NULL,   -- no foreign key: the add-on row goes first
    service_id         TEXT NOT NULL,
    plan_id            TEXT NOT NULL,   -- the plan the platform last asked for
    organization_guid  TEXT NOT NULL DEFAULT '',
    space_guid         TEXT NOT NULL DEFAULT '',
    parameters         TEXT NOT NULL DEFAULT '{}',  -- canonical JSON, as asked for
    context            TEXT NOT NULL DEFAULT '{}',  -- the platform's context object
    operation_id       TEXT NOT NULL DEFAULT '',    -- last async operation (operations.id)
    operation_kind     TEXT NOT NULL DEFAULT '',    -- provision, update or deprovision
    state              TEXT NOT NULL,               -- active, deleted, forgotten
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    deleted_at         TIMESTAMPTZ
);
CREATE INDEX osb_instances_addon ON osb_instances(addon_id);
CREATE INDEX osb_instances_deleted ON osb_instances(state, deleted_at);

CREATE TABLE osb_bindings (
    binding_id   TEXT PRIMARY KEY,
    instance_id  TEXT NOT NULL,
    addon_id     TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    plan_id      TEXT NOT NULL,
    username     TEXT NOT NULL,
    password     TEXT NOT NULL,   -- a secret; emptied when the binding is deleted
    parameters   TEXT NOT NULL DEFAULT '{}',
    state        TEXT NOT NULL,   -- active, deleted, forgotten
    created_at   TIMESTAMPTZ NOT NULL,
    deleted_at   TIMESTAMPTZ
);
CREATE INDEX osb_bindings_addon ON osb_bindings(addon_id, state);
CREATE INDEX osb_bindings_instance ON osb_bindings(instance_id);
CREATE INDEX osb_bindings_deleted ON osb_bindings(state, deleted_at);
-- Two live bindings of one add-on never share an engine user.
CREATE UNIQUE INDEX osb_bindings_user ON osb_bindings(addon_id, username) WHERE state = 'active';
