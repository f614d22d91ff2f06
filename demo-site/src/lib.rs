//! The demo host pages the relay serves at `/` and `/logged-in`: what a site owner's pages
//! look like with the Natter snippet pasted in. Embedded in the relay binary, so the demo
//! needs no extra server.

/// A plain public website with the one-line embed snippet.
pub const PLAIN_SITE: &str = include_str!("../pages/index.html");

/// A website with a logged-in user (the signed-identity JS API arrives in a later issue).
pub const LOGGED_IN_SITE: &str = include_str!("../pages/logged-in.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_embeds_the_snippet_once() {
        for page in [PLAIN_SITE, LOGGED_IN_SITE] {
            assert_eq!(
                page.matches(r#"<script async src="/natter.js" data-site="demo"></script>"#)
                    .count(),
                1
            );
        }
    }
}
