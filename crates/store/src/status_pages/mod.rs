//! Status pages: CRUD for their owners (this module) and the reads that build a published page
//! and its badges ([`public`]).

pub mod public;

use crate::{Pool, StoreError};
use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

/// One monitor on a page, as given by its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySpec {
    /// The owner's monitor.
    pub monitor_id: Uuid,
    /// The name visitors see.
    pub display_name: String,
}

/// One section of a page, as given by its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSpec {
    /// Heading visitors see.
    pub name: String,
    /// Its monitors, in display order.
    pub monitors: Vec<EntrySpec>,
}

/// A page to create, or what an update replaces. Validated by the API: the slug's shape, the
/// lengths, the monitors being the owner's and listed once per page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSpec {
    /// The page's public path segment (`/status/{slug}`), unique over all users.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Description (may be empty).
    pub description: String,
    /// Logo image URL (`https://…` or `http://…`).
    pub logo_url: Option<String>,
    /// Whether visitors can see it.
    pub published: bool,
    /// Sections, in display order.
    pub sections: Vec<SectionSpec>,
}

/// One monitor on a stored page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The monitor.
    pub monitor_id: Uuid,
    /// The name visitors see.
    pub display_name: String,
    /// The monitor's public id (badge URLs: `/badge/{public_id}/status.svg`).
    pub public_id: String,
}

/// A stored section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Heading.
    pub name: String,
    /// Its monitors, in display order.
    pub monitors: Vec<Entry>,
}

/// A stored status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPage {
    /// Id.
    pub id: Uuid,
    /// Public path segment.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Description (may be empty).
    pub description: String,
    /// Logo image URL.
    pub logo_url: Option<String>,
    /// Whether visitors can see it.
    pub published: bool,
    /// Sections, in display order.
    pub sections: Vec<Section>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "p.id, p.slug, p.title, p.description, p.logo_url, p.published, p.created_at, p.updated_at, \
     (SELECT coalesce(jsonb_agg(jsonb_build_object('name', s.name, 'monitors', \
        (SELECT coalesce(jsonb_agg(jsonb_build_object('monitor_id', e.monitor_id, 'display_name', e.display_name, \
                   'public_id', m.public_id) ORDER BY e.position), '[]') \
           FROM status_page_monitors e JOIN monitors m ON m.id = e.monitor_id \
          WHERE e.page_id = p.id AND e.section = s.position)) ORDER BY s.position), '[]') \
        FROM status_page_sections s WHERE s.page_id = p.id)";

#[derive(serde::Deserialize)]
struct StoredEntry {
    monitor_id: Uuid,
    display_name: String,
    public_id: String,
}

#[derive(serde::Deserialize)]
struct StoredSection {
    name: String,
    monitors: Vec<StoredEntry>,
}

