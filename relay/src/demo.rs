//! The demo site's "server side": `POST /demo/identity-token` signs an identity token for the
//! logged-in demo user, as a real site's backend would (S2).
//!
//! It signs only with the demo site's public secret ([`DEMO_IDENTITY_SECRET`]): a deployment
//! that gives the demo site a real secret, or has no demo site, gets a 404 here, so this
//! endpoint can never mint tokens that a real site would accept.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::config::{DEMO_IDENTITY_SECRET, DEMO_SITE_KEY};
use crate::contacts::{sign_token, IdentityClaims};
use crate::error::HttpError;
use crate::AppState;

/// Demo tokens live ten minutes: short, like a real site's should.
const DEMO_TOKEN_LIFETIME_SECS: u64 = 600;

#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    email: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Serialize)]
struct TokenResponse {
    email: String,
    name: String,
    token: String,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/demo/identity-token", post(identity_token))
}

async fn identity_token(
    State(state): State<AppState>,
    request: Option<Json<TokenRequest>>,
) -> Result<Json<TokenResponse>, HttpError> {
    let demo_secret_in_use = state.config.site(DEMO_SITE_KEY).is_some_and(|site| {
        site.identity_secret
            .as_ref()
            .is_some_and(|secret| secret.expose() == DEMO_IDENTITY_SECRET)
    });
    if !demo_secret_in_use {
        return Err(HttpError::not_found(
            "the demo site is not enabled on this relay",
        ));
    }
    let request = request.map(|Json(request)| request).unwrap_or_default();
    let email = request.email.unwrap_or_else(|| "ada@example.com".into());
    let name = request.name.unwrap_or_else(|| "Ada Lovelace".into());
    let exp =
        u64::try_from(state.clock.now() / 1000).unwrap_or_default() + DEMO_TOKEN_LIFETIME_SECS;
    let claims = IdentityClaims {
        email: email.clone(),
        name: Some(name.clone()),
        exp,
    };
    let token = sign_token(DEMO_IDENTITY_SECRET, &claims).map_err(HttpError::internal)?;
    Ok(Json(TokenResponse { email, name, token }))
}
