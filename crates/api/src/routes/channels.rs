//! Notification channels (webhook, slack, discord, teams, telegram, pagerduty, ntfy) and test
//! sends.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ValidJson;
use crate::pagination::{PageQuery, next_cursor, uuid_cursor};
use crate::routes::{check_target, rfc3339, validate_name};
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use upcheck_domain::ChannelKind;
use upcheck_domain::channel::{self as kinds, ChannelConfig, host_allowed};
use upcheck_store::channels::Channel;
use utoipa::ToSchema;
use uuid::Uuid;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(get_one).service(update).service(remove).service(test);
}

/// A channel's `config`, by its `kind` (documentation only: the API parses it by `kind`).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum ChannelConfigDoc {
    /// `webhook`: URL and Standard Webhooks secret (generated when absent).
    Webhook(kinds::WebhookConfig),
    /// `slack`: incoming webhook URL.
    Slack(kinds::SlackConfig),
    /// `discord`: webhook URL.
    Discord(kinds::DiscordConfig),
    /// `teams`: Workflows webhook URL.
    Teams(kinds::TeamsConfig),
    /// `telegram`: bot token, chat, optional forum topic.
    Telegram(kinds::TelegramConfig),
    /// `pagerduty`: Events API v2 routing key.
    PagerDuty(kinds::PagerDutyConfig),
    /// `ntfy`: topic, server, priority, tags, token.
    Ntfy(kinds::NtfyConfig),
    /// `email`: recipients, optionally the user's own SMTP server (where the operator allows it).
    Email(kinds::EmailConfig),
}

/// A new channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateChannel {
    /// `webhook`, `slack`, `discord`, `teams`, `telegram`, `pagerduty`, `ntfy` or `email`.
    #[schema(example = "slack")]
    kind: String,
    /// 1 to 200 characters.
    name: String,
    /// The kind's config, validated field by field; a webhook's secret is generated when absent.
    #[schema(value_type = ChannelConfigDoc, example = json!({"url": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"}))]
    config: Value,
}

/// Changes to a channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateChannel {
    name: Option<String>,
    /// Replaces the config, validated as on create for the channel's kind (a webhook keeps its
    /// secret when the new config has none; a secret sent back masked, as GET shows it, is kept).
    #[schema(value_type = Option<ChannelConfigDoc>)]
    config: Option<Value>,
}

/// A channel. Its secret fields (a webhook's `secret`, a Slack URL, …) are masked
/// (`••••3f9a`), except in the answer to its creation and to `POST /channels/{id}/secret/rotate`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChannelView {
    id: Uuid,
    kind: String,
    name: String,
    #[schema(value_type = ChannelConfigDoc)]
    config: Value,
    created_at: String,
    updated_at: String,
}

impl From<Channel> for ChannelView {
    /// The channel with its secrets masked.
    fn from(c: Channel) -> Self {
        let config = crate::routes::secrets::masked_config(c.kind.as_str(), &c.config);
        Self { config, ..Self::revealed(c) }
    }
}

impl ChannelView {
    /// The channel with its secrets in full: only for its creation and a secret rotation.
    pub(crate) fn revealed(c: Channel) -> Self {
        Self {
            id: c.id,
            kind: c.kind.as_str().into(),
            name: c.name,
            config: c.config,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

/// A page of channels.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChannelPage {
    items: Vec<ChannelView>,
    next_cursor: Option<String>,
}

/// What a test send did: whether the receiver accepted it and, if it answered, its status
/// code. Nothing about the connection (refused, timed out, blocked, latency) is told, so a
/// test send cannot be used to scan the network the API runs in.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TestResult {
    delivered: bool,
    http_status: Option<u16>,
}

/// Checks a webhook config `{url, secret?}`, generating the secret (or keeping `keep`) when absent.
fn webhook_config(state: &AppState, config: &Value, keep: Option<&str>) -> Result<Value, ApiError> {
    let obj = config.as_object().ok_or_else(|| ApiError::invalid("config", "must be an object"))?;
    if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "url" | "secret")) {
        return Err(ApiError::invalid(format!("config.{k}"), "unknown field; expected url or secret"));
    }
    let url =
        obj.get("url").and_then(Value::as_str).ok_or_else(|| ApiError::invalid("config.url", "required"))?;
    upcheck_domain::monitor::validate_url(url).map_err(|e| ApiError::invalid("config.url", e.message))?;
    check_target(state, "config.url", url)?;
    let secret = match obj.get("secret") {
        None | Some(Value::Null) => {
            keep.map(str::to_string).unwrap_or_else(upcheck_domain::webhook::generate_secret)
        }
        Some(Value::String(s)) => {
            upcheck_domain::webhook::secret_key(s)
                .map_err(|e| ApiError::invalid("config.secret", e.to_string()))?;
            s.clone()
        }
        Some(_) => return Err(ApiError::invalid("config.secret", "must be a string")),
    };
    Ok(json!({"url": url, "secret": secret}))
}

