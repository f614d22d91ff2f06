//! Stopping the relay binary with SIGTERM (a deploy, a service manager): every visitor and
//! agent socket gets the reconnect close code (4000), so clients can tell a restart from a
//! network cut, and the process exits with success.

use anyhow::Result;
use natter_protocol::close_code::GOING_AWAY;

use crate::process_support::RelayProcess;
use crate::support::{close_code, AgentClient, VisitorClient};

/// Enough sockets that closing them all takes longer than the rest of the shutdown.
const VISITORS: usize = 300;

#[tokio::test]
async fn sigterm_closes_every_socket_with_the_reconnect_code_and_exits_cleanly() -> Result<()> {
    let data = tempfile::tempdir()?;
    let mut relay = RelayProcess::start(data.path(), &[])?;
    let mut visitors = Vec::new();
    for _ in 0..VISITORS {
        visitors.push(VisitorClient::connect(&relay, None).await?);
    }
    visitors[0].send_text("before the restart").await?;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut console = agent.socket(&relay).await?;

    assert!(relay.terminate()?, "the relay exits with success");
    for visitor in &mut visitors {
        assert_eq!(close_code(&mut visitor.socket).await?, GOING_AWAY);
    }
    assert_eq!(close_code(&mut console).await?, GOING_AWAY);
    Ok(())
}
