//! The knowledge base: a folder of Markdown, text and HTML articles, read into
//! sections and cut into overlapping chunks that keep their source path and heading,
//! plus the manifest (each file's SHA-256) that names exactly what a model version
//! was built from.
//!
//! Files named `README.md` (any case) and hidden files or folders are skipped: a
//! folder's README describes the folder, it is not an article.

use std::path::{Path, PathBuf};

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What went wrong reading a knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("knowledge base `{dir}`: {reason}")]
    Dir { dir: String, reason: String },
    #[error("knowledge base file `{path}`: {reason}")]
    File { path: String, reason: String },
}

/// How articles are cut into chunks (part of a model version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChunkParams {
    /// A chunk closes once it holds at least this many words (whole blocks only).
    pub max_words: usize,
    /// Words of the previous chunk in the same section repeated at the start of the
    /// next one (whole blocks, at most this many words), so a fact that straddles a
    /// boundary is found whole in at least one chunk.
    pub overlap_words: usize,
}

impl Default for ChunkParams {
    fn default() -> Self {
        Self {
            max_words: 120,
            overlap_words: 30,
        }
    }
}

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path relative to the knowledge-base folder, with `/` separators.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// Every file a knowledge base was built from, with its hash; `sha256` hashes the
/// list, so two folders with the same files have the same manifest hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub sha256: String,
    pub files: Vec<ManifestEntry>,
}

impl Manifest {
    fn new(mut files: Vec<ManifestEntry>) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut h = Sha256::new();
        for f in &files {
            h.update(f.path.as_bytes());
            h.update([0]);
            h.update(f.sha256.as_bytes());
            h.update([b'\n']);
        }
        Self {
            sha256: hex::encode(h.finalize()),
            files,
        }
    }
}

/// An article's section: the heading it sits under and its text blocks
/// (paragraphs, list items, table rows).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<String>,
}

/// One article, parsed.
#[derive(Debug, Clone)]
pub struct Article {
    /// Path relative to the knowledge-base folder (`it-access/reset-your-password.md`).
    pub path: String,
    pub title: String,
    pub sections: Vec<Section>,
}

/// A retrievable passage.
#[derive(Debug, Clone, Serialize)]
pub struct Chunk {
    /// Its position in [`KnowledgeBase::chunks`].
    pub id: u32,
    pub path: String,
    pub title: String,
    /// The section heading (the title for text before the first section).
    pub heading: String,
    /// Blocks separated by newlines.
    pub text: String,
}

/// A loaded knowledge base.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    pub dir: PathBuf,
    pub articles: Vec<Article>,
    pub chunks: Vec<Chunk>,
    pub manifest: Manifest,
    pub chunk_params: ChunkParams,
}

impl KnowledgeBase {
    /// Read every article under `dir` and chunk it.
    pub fn load(dir: &Path, params: &ChunkParams) -> Result<Self, KbError> {
        let mut files = Vec::new();
        collect(dir, dir, &mut files)?;
        files.sort();
        if files.is_empty() {
            return Err(KbError::Dir {
                dir: dir.display().to_string(),
                reason: "no articles (.md, .markdown, .txt, .html or .htm files) found".into(),
            });
        }
        let mut entries = Vec::with_capacity(files.len());
        let mut articles = Vec::with_capacity(files.len());
        for (rel, full) in files {
            let bytes = std::fs::read(&full).map_err(|e| KbError::File {
                path: full.display().to_string(),
                reason: e.to_string(),
            })?;
            let text = String::from_utf8(bytes.clone()).map_err(|_| KbError::File {
                path: full.display().to_string(),
                reason: "is not UTF-8 text".into(),
            })?;
            entries.push(ManifestEntry {
                path: rel.clone(),
                sha256: hex::encode(Sha256::digest(&bytes)),
                bytes: bytes.len() as u64,
            });
            articles.push(parse_article(&rel, &text));
        }
        Ok(Self::from_articles(dir, articles, Manifest::new(entries), params))
    }

    /// A knowledge base from articles already in memory (generated benchmarks, tests).
    pub fn from_texts(dir: &Path, files: &[(String, String)], params: &ChunkParams) -> Self {
        let entries = files
            .iter()
            .map(|(p, t)| ManifestEntry {
                path: p.clone(),
                sha256: hex::encode(Sha256::digest(t.as_bytes())),
                bytes: t.len() as u64,
            })
            .collect();
        let articles = files.iter().map(|(p, t)| parse_article(p, t)).collect();
        Self::from_articles(dir, articles, Manifest::new(entries), params)
    }