pub(crate) fn page(r: &tokio_postgres::Row) -> Result<StatusPage, StoreError> {
    let sections: Vec<StoredSection> = serde_json::from_value(r.get(8))
        .map_err(|e| StoreError::Corrupt(format!("status page {}: {e}", r.get::<_, Uuid>(0))))?;
    Ok(StatusPage {
        id: r.get(0),
        slug: r.get(1),
        title: r.get(2),
        description: r.get(3),
        logo_url: r.get(4),
        published: r.get(5),
        created_at: r.get(6),
        updated_at: r.get(7),
        sections: sections
            .into_iter()
            .map(|s| Section {
                name: s.name,
                monitors: s
                    .monitors
                    .into_iter()
                    .map(|e| Entry {
                        monitor_id: e.monitor_id,
                        display_name: e.display_name,
                        public_id: e.public_id,
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// Creates a page for `owner`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had; [`StoreError::Db`] when a statement fails
/// (nothing is then written): [`StoreError::is_unique_violation`] when the slug is taken.
pub async fn create(pool: &Pool, owner: Uuid, spec: &PageSpec) -> Result<StatusPage, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO status_pages (id, owner_id, slug, title, description, logo_url, published) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&id, &owner, &spec.slug, &spec.title, &spec.description, &spec.logo_url, &spec.published],
    )
    .await?;
    write_sections(&tx, id, &spec.sections).await?;
    let p =
        get_in(&tx, owner, id).await?.ok_or_else(|| StoreError::Corrupt("status page vanished".into()))?;
    tx.commit().await?;
    Ok(p)
}

/// Replaces the sections of page `id` (two statements, whatever the number of monitors).
async fn write_sections(
    tx: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
    sections: &[SectionSpec],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM status_page_sections WHERE page_id = $1", &[&id]).await?;
    let names: Vec<&str> = sections.iter().map(|s| s.name.as_str()).collect();
    tx.execute(
        "INSERT INTO status_page_sections (page_id, position, name) \
         SELECT $1, (u.n - 1)::int, u.name FROM unnest($2::text[]) WITH ORDINALITY AS u(name, n)",
        &[&id, &names],
    )
    .await?;
    let (mut section, mut position, mut monitors, mut names) = (vec![], vec![], vec![], vec![]);
    for (i, s) in sections.iter().enumerate() {
        for (j, e) in s.monitors.iter().enumerate() {
            section.push(i32::try_from(i).unwrap_or(i32::MAX));
            position.push(i32::try_from(j).unwrap_or(i32::MAX));
            monitors.push(e.monitor_id);
            names.push(e.display_name.as_str());
        }
    }
    tx.execute(
        "INSERT INTO status_page_monitors (page_id, section, position, monitor_id, display_name) \
         SELECT $1, u.s, u.p, u.m, u.d FROM unnest($2::int[], $3::int[], $4::uuid[], $5::text[]) AS u(s, p, m, d)",
        &[&id, &section, &position, &monitors, &names],
    )
    .await?;
    Ok(())
}

async fn get_in(
    client: &impl GenericClient,
    owner: Uuid,
    id: Uuid,
) -> Result<Option<StatusPage>, StoreError> {
    let stmt = client
        .prepare_cached(&format!("SELECT {COLUMNS} FROM status_pages p WHERE p.id = $1 AND p.owner_id = $2"))
        .await?;
    client.query_opt(&stmt, &[&id, &owner]).await?.as_ref().map(page).transpose()
}

/// One page of `owner`; `None` when there is none (or it is another user's).
///
/// # Errors
/// [`StoreError::Pool`], [`StoreError::Db`], or [`StoreError::Corrupt`] when a row does not decode.
pub async fn get(pool: &Pool, owner: Uuid, id: Uuid) -> Result<Option<StatusPage>, StoreError> {
    let client = pool.get().await?;
    get_in(&client, owner, id).await
}

/// `owner`'s pages in id (creation) order, after `after` when given.
///
/// # Errors
/// As [`get`].
pub async fn list(
    pool: &Pool,
    owner: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StatusPage>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM status_pages p \
             WHERE p.owner_id = $1 AND ($2::uuid IS NULL OR p.id > $2) ORDER BY p.id LIMIT $3"
        ))
        .await?;
    client.query(&stmt, &[&owner, &after, &limit]).await?.iter().map(page).collect()
}

/// Replaces everything of page `id`; `None` when `owner` has no such page.
///
/// # Errors
/// As [`create`].
pub async fn update(
    pool: &Pool,
    owner: Uuid,
    id: Uuid,
    spec: &PageSpec,
) -> Result<Option<StatusPage>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "UPDATE status_pages SET slug = $3, title = $4, description = $5, logo_url = $6, published = $7, \
               updated_at = now() WHERE id = $1 AND owner_id = $2",
            &[&id, &owner, &spec.slug, &spec.title, &spec.description, &spec.logo_url, &spec.published],
        )
        .await?;
    if n == 0 {
        return Ok(None);
    }
    write_sections(&tx, id, &spec.sections).await?;
    let p = get_in(&tx, owner, id).await?;
    tx.commit().await?;
    Ok(p)
}

/// Deletes a page; its slug when `owner` had it.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when it fails.
pub async fn delete(pool: &Pool, owner: Uuid, id: Uuid) -> Result<Option<String>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached("DELETE FROM status_pages WHERE id = $1 AND owner_id = $2 RETURNING slug")
        .await?;
    Ok(client.query_opt(&stmt, &[&id, &owner]).await?.map(|r| r.get(0)))
}
