//! The demo host pages the relay serves at `/` and `/logged-in`: what a site owner's pages
//! look like with the Natter snippet pasted in. Embedded in the relay binary, so the demo
//! needs no extra server.

/// A plain public website with the embed snippet.
pub const PLAIN_SITE: &str = include_str!("../pages/index.html");

/// A website with a logged-in user: it signs an identity token on "its server" (the relay's
/// demo endpoint), passes it to `natter('identify', …)`, and calls `natter('reset')` on logout.
pub const LOGGED_IN_SITE: &str = include_str!("../pages/logged-in.html");

/// The snippet's first line: `natter()` as a queue, safe to call before the loader has run.
pub const QUEUE_SNIPPET: &str =
    "<script>window.natter=window.natter||function(){(natter.q=natter.q||[]).push(arguments)};</script>";

/// The snippet's second line, for the demo site on this relay.
pub const LOADER_SNIPPET: &str = r#"<script async src="/natter.js" data-site="demo"></script>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_embeds_the_snippet_once_queue_first() {
        for page in [PLAIN_SITE, LOGGED_IN_SITE] {
            assert_eq!(page.matches(QUEUE_SNIPPET).count(), 1);
            assert_eq!(page.matches(LOADER_SNIPPET).count(), 1);
            let queue = page.find(QUEUE_SNIPPET).unwrap_or(usize::MAX);
            let loader = page.find(LOADER_SNIPPET).unwrap_or(0);
            assert!(
                queue < loader,
                "the queue must be defined before the loader"
            );
        }
    }
}
