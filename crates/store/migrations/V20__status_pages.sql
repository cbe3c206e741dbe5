-- Public status pages. A page belongs to a user and lists, in ordered sections, some of that
-- user's monitors under a public display name. A monitor on no published page stays private.
--
-- Badges name a monitor by its `public_id`: 32 random hex characters (a v4 UUID's 122 random
-- bits), stable for the monitor's life and unrelated to its internal id, so a badge URL tells
-- nothing about the monitor's id and cannot be guessed from it.
ALTER TABLE monitors ADD COLUMN public_id text NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '');
CREATE UNIQUE INDEX monitors_public_id ON monitors (public_id);

CREATE TABLE status_pages (
    id          uuid PRIMARY KEY,
    owner_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slug        text NOT NULL UNIQUE,
    title       text NOT NULL,
    description text NOT NULL DEFAULT '',
    logo_url    text,
    published   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_pages_owner ON status_pages (owner_id, id);

-- A page's sections, in `position` order.
CREATE TABLE status_page_sections (
    page_id  uuid NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    position integer NOT NULL,
    name     text NOT NULL,
    PRIMARY KEY (page_id, position)
);

-- A section's monitors, in `position` order; a monitor appears at most once per page.
CREATE TABLE status_page_monitors (
    page_id      uuid NOT NULL,
    section      integer NOT NULL,
    position     integer NOT NULL,
    monitor_id   uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    display_name text NOT NULL,
    PRIMARY KEY (page_id, section, position),
    UNIQUE (page_id, monitor_id),
    FOREIGN KEY (page_id, section) REFERENCES status_page_sections (page_id, position) ON DELETE CASCADE
);
CREATE INDEX status_page_monitors_monitor ON status_page_monitors (monitor_id);