    fn from_articles(dir: &Path, articles: Vec<Article>, manifest: Manifest, params: &ChunkParams) -> Self {
        let mut chunks = Vec::new();
        for a in &articles {
            for (heading, text) in chunk_article(a, params) {
                chunks.push(Chunk {
                    id: chunks.len() as u32,
                    path: a.path.clone(),
                    title: a.title.clone(),
                    heading,
                    text,
                });
            }
        }
        Self {
            dir: dir.to_path_buf(),
            articles,
            chunks,
            manifest,
            chunk_params: params.clone(),
        }
    }

    /// The article at `path`, if any.
    pub fn article(&self, path: &str) -> Option<&Article> {
        self.articles.iter().find(|a| a.path == path)
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), KbError> {
    let read = std::fs::read_dir(dir).map_err(|e| KbError::Dir {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    for entry in read {
        let entry = entry.map_err(|e| KbError::Dir {
            dir: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| KbError::Dir {
            dir: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if is_article(&name) {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    Ok(())
}

fn is_article(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower == "readme.md" {
        return false;
    }
    [".md", ".markdown", ".txt", ".html", ".htm"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Parse one file by its extension.
pub fn parse_article(path: &str, text: &str) -> Article {
    let lower = path.to_ascii_lowercase();
    let (title, sections) = if lower.ends_with(".html") || lower.ends_with(".htm") {
        parse_html(text)
    } else if lower.ends_with(".txt") {
        parse_text(text)
    } else {
        parse_markdown(text)
    };
    let title = if title.trim().is_empty() {
        path.rsplit('/').next().unwrap_or(path).to_owned()
    } else {
        title
    };
    Article {
        path: path.to_owned(),
        title,
        sections: sections.into_iter().filter(|s| !s.blocks.is_empty()).collect(),
    }
}

fn parse_markdown(text: &str) -> (String, Vec<Section>) {
    let mut title = String::new();
    let mut sections = vec![Section {
        heading: String::new(),
        blocks: vec![],
    }];
    let mut buf = String::new();
    let mut in_heading: Option<HeadingLevel> = None;
    let mut heading_buf = String::new();
    let mut cells: Vec<String> = Vec::new();
    let mut header_cells: Vec<String> = Vec::new();
    let mut in_table_head = false;
    let mut list_depth = 0usize;
    let flush = |buf: &mut String, sections: &mut Vec<Section>| {
        let t = normalize(buf);
        if !t.is_empty() {
            sections.last_mut().expect("one section").blocks.push(t);
        }
        buf.clear();
    };
    let options = pulldown_cmark::Options::ENABLE_TABLES | pulldown_cmark::Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(text, options) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                flush(&mut buf, &mut sections);
                in_heading = Some(level);
                heading_buf.clear();
            }
            Event::End(TagEnd::Heading(level)) => {
                in_heading = None;
                let h = normalize(&heading_buf);
                if level == HeadingLevel::H1 && title.is_empty() {
                    title = h;
                } else {
                    sections.push(Section {
                        heading: h,
                        blocks: vec![],
                    });
                }
            }
            Event::Start(Tag::Item) => {
                if list_depth <= 1 {
                    flush(&mut buf, &mut sections);
                } else {
                    buf.push(' ');
                }
            }
            Event::Start(Tag::List(_)) => {
                list_depth += 1;
                if list_depth == 1 {
                    flush(&mut buf, &mut sections);
                }
            }
            Event::End(TagEnd::List(_)) => {
                list_depth = list_depth.saturating_sub(1);
                if list_depth == 0 {
                    flush(&mut buf, &mut sections);
                }
            }
            Event::End(TagEnd::Item) if list_depth <= 1 => flush(&mut buf, &mut sections),
            Event::End(TagEnd::Paragraph) if list_depth == 0 => flush(&mut buf, &mut sections),
            Event::Start(Tag::TableHead) => {
                in_table_head = true;
                cells.clear();
            }
            Event::End(TagEnd::TableHead) => {
                in_table_head = false;
                header_cells = std::mem::take(&mut cells);
            }
            Event::Start(Tag::TableRow) => cells.clear(),
            Event::End(TagEnd::TableCell) => {
                cells.push(normalize(&buf));
                buf.clear();
            }
            Event::End(TagEnd::TableRow) if !in_table_head => {
                // A row reads as a sentence: "Header: value; header: value."
                let row = cells
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.is_empty())
                    .map(|(i, c)| match header_cells.get(i) {
                        Some(h) if i > 0 && !h.is_empty() => format!("{h}: {c}"),
                        _ => c.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                buf = format!("{row}.");
                flush(&mut buf, &mut sections);
                cells.clear();
            }
            Event::Text(t) | Event::Code(t) => {
                if in_heading.is_some() {
                    heading_buf.push_str(&t);
                } else {
                    buf.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if in_heading.is_some() {
                    heading_buf.push(' ');
                } else {
                    buf.push(' ');
                }
            }
            Event::End(TagEnd::CodeBlock) | Event::End(TagEnd::BlockQuote(_)) => flush(&mut buf, &mut sections),
            _ => {}
        }
    }
    flush(&mut buf, &mut sections);
    (title, sections)
}

fn parse_text(text: &str) -> (String, Vec<Section>) {
    let mut paragraphs = text
        .split("\n\n")
        .map(normalize)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>();
    let title = if paragraphs.first().is_some_and(|p| p.split_whitespace().count() <= 12) {
        paragraphs.remove(0)
    } else {
        String::new()
    };
    (
        title,
        vec![Section {
            heading: String::new(),
            blocks: paragraphs,
        }],
    )
}

/// A deliberately small HTML reader for help-centre pages: `<title>`/`<h1>` make the
/// title, `<h2>`–`<h6>` start sections, block elements end text blocks, and script,
/// style and other markup are dropped. Entities `&amp; &lt; &gt; &quot; &#39; &nbsp;`
/// are decoded.
fn parse_html(html: &str) -> (String, Vec<Section>) {
    let mut title = String::new();
    let mut sections = vec![Section {
        heading: String::new(),
        blocks: vec![],
    }];
    let mut buf = String::new();
    let mut heading: Option<u8> = None;
    let mut in_title = false;
    let mut skip_until: Option<&'static str> = None;
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        if skip_until.is_none() {
            buf.push_str(&decode_entities(text));
        }
        let Some(gt) = rest[lt..].find('>') else { break };
        let tag = rest[lt + 1..lt + gt].trim().to_ascii_lowercase();
        rest = &rest[lt + gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if let Some(end) = skip_until {
            if closing && name == end {
                skip_until = None;
            }
            continue;
        }
        match (name.as_str(), closing) {
            ("script", false) => skip_until = Some("script"),
            ("style", false) => skip_until = Some("style"),
            ("title", false) => {
                in_title = true;
                buf.clear();
            }
            ("title", true) => {
                in_title = false;
                title = normalize(&buf);
                buf.clear();
            }
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                push_block(&mut buf, &mut sections);
                heading = name[1..].parse().ok();
            }
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", true) => {
                let h = normalize(&buf);
                buf.clear();
                if heading == Some(1) && (title.is_empty() || sections.iter().all(|s| s.blocks.is_empty())) {
                    title = h;
                } else {
                    sections.push(Section {
                        heading: h,
                        blocks: vec![],
                    });
                }
                heading = None;
            }
            ("p" | "li" | "div" | "tr" | "br" | "section" | "article" | "blockquote" | "pre" | "dd" | "dt", _)
                if !in_title =>
            {
                push_block(&mut buf, &mut sections);
            }
            ("td" | "th", true) => buf.push_str("; "),
            _ => {}
        }
    }
    if skip_until.is_none() {
        buf.push_str(&decode_entities(rest));
    }
    push_block(&mut buf, &mut sections);
    (title, sections)
}

fn push_block(buf: &mut String, sections: &mut [Section]) {
    let t = normalize(buf.trim_end_matches(|c: char| c == ';' || c.is_whitespace()));
    if !t.is_empty() {
        sections.last_mut().expect("one section").blocks.push(t);
    }
    buf.clear();
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Cut an article into chunks: one section at a time, whole blocks, closing a chunk
/// once it reaches `max_words`, and starting the next with the trailing blocks of the
/// previous one (up to `overlap_words`).
pub fn chunk_article(article: &Article, params: &ChunkParams) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for section in &article.sections {
        let heading = if section.heading.is_empty() {
            article.title.clone()
        } else {
            section.heading.clone()
        };
        let mut current: Vec<&str> = Vec::new();
        let mut count = 0;
        let mut fresh = 0; // blocks in `current` not already emitted
        for block in &section.blocks {
            current.push(block);
            count += words(block);
            fresh += 1;
            if count >= params.max_words {
                out.push((heading.clone(), current.join("\n")));
                // Carry trailing blocks into the next chunk as overlap.
                let mut carried = Vec::new();
                let mut carried_words = 0;
                for b in current.iter().rev() {
                    let w = words(b);
                    if carried_words + w > params.overlap_words || carried.len() + 1 >= current.len() {
                        break;
                    }
                    carried.push(*b);
                    carried_words += w;
                }
                carried.reverse();
                current = carried;
                count = carried_words;
                fresh = 0;
            }
        }
        if fresh > 0 {
            out.push((heading.clone(), current.join("\n")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLE: &str = "# Reset your password\n\nIntro paragraph about **Northwind ID**.\n\n\
        ## Password rules\n\n- At least 14 characters.\n- Expires every 180 days.\n\n\
        ## Locked out\n\nAfter 5 failed attempts the account is locked for 15 minutes.\n\n\
        | Where | Number |\n|---|---|\n| London | 4357 |\n";

    #[test]
    fn markdown_keeps_title_headings_and_blocks() {
        let a = parse_article("it/reset.md", ARTICLE);
        assert_eq!(a.title, "Reset your password");
        let headings: Vec<_> = a.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(headings, ["", "Password rules", "Locked out"]);
        assert_eq!(a.sections[0].blocks, ["Intro paragraph about Northwind ID."]);
        assert_eq!(
            a.sections[1].blocks,
            ["At least 14 characters.", "Expires every 180 days."]
        );
        assert_eq!(
            a.sections[2].blocks,
            [
                "After 5 failed attempts the account is locked for 15 minutes.",
                "London; Number: 4357."
            ]
        );
    }

    #[test]
    fn chunks_keep_path_and_heading_and_overlap() {
        let para = |i: usize| format!("Sentence number {i} has exactly eight words here.");
        let body: String = (0..10).map(|i| format!("{}\n\n", para(i))).collect();
        let text = format!("# Long\n\n## Part\n\n{body}");
        let kb = KnowledgeBase::from_texts(
            Path::new("."),
            &[("a/long.md".into(), text)],
            &ChunkParams {
                max_words: 24,
                overlap_words: 8,
            },
        );
        assert!(kb.chunks.len() >= 3, "{:?}", kb.chunks);
        for c in &kb.chunks {
            assert_eq!(c.path, "a/long.md");
            assert_eq!(c.heading, "Part");
            assert_eq!(c.title, "Long");
        }
        // Each chunk after the first starts with the last block of the one before it.
        for pair in kb.chunks.windows(2) {
            let last = pair[0].text.lines().last().unwrap();
            assert_eq!(pair[1].text.lines().next().unwrap(), last);
        }
        // Every block is in some chunk.
        for i in 0..10 {
            assert!(kb.chunks.iter().any(|c| c.text.contains(&para(i))), "block {i} lost");
        }
    }

    #[test]
    fn html_and_text_articles_are_read() {
        let html = "<html><head><title>VPN</title><style>p{}</style></head><body><h1>VPN</h1>\
            <p>Connect with NorthLink &amp; your badge.</p><h2>Errors</h2><ul><li>Certificate expired</li></ul>\
            <script>alert(1)</script></body></html>";
        let a = parse_article("vpn.html", html);
        assert_eq!(a.title, "VPN");
        assert_eq!(a.sections[0].blocks, ["Connect with NorthLink & your badge."]);
        assert_eq!(a.sections[1].heading, "Errors");
        assert_eq!(a.sections[1].blocks, ["Certificate expired"]);

        let t = parse_article(
            "notes.txt",
            "Printing\n\nPrinters are on every floor.\n\nUse your badge.",
        );
        assert_eq!(t.title, "Printing");
        assert_eq!(t.sections[0].blocks.len(), 2);
    }

    #[test]
    fn shipped_kb_loads_without_readme_and_hash_is_stable() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("kb");
        let kb = KnowledgeBase::load(&dir, &ChunkParams::default()).unwrap();
        assert!(kb.articles.len() >= 60, "{} articles", kb.articles.len());
        assert!(
            kb.articles
                .iter()
                .all(|a| !a.path.to_lowercase().ends_with("readme.md"))
        );
        assert!(kb.chunks.iter().all(|c| !c.text.is_empty() && !c.heading.is_empty()));
        let again = KnowledgeBase::load(&dir, &ChunkParams::default()).unwrap();
        assert_eq!(kb.manifest, again.manifest);
        assert_eq!(kb.manifest.files.len(), kb.articles.len());
    }

    #[test]
    fn empty_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = KnowledgeBase::load(dir.path(), &ChunkParams::default()).unwrap_err();
        assert!(err.to_string().contains("no articles"), "{err}");
    }
}