/// Checks `kind`'s config field by field, and every URL in it against the network policy
/// and, for Slack and Discord, the operator's host list; a webhook keeps `current`'s secret
/// (or gets a new one) when the config has none.
fn channel_config(
    state: &AppState,
    kind: ChannelKind,
    config: &Value,
    current: Option<&Value>,
) -> Result<Value, ApiError> {
    if kind == ChannelKind::Webhook {
        return webhook_config(state, config, current.and_then(|c| c["secret"].as_str()));
    }
    if kind == ChannelKind::Email {
        return upcheck_channels::email::validate(
            config,
            &state.settings.smtp,
            &state.settings.probe.policy,
            current,
        )
        .map_err(|(field, why)| ApiError::invalid(field, why));
    }
    let parsed = ChannelConfig::from_json(kind, config)?;
    let (hosts, var) = match kind {
        ChannelKind::Slack => (state.settings.channels.slack_webhook_hosts.as_slice(), "SLACK_WEBHOOK_HOSTS"),
        ChannelKind::Discord => {
            (state.settings.channels.discord_webhook_hosts.as_slice(), "DISCORD_WEBHOOK_HOSTS")
        }
        _ => (&[][..], ""),
    };
    for (field, url) in parsed.urls() {
        check_target(state, field, url)?;
        if !host_allowed(url, hosts) {
            return Err(ApiError::invalid(
                field,
                format!("host must be one of {} ({var})", hosts.join(", ")),
            ));
        }
    }
    Ok(parsed.to_json())
}

/// Creates a channel; the answer shows its secrets (a webhook's generated `secret`) in full,
/// this once.
#[utoipa::path(post, path = "/api/v1/channels", tag = "channels", request_body = CreateChannel, security(("bearer" = [])),
    responses((status = 201, body = ChannelView, description = "the channel, its secrets in full"), (status = 422, description = "a field is invalid")))]
#[post("/channels")]
pub(crate) async fn create(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: ValidJson<CreateChannel>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let Some(kind) = ChannelKind::parse(&b.kind) else {
        return Err(ApiError::invalid("kind", format!("must be one of {}", ChannelKind::names())));
    };
    let name = validate_name(&b.name)?;
    let config = channel_config(&state, kind, &b.config, None)?;
    let c =
        upcheck_store::channels::create(&state.pool, &state.secrets, caller.id, kind, &name, &config).await?;
    Ok(HttpResponse::Created().json(ChannelView::revealed(c)))
}

/// The caller's channels, oldest first.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = ChannelPage)))]
#[get("/channels")]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after = uuid_cursor(page.cursor()?)?;
    let mut items =
        upcheck_store::channels::list(&state.read_pool, &state.secrets, caller.id, after, limit + 1).await?;
    let next_cursor = next_cursor(&mut items, limit, |c| c.id.to_string());
    Ok(HttpResponse::Ok()
        .json(ChannelPage { items: items.into_iter().map(ChannelView::from).collect(), next_cursor }))
}

/// One channel.
#[utoipa::path(get, path = "/api/v1/channels/{id}", tag = "channels", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = ChannelView), (status = 404, description = "no such channel")))]
#[get("/channels/{id}")]
pub(crate) async fn get_one(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let c = upcheck_store::channels::get(&state.pool, &state.secrets, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("channel"))?;
    Ok(HttpResponse::Ok().json(ChannelView::from(c)))
}

/// Renames or reconfigures a channel. A secret field sent back as GET shows it (masked) keeps
/// the stored secret; another masked value is a 422.
#[utoipa::path(patch, path = "/api/v1/channels/{id}", tag = "channels", params(("id" = Uuid, Path)), request_body = UpdateChannel,
    security(("bearer" = [])), responses((status = 200, body = ChannelView), (status = 404, description = "no such channel")))]
#[patch("/channels/{id}")]
pub(crate) async fn update(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    body: ValidJson<UpdateChannel>,
) -> Result<HttpResponse, ApiError> {
    let current = upcheck_store::channels::get(&state.pool, &state.secrets, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("channel"))?;
    let b = body.0;
    let name = validate_name(b.name.as_deref().unwrap_or(&current.name))?;
    let config = match &b.config {
        Some(c) => {
            let c = crate::routes::secrets::unmasked_config(current.kind.as_str(), c, &current.config)?;
            channel_config(&state, current.kind, &c, Some(&current.config))?
        }
        None => current.config.clone(),
    };
    let c = upcheck_store::channels::update(&state.pool, &state.secrets, caller.id, *id, &name, &config)
        .await?
        .ok_or(ApiError::NotFound("channel"))?;
    Ok(HttpResponse::Ok().json(ChannelView::from(c)))
}

/// Deletes a channel; pending notifications to it are marked failed when their turn comes.
#[utoipa::path(delete, path = "/api/v1/channels/{id}", tag = "channels", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such channel")))]
#[delete("/channels/{id}")]
pub(crate) async fn remove(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    if !upcheck_store::channels::delete(&state.pool, caller.id, *id).await? {
        return Err(ApiError::NotFound("channel"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a test notification now over the channel's kind: `{"type": "test", "channel_id",
/// "occurred_at"}` (signed, for a webhook; rendered as a message, for the others), under the
/// same network policy as deliveries. Answers only whether it was delivered and the status code.
#[utoipa::path(post, path = "/api/v1/channels/{id}/test", tag = "channels", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = TestResult), (status = 404, description = "no such channel")))]
#[post("/channels/{id}/test")]
pub(crate) async fn test(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let c = upcheck_store::channels::get(&state.pool, &state.secrets, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("channel"))?;
    let body =
        json!({"type": "test", "channel_id": c.id, "occurred_at": rfc3339(time::OffsetDateTime::now_utc())});
    let r = state.channels.deliver(Uuid::now_v7(), c.kind, &c.config, &body).await;
    Ok(HttpResponse::Ok().json(TestResult { delivered: r.delivered, http_status: r.http_status }))
}
