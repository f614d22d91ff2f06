//! Installing the build and test tools, each only when missing or at the wrong version, so a
//! warm run costs a few version checks. Everything comes from crates.io, npm or Debian: a step
//! that downloads a binary from anywhere else fails on these machines.
//! The recipe and its reasons are in `../shared/research/toolchain.md`.

use anyhow::{Context, Result};

use crate::shell::{self, command, output, run};

/// Trunk 0.22 needs a newer rustc than the machines have.
const TRUNK_VERSION: &str = "0.21.14";
/// Must equal `wasm-bindgen` in Cargo.lock (pinned `=0.2.130` in the workspace).
const WASM_BINDGEN_VERSION: &str = "0.2.130";

pub fn ensure_build_tools() -> Result<()> {
    let installed_targets = output(command("rustup").args(["target", "list", "--installed"]));
    if !installed_targets
        .is_some_and(|targets| targets.lines().any(|t| t == "wasm32-unknown-unknown"))
    {
        run(command("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let trunk = output(command("trunk").arg("--version"));
    if !trunk.is_some_and(|version| version.ends_with(TRUNK_VERSION)) {
        run(shell::cargo().args(["install", "trunk", "--version", TRUNK_VERSION, "--locked"]))?;
    }
    let wasm_bindgen = output(command("wasm-bindgen").arg("--version"));
    if !wasm_bindgen.is_some_and(|version| version.contains(WASM_BINDGEN_VERSION)) {
        // Not --locked: its lockfile pins a webpki-roots version the registry no longer has.
        run(shell::cargo().args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &format!("={WASM_BINDGEN_VERSION}"),
        ]))?;
    }
    ensure_npm_tools()
}

/// wasm-opt (binaryen 132), terser, playwright-core and axe-core, from
/// `tools/package-lock.json`. Each is checked, so adding a tool to the lock file installs it
/// on machines that already have the others.
fn ensure_npm_tools() -> Result<()> {
    let root = shell::root();
    let installed = [
        "tools/node_modules/.bin/wasm-opt",
        "tools/node_modules/.bin/terser",
        "tools/node_modules/playwright-core/package.json",
        "tools/node_modules/axe-core/axe.min.js",
    ];
    if installed.iter().all(|path| root.join(path).exists()) {
        return Ok(());
    }
    run(command("npm").args(["ci", "--no-audit", "--no-fund", "--prefix", "tools"]))
}

/// Debian's Chromium and ChromeDriver, for the browser tests.
pub fn ensure_browser() -> Result<()> {
    if std::path::Path::new("/usr/bin/chromium").exists() {
        return Ok(());
    }
    apt_install(&["chromium", "chromium-driver"]).context("installing Chromium from Debian")
}

/// The email tests' real parts (E1–E5): an SMTP server (Python's aiosmtpd, from PyPI) and an
/// MTA (Debian's postfix, configured per test run in a directory of its own).
pub fn ensure_mail_tools() -> Result<()> {
    let has_aiosmtpd = command("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !has_aiosmtpd {
        run(command("python3").args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "aiosmtpd==1.4.6",
        ]))
        .context("installing aiosmtpd from PyPI")?;
    }
    if !std::path::Path::new("/usr/sbin/postfix").exists() {
        apt_install(&["postfix"]).context("installing postfix from Debian")?;
    }
    Ok(())
}

/// Debian's nginx, for the multi-node browser test (`tests/browser/multinode.test.mjs`): it runs
/// a private nginx process of its own (own config, pid file, temp and log directories, a free
/// loopback port) in front of two relay nodes, never the system service. Where the package's
/// install would start that service, Debian's `policy-rc.d` decides; the tests do not need it.
pub fn ensure_nginx() -> Result<()> {
    if std::path::Path::new(NGINX).exists() {
        return Ok(());
    }
    apt_install(&["nginx"]).context("installing nginx from Debian")
}

/// Where Debian's package puts the binary (the test runs it by this path, or `NGINX`).
const NGINX: &str = "/usr/sbin/nginx";

/// `apt-get install` (through sudo when not root), non-interactive.
fn apt_install(packages: &[&str]) -> Result<()> {
    let sudo = if output(command("id").arg("-u")).as_deref() == Some("0") {
        None
    } else {
        Some("sudo")
    };
    let apt = |args: &[&str]| {
        let mut apt = match sudo {
            Some(sudo) => {
                let mut c = command(sudo);
                c.arg("apt-get");
                c
            }
            None => command("apt-get"),
        };
        apt.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        apt
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq"]);
    install.args(packages);
    run(&mut install)
}
