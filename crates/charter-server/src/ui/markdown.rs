//! Markdown as people write it in findings, comments, resolutions and policy
//! guidance, rendered to HTML that is safe to put in a page.
//!
//! pulldown-cmark parses (CommonMark, tables, strikethrough); what it produces is
//! then narrowed: raw HTML in the text is shown as text (escaped), links keep only
//! `http`, `https`, `mailto` and same-site addresses (others lose the link and keep
//! their words), images become links (the page's CSP loads no outside images), and
//! `@username` mentions are marked so they stand out. Everything else is escaped by
//! pulldown-cmark's own HTML writer.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// `text` (Markdown) as safe HTML.
pub fn render(text: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut events: Vec<Event<'_>> = Vec::new();
    // For each open link or image: whether it was kept (its end must match).
    let mut links: Vec<bool> = Vec::new();
    let mut in_code_block = false;
    for event in Parser::new_ext(text, options) {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => events.push(Event::Text(html)),
            Event::Start(Tag::CodeBlock(kind)) => {
                in_code_block = true;
                events.push(Event::Start(Tag::CodeBlock(kind)));
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code_block = false;
                events.push(Event::End(TagEnd::CodeBlock));
            }
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                let keep = is_safe_url(&dest_url);
                links.push(keep);
                if keep {
                    events.push(Event::Html(CowStr::from(format!(
                        "<a href=\"{}\" rel=\"nofollow noopener noreferrer\">",
                        escape_attribute(&dest_url)
                    ))));
                }
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if links.pop().unwrap_or(false) {
                    events.push(Event::Html(CowStr::from("</a>")));
                }
            }
            Event::Text(t) if !in_code_block => push_with_mentions(&mut events, t),
            other => events.push(other),
        }
    }
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    html
}

/// Whether a link may be followed from a page of this site: web and mail addresses,
/// and addresses without a scheme (same site). `javascript:`, `data:`, `vbscript:`
/// and every other scheme are refused, however they are spelled.
fn is_safe_url(url: &str) -> bool {
    // Browsers ignore control characters and spaces inside a scheme (`java\tscript:`).
    let cleaned: String = url
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let scheme_end = cleaned.find(':');
    let path_start = cleaned.find(['/', '?', '#']);
    match (scheme_end, path_start) {
        // No scheme at all, or a colon only after the path began: a relative address.
        (None, _) => !cleaned.starts_with("//"),
        (Some(c), Some(p)) if p < c => !cleaned.starts_with("//"),
        (Some(c), _) => matches!(&cleaned[..c], "http" | "https" | "mailto"),
    }
}

fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Split text so that each `@username` (as [`crate::governance::finding::mentions`]
/// reads them) is wrapped in `<span class="mention">`.
fn push_with_mentions<'a>(events: &mut Vec<Event<'a>>, text: CowStr<'a>) {
    let names = crate::governance::finding::mentions(&text);
    if names.is_empty() {
        events.push(Event::Text(text));
        return;
    }
    let s: &str = &text;
    let mut rest_start = 0;
    let mut prev: Option<char> = None;
    let mut i = 0;
    while i < s.len() {
        let c = s[i..].chars().next().unwrap_or(' ');
        if c == '@' && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '`') {
            let after = &s[i + 1..];
            if let Some(name) = names.iter().find(|n| {
                after.starts_with(n.as_str())
                    && !after[n.len()..]
                        .chars()
                        .next()
                        .is_some_and(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            }) {
                if rest_start < i {
                    events.push(Event::Text(CowStr::from(s[rest_start..i].to_owned())));
                }
                // Usernames are lower-case letters, digits and `.-_`: nothing to escape.
                events.push(Event::Html(CowStr::from(format!(
                    "<span class=\"mention\">@{name}</span>"
                ))));
                i += 1 + name.len();
                rest_start = i;
                prev = name.chars().last();
                continue;
            }
        }
        prev = Some(c);
        i += c.len_utf8();
    }
    if rest_start < s.len() {
        events.push(Event::Text(CowStr::from(s[rest_start..].to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_becomes_html() {
        let html = render("**Bold** and *light*, `code`\n\n- one\n- two");
        assert!(html.contains("<strong>Bold</strong>"), "{html}");
        assert!(html.contains("<em>light</em>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
    }

    #[test]
    fn raw_html_is_shown_as_text_never_run() {
        for attack in [
            "<script>alert(1)</script>",
            "hello <img src=x onerror=alert(1)> there",
            "<div onclick=\"alert(1)\">click</div>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "x <svg/onload=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>",
        ] {
            let html = render(attack);
            assert!(
                !contains_tag(&html, &["script", "img", "div", "iframe", "svg", "a "]),
                "{attack} → {html}"
            );
            assert!(html.contains("&lt;"), "{attack} → {html}");
        }
    }

    fn contains_tag(html: &str, tags: &[&str]) -> bool {
        tags.iter().any(|t| html.contains(&format!("<{t}")))
    }

    #[test]
    fn dangerous_links_lose_their_address_and_keep_their_words() {
        for url in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "&#106;avascript:alert(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "vbscript:msgbox(1)",
            "//evil.example/x",
        ] {
            let html = render(&format!("[click me]({url})"));
            assert!(!html.contains("href"), "{url} → {html}");
            assert!(html.contains("click me"), "{url} → {html}");
            let html = render(&format!("![pic]({url})"));
            assert!(!html.contains("href") && !html.contains("<img"), "{url} → {html}");
        }
    }

    #[test]
    fn safe_links_stay_links_and_attributes_are_escaped() {
        let html =
            render("[report](https://example.com/a?b=1&c=\"2\") and [here](/findings/fnd_1) and <https://x.example>");
        assert!(
            html.contains("href=\"https://example.com/a?b=1&amp;c=%222%22\"")
                || html.contains("href=\"https://example.com/a?b=1&amp;c=&quot;2&quot;\""),
            "{html}"
        );
        assert!(html.contains("href=\"/findings/fnd_1\""), "{html}");
        assert!(html.contains("href=\"https://x.example\""), "{html}");
        assert!(html.contains("rel=\"nofollow noopener noreferrer\""), "{html}");
        let html = render("![chart](https://example.com/c.png)");
        assert!(
            html.contains("<a href=\"https://example.com/c.png\"") && !html.contains("<img"),
            "{html}"
        );
    }

    #[test]
    fn mentions_stand_out_except_in_code() {
        let html = render("@ann please check; mail@example.com is not a mention; `@bob` neither");
        assert!(html.contains("<span class=\"mention\">@ann</span>"), "{html}");
        assert!(!html.contains("@example.com</span>"), "{html}");
        assert!(html.contains("<code>@bob</code>"), "{html}");
        let html = render("```\n@carl\n```");
        assert!(!html.contains("mention"), "{html}");
    }

    #[test]
    fn text_that_looks_like_markup_is_escaped() {
        let html = render("a < b & c > d \"quoted\"");
        assert!(html.contains("a &lt; b &amp; c &gt; d"), "{html}");
    }
}
