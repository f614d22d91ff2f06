//! The relay binary as a child process, for tests that need a real process: killed with
//! SIGKILL, stopped with SIGTERM, several of them on one database.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use natter_relay::testing::{ADMIN_EMAIL, ADMIN_PASSWORD};

use crate::mail_mta::relay_binary;
use crate::support::Endpoint;

/// How long a relay process may take to say it listens, or to stop.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A relay process, killed when dropped.
pub struct RelayProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl Endpoint for RelayProcess {
    fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }
}

impl RelayProcess {
    /// Starts the relay binary on port 0 with `data_dir` and the `NATTER_…` settings in `env`,
    /// and waits for the address it prints.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Result<Self> {
        let mut child = Command::new(relay_binary()?)
            .args(["--addr", "127.0.0.1:0"])
            // No natter.toml from the working directory: only what is set here.
            .current_dir(data_dir)
            .env("NATTER_DATA_DIR", data_dir)
            .envs(env.iter().copied())
            .env("NATTER_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("NATTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting natter-relay")?;
        let stdout = child.stdout.take().context("the relay's stdout")?;
        let (found, address) = mpsc::channel();
        // Reads every line, so the relay never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("Natter relay listening on http://") {
                    let _ = found.send(addr.trim().to_owned());
                }
            }
        });
        let addr = match address.recv_timeout(START_TIMEOUT) {
            Ok(addr) => addr.parse()?,
            Err(_) => {
                let _ = child.kill();
                bail!("the relay did not listen within {START_TIMEOUT:?}");
            }
        };
        Ok(Self { child, addr })
    }

    /// `kill -9`: no shutdown, no close frames, no goodbye on the bus.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl RelayProcess {
    /// SIGTERM, as a service manager stops the relay; returns whether it exited with success
    /// within [`START_TIMEOUT`].
    pub fn terminate(&mut self) -> Result<bool> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.success());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(false)
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
