//! Serving the front-ends: the loader `/natter.js`, the widget's hashed assets under
//! `/widget/`, the console under `/inbox/`, and the demo site at `/` (R1).
//!
//! Trunk names the widget's JS glue and `.wasm` by content hash, so they are cached for a
//! year; the loader itself has a stable URL (it is in every site's snippet) and a short cache
//! lifetime, and is rendered at start-up with the current hashed names filled in. Each site's
//! look (W13) is a small stylesheet, `/widget/site/<key>.css` ([`site_style`]), with the
//! same short lifetime so a changed theme reaches pages within minutes. The console is
//! served with a strict Content-Security-Policy and framing, referrer and sniffing headers
//! ([`console_security`]).

mod console_security;
mod site_style;

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;

/// Placeholders in `widget/loader/natter.js` that the relay fills with the hashed asset paths.
const APP_JS_PLACEHOLDER: &str = "__NATTER_APP_JS__";
const APP_WASM_PLACEHOLDER: &str = "__NATTER_APP_WASM__";

/// Hashed assets never change under the same name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The loader, site styles and HTML pages: short, so a new release or a changed theme
/// reaches pages within minutes.
const SHORT_CACHE: &str = "public, max-age=300";
/// What follows the site key in a site stylesheet's file name.
const SITE_STYLE_SUFFIX: &str = ".css";

/// The loader as served, or why it cannot be.
#[derive(Debug, Clone)]
pub enum Loader {
    Ready(String),
    /// The widget has not been built (or its build is incomplete).
    Missing(String),
}

impl Loader {
    /// Reads Trunk's widget output and fills the hashed asset names into the loader.
    pub fn render(widget_dir: &Path) -> Self {
        match Self::try_render(widget_dir) {
            Ok(loader) => Self::Ready(loader),
            Err(reason) => {
                tracing::warn!(%reason, "the widget is not built; /natter.js will answer 503");
                Self::Missing(reason)
            }
        }
    }

    fn try_render(widget_dir: &Path) -> Result<String, String> {
        let template = std::fs::read_to_string(widget_dir.join("natter.js"))
            .map_err(|error| format!("{}/natter.js: {error}", widget_dir.display()))?;
        let entries = std::fs::read_dir(widget_dir)
            .map_err(|error| format!("{}: {error}", widget_dir.display()))?;
        let mut glue = None;
        let mut wasm = None;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("natter-widget") && name.ends_with("_bg.wasm") {
                wasm = Some(name);
            } else if name.starts_with("natter-widget") && name.ends_with(".js") {
                glue = Some(name);
            }
        }
        let glue = glue.ok_or("no natter-widget-*.js in the widget build")?;
        let wasm = wasm.ok_or("no natter-widget-*_bg.wasm in the widget build")?;
        Ok(template
            .replace(APP_JS_PLACEHOLDER, &format!("/widget/{glue}"))
            .replace(APP_WASM_PLACEHOLDER, &format!("/widget/{wasm}")))
    }
}

pub fn router(widget_dir: PathBuf, console_dir: PathBuf) -> Router<AppState> {
    // The loader imports the glue and fetches the .wasm from the host page's origin: they are
    // public, immutable files, so any origin may read them (CORS). Without this the launcher
    // draws on a customer's site but the chat never loads.
    let widget = Router::new()
        // The `.br` / `.gz` files `cargo xtask` writes at build time (brotli quality 11: what
        // keeps opening the chat under its 150 KB budget).
        .nest_service(
            "/widget",
            ServeDir::new(&widget_dir)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(IMMUTABLE),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("cross-origin"),
        ));
    // Console: hashed assets, plus index.html for any other path under /inbox/; every answer
    // with the console's security headers (S5).
    let console_index = console_dir.join("index.html");
    let console = Router::new()
        .nest_service(
            "/inbox/",
            ServeDir::new(&console_dir)
                .precompressed_br()
                .precompressed_gzip()
                .fallback(ServeFile::new(console_index)),
        )
        .layer(axum::middleware::map_response(console_security::headers));
    Router::new()
        .route("/natter.js", get(loader))
        // More specific than the `/widget` directory above, so it wins for this one path.
        .route("/widget/site/{file}", get(site_style))
        .route("/", get(|| async { page(natter_demo_site::PLAIN_SITE) }))
        .route(
            "/logged-in",
            get(|| async { page(natter_demo_site::LOGGED_IN_SITE) }),
        )
        .route("/inbox", get(|| async { Redirect::permanent("/inbox/") }))
        // Browsers ask every origin for a favicon; answer without a 404 in every console.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .merge(widget)
        .merge(console)
        .layer(axum::middleware::map_response(console_cache_headers))
        .layer(CompressionLayer::new())
}

async fn loader(State(state): State<AppState>) -> Response {
    let javascript = HeaderValue::from_static("text/javascript; charset=utf-8");
    match state.loader.as_ref() {
        Loader::Ready(source) => (
            [
                (header::CONTENT_TYPE, javascript),
                (header::CACHE_CONTROL, HeaderValue::from_static(SHORT_CACHE)),
            ],
            source.clone(),
        )
            .into_response(),
        Loader::Missing(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::CONTENT_TYPE, javascript),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            format!(
                "console.error({:?});",
                format!("Natter: the widget is not built ({reason}); run `cargo xtask demo`")
            ),
        )
            .into_response(),
    }
}

/// `GET /widget/site/<key>.css`: the site's look, for the loader's shadow root. Public like
/// the rest of `/widget/` (the site key is in every page's snippet), so any origin may load
/// it. An unknown site is a 404: the loader then keeps its default look.
async fn site_style(State(state): State<AppState>, UrlPath(file): UrlPath<String>) -> Response {
    let site = file
        .strip_suffix(SITE_STYLE_SUFFIX)
        .and_then(|key| state.config.site(key));
    let Some(site) = site else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            "no such site",
        )
            .into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(SHORT_CACHE)),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        site_style::render(&site.theme),
    )
        .into_response()
}

fn page(html: &'static str) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static(SHORT_CACHE))],
        Html(html),
    )
}

/// The console's index.html must always be revalidated; its hashed assets never.
async fn console_cache_headers(uri: Uri, mut response: Response) -> Response {
    let path = uri.path();
    if path.starts_with("/inbox/") && response.status().is_success() {
        let is_asset = path.ends_with(".js") || path.ends_with(".wasm") || path.ends_with(".css");
        let value = if is_asset { IMMUTABLE } else { "no-cache" };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}
