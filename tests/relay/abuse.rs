//! Protocol abuse (S4, issue 15): frames out of order or of the wrong shape, pages on origins
//! a site does not allow, forged requests on every state-changing agent endpoint, agents on
//! admin endpoints, guessed attachment links and file names that try to be paths. Each gets a
//! clear error frame or status, the connection survives where the protocol allows, nothing is
//! stored or changed, and the relay keeps serving everyone else.
//!
//! Already covered elsewhere: malformed JSON and unknown frame types, oversized frames, wrong
//! versions and unknown sites (`visitor_socket`), forged and foreign visitor ids
//! (`visitor_socket`), another site's identity token (`identity`), lying upload types
//! (`attachments`).

use anyhow::{bail, Context, Result};
use futures_util::SinkExt;
use natter_protocol::agent::{Role, CSRF_HEADER};
use natter_protocol::visitor::{ClientFrame, ServerFrame, VISITOR_UPLOAD_PATH};
use natter_protocol::{close_code, Attachment, ErrorCode};
use natter_relay::config::SiteConfig;
use natter_relay::testing;
use reqwest::{Method, StatusCode};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::attachments::{upload, PNG_SIGNATURE};
use crate::support::{
    close_code as read_close_code, hello, open_socket, send_frame, AgentClient, VisitorClient,
};

/// The routes of the agent API, as written in the relay's source: the CSRF test reads them
/// from there so that a route added later is covered without anyone remembering to.
const INBOX_ROUTES: &str = include_str!("../../relay/src/inbox/mod.rs");

/// `(method, path)` of every route in [`INBOX_ROUTES`] that changes something.
fn state_changing_routes() -> Vec<(Method, String)> {
    let mut routes = Vec::new();
    for chunk in INBOX_ROUTES.split(".route(").skip(1) {
        let Some(path) = chunk
            .trim_start()
            .strip_prefix('"')
            .and_then(|rest| rest.split('"').next())
        else {
            continue; // A path from a constant: the agent socket (a GET).
        };
        // The handlers of this route: up to the next route.
        for (name, method) in [
            ("post(", Method::POST),
            ("put(", Method::PUT),
            ("patch(", Method::PATCH),
            ("delete(", Method::DELETE),
        ] {
            let calls = chunk.match_indices(name).any(|(at, _)| {
                // `post(` as a method router, not inside another name.
                at == 0 || !chunk.as_bytes()[at - 1].is_ascii_alphanumeric()
            });
            if calls {
                routes.push((method, path.to_owned()));
            }
        }
    }
    routes
}

#[test]
fn the_route_list_is_read_from_the_relays_source() {
    let routes = state_changing_routes();
    assert!(routes.contains(&(Method::POST, "/v1/agent/conversations/{id}/messages".into())));
    assert!(routes.contains(&(Method::DELETE, "/v1/agent/conversations/{id}".into())));
    assert!(routes.contains(&(Method::PATCH, "/v1/agent/agents/{id}".into())));
    assert!(
        !routes.iter().any(|(_, path)| path == "/v1/agent/audit"),
        "GET routes are not in the list"
    );
    assert!(routes.len() >= 15, "{routes:?}");
}

/// The first frame must be hello: anything else is refused with an error frame and the
/// reconnect close code, and the relay goes on serving other visitors.
#[tokio::test]
async fn a_frame_before_hello_is_refused_and_others_go_on_chatting() -> Result<()> {
    let relay = testing::spawn().await;
    let mut socket = open_socket(&relay).await?;
    send_frame(
        &mut socket,
        &ClientFrame::Send {
            client_id: natter_protocol::ClientMessageId::new_random(),
            text: "before hello".into(),
            attachments: vec![],
        },
    )
    .await?;
    match crate::support::next_frame(&mut socket).await? {
        ServerFrame::Error {
            code: ErrorCode::HelloRequired,
            ..
        } => {}
        other => bail!("expected hello_required, got {other:?}"),
    }
    assert_eq!(
        read_close_code(&mut socket).await?,
        close_code::HELLO_TIMEOUT
    );

    let mut other = VisitorClient::connect(&relay, None).await?;
    assert!(
        other.history.is_empty(),
        "nothing of the refused frame was stored"
    );
    other.send_text("still here").await?;
    Ok(())
}

