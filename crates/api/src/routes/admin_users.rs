//! Admin routes for users: list them, disable one (its logins, sessions, access tokens and API
//! keys are refused from the next request on) and enable it again. Every change is logged with
//! the admin's id.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::pagination::{PageQuery, next_cursor, uuid_cursor};
use crate::routes::admin::admin;
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;
use upcheck_store::users::User;
use utoipa::ToSchema;
use uuid::Uuid;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(disable).service(enable);
}

/// A user, as admins see them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AdminUserView {
    id: Uuid,
    email: String,
    /// `admin` or `member`.
    role: String,
    /// RFC 3339.
    created_at: String,
    /// Whether the account is disabled.
    disabled: bool,
    /// RFC 3339; null unless disabled.
    disabled_at: Option<String>,
}

impl From<User> for AdminUserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            role: u.role.as_str().into(),
            created_at: rfc3339(u.created_at),
            disabled: u.disabled_at.is_some(),
            disabled_at: u.disabled_at.map(rfc3339),
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AdminUserPage {
    items: Vec<AdminUserView>,
    next_cursor: Option<String>,
}

/// Every user, in sign-up order.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = AdminUserPage), (status = 403, description = "admins only")))]
#[get("/admin/users")]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    admin(&caller)?;
    let limit = page.limit()?;
    let after = uuid_cursor(page.cursor()?)?;
    let mut items = upcheck_store::users::list(&state.read_pool, after, limit + 1).await?;
    let next_cursor = next_cursor(&mut items, limit, |u| u.id.to_string());
    Ok(HttpResponse::Ok()
        .json(AdminUserPage { items: items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// Disables a user: their logins are refused, their sessions revoked, and their access tokens
/// and API keys refused from the next request on. An admin cannot disable themselves.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/disable", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = AdminUserView), (status = 403, description = "admins only"), (status = 404, description = "no such user"),
        (status = 422, description = "the caller's own account")))]
#[post("/admin/users/{id}/disable")]
pub(crate) async fn disable(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    admin(&caller)?;
    if *id == caller.id {
        return Err(ApiError::invalid("id", "an admin cannot disable their own account"));
    }
    let user = upcheck_store::users::set_disabled(&state.pool, *id, true)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    tracing::info!(admin = %caller.id, user = %user.id, "user disabled");
    Ok(HttpResponse::Ok().json(AdminUserView::from(user)))
}

/// Enables a disabled user again (their revoked sessions stay revoked: they log in anew; their
/// API keys work again).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/enable", tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = AdminUserView), (status = 403, description = "admins only"), (status = 404, description = "no such user")))]
#[post("/admin/users/{id}/enable")]
pub(crate) async fn enable(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    admin(&caller)?;
    let user = upcheck_store::users::set_disabled(&state.pool, *id, false)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    tracing::info!(admin = %caller.id, user = %user.id, "user enabled");
    Ok(HttpResponse::Ok().json(AdminUserView::from(user)))
}
