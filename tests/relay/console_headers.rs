//! The console's security headers (S5): a strict Content-Security-Policy, no framing, no
//! referrer and no MIME sniffing on its page, its assets and its fallback. The browser test
//! tests/browser/csp.test.mjs checks that the built console boots under them.

use anyhow::Result;
use natter_relay::testing;
use reqwest::StatusCode;

#[tokio::test]
async fn the_console_page_and_assets_carry_the_security_headers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>inbox</title>",
    )?;
    std::fs::write(dir.path().join("natter-console-abc.js"), "export {};")?;
    let console_dir = dir.path().to_path_buf();
    let relay = testing::spawn_with(move |config| config.assets.console_dir = console_dir).await;
    let client = reqwest::Client::new();
    for path in [
        "/inbox/",
        "/inbox/natter-console-abc.js",
        "/inbox/some/deep/link",
    ] {
        let response = client.get(relay.http_url(path)).send().await?;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let header = |name: &str| {
            response.headers()[name]
                .to_str()
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let policy = header("content-security-policy");
        let host = relay.addr.to_string();
        assert!(
            policy.contains("script-src 'self' 'wasm-unsafe-eval';"),
            "{path}: {policy}"
        );
        assert!(
            policy.contains(&format!("connect-src 'self' ws://{host} wss://{host}")),
            "{path}: {policy}"
        );
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert!(!policy.contains("'unsafe-eval'"), "{path}: {policy}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    }
    Ok(())
}