/// A second hello on a live socket is a bad frame; the socket and its conversation go on.
#[tokio::test]
async fn a_second_hello_is_refused_and_the_socket_survives() -> Result<()> {
    let relay = testing::spawn().await;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    tab.send_text("first").await?;
    let hello_frame = hello("demo", None, None);
    send_frame(&mut tab.socket, &hello_frame).await?;
    assert!(matches!(
        tab.next().await?,
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        }
    ));
    let second = tab.send_text("second").await?;
    assert_eq!(second.seq, 2, "the same conversation goes on");
    Ok(())
}

/// Every wrong shape a frame can take: a clear `bad_frame` each, the socket stays open, and
/// nothing is stored.
#[tokio::test]
async fn frames_of_every_wrong_shape_are_refused_and_store_nothing() -> Result<()> {
    let relay = testing::spawn().await;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let uuid = uuid::Uuid::new_v4();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let junk = [
        "[]".to_owned(),
        "42".into(),
        "null".into(),
        "\"send\"".into(),
        "{}".into(),
        r#"{"type":5}"#.into(),
        r#"{"type":"SEND","client_id":"x","text":"x"}"#.into(),
        r#"{"type":"send","client_id":"not-a-uuid","text":"x"}"#.into(),
        format!(r#"{{"type":"send","client_id":"{uuid}","text":5}}"#),
        format!(r#"{{"type":"send","client_id":"{uuid}","text":"x","attachments":"all"}}"#),
        format!(r#"{{"type":"send","client_id":"{uuid}","text":"x","attachments":["../../etc"]}}"#),
        r#"{"type":"seen","up_to_seq":-1}"#.into(),
        r#"{"type":"typing","typing":"yes"}"#.into(),
        r#"{"type":"identify"}"#.into(),
        r#"{"type":"submit_form","email":["a@b.co"]}"#.into(),
        deep,
        "{\"type\":\"send\"".into(),
        "\u{feff}{}".into(),
    ];
    for frame in &junk {
        tab.socket.send(WsMessage::text(frame.as_str())).await?;
        match tab.next().await? {
            ServerFrame::Error {
                code: ErrorCode::BadFrame,
                ..
            } => {}
            other => bail!("{frame:.60}: expected bad_frame, got {other:?}"),
        }
    }
    let message = tab.send_text("after the junk").await?;
    assert_eq!(message.seq, 1, "none of the junk was stored");
    Ok(())
}

/// A page on an origin the site does not list cannot open the widget's socket (the site key
/// is public; the origin list is what keeps other sites from using it).
#[tokio::test]
async fn a_page_on_an_origin_the_site_does_not_allow_is_refused() -> Result<()> {
    let relay = testing::spawn_with(|config| {
        config.sites.push(SiteConfig {
            key: "shop".into(),
            name: "Shop".into(),
            allowed_origins: vec!["https://shop.example".into()],
            ..SiteConfig::demo()
        });
    })
    .await;
    for (origin, allowed) in [
        (Some("https://shop.example"), true),
        (Some("https://SHOP.example"), true),
        (Some("https://evil.example"), false),
        (Some("https://shop.example.evil.example"), false),
        (Some("null"), false),
        (None, false),
    ] {
        let mut request = relay.ws_url("/v1/visitor/ws").into_client_request()?;
        if let Some(origin) = origin {
            request.headers_mut().insert("origin", origin.parse()?);
        }
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        let hello_frame = hello("shop", None, None);
        send_frame(&mut socket, &hello_frame).await?;
        let answer = crate::support::next_frame(&mut socket).await?;
        match (allowed, answer) {
            (true, ServerFrame::Welcome { .. }) => {}
            (
                false,
                ServerFrame::Error {
                    code: ErrorCode::UnknownSite,
                    ..
                },
            ) => {
                assert_eq!(
                    read_close_code(&mut socket).await?,
                    close_code::UNKNOWN_SITE
                );
            }
            (_, other) => bail!("origin {origin:?}: unexpected {other:?}"),
        }
    }
    Ok(())
}

/// Every route that changes something refuses a request without the CSRF header or with a
/// wrong one — the session cookie alone, which a forged cross-site request would carry, is
/// never enough — and the refused requests changed nothing.
#[tokio::test]
async fn every_state_changing_agent_endpoint_refuses_a_forged_request() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    let question = visitor.send_text("hello").await?;
    let id = question.conversation_id.0.to_string();
    let routes = state_changing_routes();
    for (method, template) in &routes {
        if template == "/v1/agent/login" {
            // No session yet, so nothing to forge with: the session cookie is SameSite=Strict
            // (`agent_api`), and a login is no state change for someone else.
            continue;
        }
        let path = template.replace("{id}", &id);
        for csrf in [None, Some("forged"), Some("")] {
            let mut request = admin
                .http
                .request(method.clone(), relay.http_url(&path))
                .header("cookie", &admin.cookie)
                .header("origin", "https://evil.example")
                .json(&serde_json::json!({}));
            if let Some(token) = csrf {
                request = request.header(CSRF_HEADER, token);
            }
            let status = request.send().await?.status();
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {path} with csrf {csrf:?}"
            );
        }
    }
    // Nothing happened: the session is alive (logout was refused), the conversation is there
    // with only the visitor's message, unassigned and open.
    let detail: natter_protocol::agent::ConversationDetail = admin
        .get(&format!("/v1/agent/conversations/{id}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(detail.messages.len(), 1);
    assert!(detail.conversation.state.assigned_agent.is_none());
    assert_eq!(
        detail.conversation.state.status,
        natter_protocol::agent::ConversationStatus::Open
    );
    visitor.send_text("still chatting").await?;
    Ok(())
}

/// An agent (not an admin) gets 403 from every admin endpoint, and nothing changes.
#[tokio::test]
async fn an_agent_is_refused_on_every_admin_endpoint() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let (_, agent) = admin
        .create_agent(&relay, "bo@example.com", "Bo", Role::Agent)
        .await?;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    let id = visitor.send_text("hello").await?.conversation_id.0;
    let admin_id = admin.session.agent.id.0;
    let random = uuid::Uuid::new_v4();
    let calls = [
        (
            Method::POST,
            "/v1/agent/agents".to_owned(),
            serde_json::json!({"email": "mallory@example.com", "name": "M", "password": "long enough password", "role": "admin"}),
        ),
        (
            Method::PATCH,
            format!("/v1/agent/agents/{admin_id}"),
            serde_json::json!({"disabled": true}),
        ),
        (
            Method::POST,
            "/v1/agent/groups".into(),
            serde_json::json!({"name": "Mine", "members": []}),
        ),
        (
            Method::PUT,
            format!("/v1/agent/groups/{random}"),
            serde_json::json!({"name": "Mine", "members": []}),
        ),
        (
            Method::DELETE,
            format!("/v1/agent/conversations/{id}"),
            serde_json::json!({}),
        ),
        (
            Method::GET,
            "/v1/agent/audit".into(),
            serde_json::json!(null),
        ),
        (
            Method::GET,
            "/v1/agent/mail/inbound".into(),
            serde_json::json!(null),
        ),
        (
            Method::GET,
            format!("/v1/agent/mail/inbound/{random}/raw"),
            serde_json::json!(null),
        ),
        (
            Method::POST,
            "/v1/agent/saved-responses".into(),
            serde_json::json!({"category": "c", "title": "t", "body": "b"}),
        ),
        (
            Method::DELETE,
            format!("/v1/agent/saved-responses/{random}"),
            serde_json::json!({}),
        ),
    ];
    for (method, path, body) in &calls {
        let mut request = agent.with_csrf(method.clone(), path);
        if !body.is_null() {
            request = request.json(body);
        }
        let response = request.send().await?;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let error: natter_protocol::ApiError = response.json().await.context("an error body")?;
        assert_eq!(error.code, ErrorCode::Forbidden, "{method} {path}");
    }
    // Nothing changed: the conversation is there, there is no new admin, the admin can log in.
    admin
        .get(&format!("/v1/agent/conversations/{id}"))
        .send()
        .await?
        .error_for_status()?;
    assert!(
        AgentClient::login(&relay, "mallory@example.com", "long enough password")
            .await
            .is_err()
    );
    AgentClient::login_admin(&relay).await?;
    visitor.send_text("still chatting").await?;
    Ok(())
}

/// An attachment link is a capability: a guessed id, a changed token, another file's token or
/// a path trick finds nothing; and a file name that tries to be a path is only a name.
#[tokio::test]
async fn guessed_attachment_links_and_path_names_find_nothing() -> Result<()> {
    let relay = testing::spawn().await;
    let visitor = VisitorClient::connect(&relay, None).await?;
    let mut body = PNG_SIGNATURE.to_vec();
    body.resize(512, 7);
    let mut files = Vec::new();
    for name in ["..%2F..%2F..%2Fetc%2Fpasswd.png", "..\\..\\boot.png"] {
        let response = upload(&relay, &visitor, "image/png", name, body.clone()).await?;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let file: Attachment = response.json().await?;
        assert!(!file.name.contains(['/', '\\']), "{:?}", file.name);
        assert!(!file.name.starts_with('.'), "{:?}", file.name);
        files.push(file);
    }
    // Nothing was written outside the attachments directory.
    let data_dir = &relay.state.config.data_dir;
    for escaped in ["etc/passwd.png", "boot.png", "../boot.png"] {
        assert!(!data_dir.join(escaped).exists(), "{escaped}");
    }
    let (first, second) = (&files[0], &files[1]);
    let download = reqwest::get(relay.http_url(&first.url)).await?;
    assert_eq!(download.status(), StatusCode::OK);

    let token = first
        .url
        .rsplit('/')
        .next()
        .context("a token in the link")?
        .to_owned();
    let other_token = second.url.rsplit('/').next().unwrap_or_default().to_owned();
    let mut changed = token.clone();
    let last = changed.pop().unwrap_or('a');
    changed.push(if last == 'A' { 'B' } else { 'A' });
    let id = first.id.0;
    for guess in [
        format!("/v1/attachments/{}/{token}", uuid::Uuid::new_v4()),
        format!("/v1/attachments/{id}/{changed}"),
        format!("/v1/attachments/{id}/{other_token}"),
        format!("/v1/attachments/{id}/"),
        format!("/v1/attachments/{id}"),
        format!("/v1/attachments/{id}/..%2F..%2Fstore.db"),
        "/v1/attachments/..%2F..%2Fstore.db/x".to_owned(),
        format!("/v1/attachments/{id}/{token}/../../../store.db"),
    ] {
        let response = reqwest::get(relay.http_url(&guess)).await?;
        let status = response.status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
            "{guess}: {status}"
        );
        let bytes = response.bytes().await?;
        assert!(!bytes.starts_with(PNG_SIGNATURE), "{guess} served the file");
        assert!(
            !bytes.starts_with(b"SQLite format"),
            "{guess} served the database"
        );
    }
    // An upload for a site the visitor does not belong to is refused.
    let foreign = reqwest::Client::new()
        .post(relay.http_url(VISITOR_UPLOAD_PATH))
        .header(
            natter_protocol::visitor::upload_header::SITE,
            "no-such-site",
        )
        .header(
            natter_protocol::visitor::upload_header::VISITOR,
            &visitor.token,
        )
        .header(natter_protocol::visitor::upload_header::FILENAME, "a.png")
        .header("content-type", "image/png")
        .body(body)
        .send()
        .await?;
    assert!(foreign.status().is_client_error(), "{}", foreign.status());
    Ok(())
}
