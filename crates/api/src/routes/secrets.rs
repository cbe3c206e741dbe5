//! Secrets in the API: channel configs and monitor headers are shown masked
//! (`upcheck_secrets::mask`); a masked value sent back unchanged keeps the stored secret, and
//! a mask that is not the stored value's is a 422. The webhook signing secret is shown in full
//! only when the channel is created and on `POST /channels/{id}/secret/rotate`.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::channels::ChannelView;
use crate::state::AppState;
use actix_web::{HttpResponse, post, web};
use serde_json::Value;
use std::collections::BTreeMap;
use upcheck_domain::{ChannelKind, ProbeSpec};
use upcheck_secrets::mask;
use uuid::Uuid;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(rotate_secret);
}

/// A channel config of `kind` as the API shows it: its secret fields masked.
pub(crate) fn masked_config(kind: &str, config: &Value) -> Value {
    mask::mask_config(kind, config)
}

/// `sent` (a PATCH's new config) with every secret field that holds the mask of the stored
/// value replaced by the stored value, so a client may send back the config it read.
///
/// # Errors
/// 422 naming `config.<field>` when a secret field holds a mask that is not the stored value's.
pub(crate) fn unmasked_config(kind: &str, sent: &Value, current: &Value) -> Result<Value, ApiError> {
    let mut config = sent.clone();
    mask::restore(kind, &mut config, current).map_err(|field| {
        ApiError::invalid(
            format!("config.{field}"),
            "is masked but is not the stored value's mask: send the new value, or the masked one GET shows to keep it",
        )
    })?;
    Ok(config)
}

/// A spec's request headers in clear, opened with the API's keyring.
///
/// # Errors
/// 500 (the cause logged) when they do not open: their key is not in `SECRETS_KEY` /
/// `SECRETS_OLD_KEYS`.
pub(crate) fn open_headers(state: &AppState, spec: &ProbeSpec) -> Result<BTreeMap<String, String>, ApiError> {
    spec.open_headers(&state.secrets)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("monitor {} headers: {e}", spec.monitor_id)))
}

/// A spec with its headers opened and masked, as the API shows it.
///
/// # Errors
/// As [`open_headers`].
pub(crate) fn masked_spec(state: &AppState, mut spec: ProbeSpec) -> Result<ProbeSpec, ApiError> {
    spec.headers = mask::mask_headers(&open_headers(state, &spec)?);
    spec.sealed_headers = None;
    Ok(spec)
}

/// A PATCH's headers: `sent` with masked values of stored headers put back, or the stored
/// headers when none were sent.
///
/// # Errors
/// 422 naming `headers.<name>` when a value holds a mask that is not the stored value's.
pub(crate) fn merged_headers(
    sent: Option<BTreeMap<String, String>>,
    current: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(mut headers) = sent else { return Ok(current) };
    mask::restore_headers(&mut headers, &current).map_err(|name| {
        ApiError::invalid(
            format!("headers.{name}"),
            "is masked but is not the stored value's mask: send the new value, or the masked one GET shows to keep it",
        )
    })?;
    Ok(headers)
}

/// Replaces a webhook channel's signing secret with a new random `whsec_` one and shows the
/// channel with it in full, this once (GET shows it masked). Deliveries sign with the new
/// secret from now on; receivers must be given it.
#[utoipa::path(post, path = "/api/v1/channels/{id}/secret/rotate", tag = "channels", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ChannelView, description = "the channel, its new secret in full"),
        (status = 404, description = "no such channel"),
        (status = 422, description = "the channel's kind has no signing secret")))]
#[post("/channels/{id}/secret/rotate")]
pub(crate) async fn rotate_secret(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let current = upcheck_store::channels::get(&state.pool, &state.secrets, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("channel"))?;
    if current.kind != ChannelKind::Webhook {
        return Err(ApiError::invalid("kind", "only webhook channels have a signing secret"));
    }
    let mut config = current.config;
    let Some(obj) = config.as_object_mut() else {
        return Err(ApiError::Internal(anyhow::anyhow!("channel {} config is not an object", current.id)));
    };
    obj.insert("secret".into(), Value::String(upcheck_domain::webhook::generate_secret()));
    let c =
        upcheck_store::channels::update(&state.pool, &state.secrets, caller.id, *id, &current.name, &config)
            .await?
            .ok_or(ApiError::NotFound("channel"))?;
    Ok(HttpResponse::Ok().json(ChannelView::revealed(c)))
}
