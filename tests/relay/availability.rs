//! Availability (W6): the widget hears whether any agent is online, right after the welcome and
//! whenever that changes, from the agents' console sockets.

use anyhow::{bail, Result};
use natter_protocol::visitor::ServerFrame;
use natter_relay::testing;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{hello, next_frame_raw, open_socket, send_frame, AgentClient};

async fn availability(socket: &mut crate::support::Socket) -> Result<bool> {
    match next_frame_raw(socket).await? {
        ServerFrame::Availability { agents_online } => Ok(agents_online),
        other => bail!("expected availability, got {other:?}"),
    }
}

#[tokio::test]
async fn the_widget_hears_when_agents_come_online_and_leave() -> Result<()> {
    let relay = testing::spawn_with(|config| config.limits.agent_presence_grace_secs = 0).await;
    let mut visitor = open_socket(&relay).await?;
    let hello_frame = hello("demo", None, None);
    send_frame(&mut visitor, &hello_frame).await?;
    assert!(matches!(
        next_frame_raw(&mut visitor).await?,
        ServerFrame::Welcome { .. }
    ));
    assert!(
        !availability(&mut visitor).await?,
        "nobody online yet: the widget shows the away state"
    );

    // An agent opens the console: their socket makes them present.
    let agent = AgentClient::login_admin(&relay).await?;
    let mut request = relay.ws_url("/v1/agent/ws").into_client_request()?;
    request
        .headers_mut()
        .insert("cookie", agent.cookie.parse()?);
    let (console, _) = tokio_tungstenite::connect_async(request).await?;
    assert!(availability(&mut visitor).await?);

    // They close it; after the grace period (0 here) they are gone.
    drop(console);
    assert!(!availability(&mut visitor).await?);
    Ok(())
}
