//! Message text with the safe Markdown subset (I13), rendered from
//! `natter_protocol::markdown` nodes as elements and text nodes, never as HTML: raw HTML in
//! a message shows as text. The widget renders the same nodes.

use leptos::prelude::*;
use natter_protocol::markdown::{parse, Inline, LINK_REL};

/// Renders a message's text.
pub fn rich_text(text: &str) -> AnyView {
    nodes(parse(text))
}

fn nodes(nodes: Vec<Inline>) -> AnyView {
    nodes
        .into_iter()
        .map(|node| match node {
            Inline::Text(text) => text.into_any(),
            Inline::Bold(children) => view! { <strong>{nodes_boxed(children)}</strong> }.into_any(),
            Inline::Italic(children) => view! { <em>{nodes_boxed(children)}</em> }.into_any(),
            Inline::Link { href, children } => view! {
                <a href=href rel=LINK_REL target="_blank">{nodes_boxed(children)}</a>
            }
            .into_any(),
            Inline::LineBreak => view! { <br /> }.into_any(),
        })
        .collect_view()
        .into_any()
}

// Recursion through a function pointer keeps the view types finite.
fn nodes_boxed(children: Vec<Inline>) -> AnyView {
    nodes(children)
}
