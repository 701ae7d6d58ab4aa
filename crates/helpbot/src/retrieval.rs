//! Retrieval: a tantivy index over the knowledge base's chunks (BM25 over body,
//! heading and title, English stemming and stop words, a boost for query word pairs
//! found as phrases), cached on disk under a key made of the knowledge base's content
//! hash and the chunking and schema settings, so an unchanged KB is never re-indexed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use crate::kb::KnowledgeBase;

/// Bumped whenever the schema or analyzer changes, so old caches are not reused.
const SCHEMA_VERSION: u32 = 2;
const ANALYZER: &str = "helpbot_en";

/// What went wrong building or searching the index.
#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index cache `{path}`: {reason}")]
    Cache { path: String, reason: String },
}

/// Retrieval settings (part of a model version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrievalParams {
    /// Chunks returned per question.
    pub top_k: usize,
    /// Weight of a query word found in a chunk's section heading.
    pub heading_boost: f32,
    /// Weight of a query word found in the article title.
    pub title_boost: f32,
    /// Weight of two adjacent query words found as a phrase in the body.
    pub phrase_boost: f32,
    /// Words allowed between the two words of a phrase.
    pub phrase_slop: u32,
    /// A thesaurus: each entry is `phrase|phrase|…` (any case). When a question
    /// contains one phrase of an entry, the others are searched too (at
    /// `synonym_boost`), and a passage holding one of them covers the question's words.
    pub synonyms: Vec<String>,
    /// Weight of a thesaurus alternative relative to the question's own words.
    pub synonym_boost: f32,
    /// Weight of the embedding ranking in the reciprocal-rank fusion with BM25; 0
    /// (the default) is BM25 only. Needs `HELPBOT_EMBEDDINGS_DIR`.
    pub embedding_weight: f32,
}

impl Default for RetrievalParams {
    fn default() -> Self {
        Self {
            top_k: 8,
            heading_boost: 1.5,
            title_boost: 1.2,
            phrase_boost: 1.5,
            phrase_slop: 1,
            synonyms: Vec::new(),
            synonym_boost: 0.7,
            embedding_weight: 0.0,
        }
    }
}

/// One retrieved chunk.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// Index into [`KnowledgeBase::chunks`].
    pub chunk: u32,
    /// The BM25 score (with boosts).
    pub score: f32,
    /// Share of the question's IDF weight whose words occur in this chunk (0..1).
    pub coverage: f32,
}

/// A question's analysed word.
#[derive(Debug, Clone, Serialize)]
pub struct QueryTerm {
    /// The stem.
    pub stem: String,
    /// Its inverse document frequency over chunks (high when rare or absent).
    pub idf: f32,
    /// Chunks containing it.
    pub doc_freq: u64,
}

/// The result of one search.
#[derive(Debug, Clone, Serialize)]
pub struct Retrieval {
    pub hits: Vec<Hit>,
    pub terms: Vec<QueryTerm>,
    /// Share of the question's IDF weight made of words that occur anywhere in the
    /// knowledge base (low for questions about something else entirely).
    pub known_share: f32,
}

impl Retrieval {
    /// The best hit's coverage: how much of the question the best passage speaks to.
    pub fn confidence(&self) -> f32 {
        self.hits.first().map_or(0.0, |h| h.coverage)
    }

    /// Articles in rank order, each once.
    pub fn articles<'a>(&self, kb: &'a KnowledgeBase) -> Vec<&'a str> {
        let mut seen = Vec::new();
        for h in &self.hits {
            let p = kb.chunks[h.chunk as usize].path.as_str();
            if !seen.contains(&p) {
                seen.push(p);
            }
        }
        seen
    }
}

#[derive(Clone, Copy)]
struct Fields {
    chunk: Field,
    body: Field,
    heading: Field,
    title: Field,
}

/// The searchable index of one knowledge base.
pub struct Retriever {
    kb: Arc<KnowledgeBase>,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    analyzer: TextAnalyzer,
    params: RetrievalParams,
    embedder: Option<crate::embed::Embedder>,
}

impl std::fmt::Debug for Retriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retriever")
            .field("chunks", &self.kb.chunks.len())
            .field("params", &self.params)
            .finish()
    }
}

/// Where an index came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexSource {
    Built,
    Cached,
    Memory,
}

/// Lucene's English stop words plus the pronouns, auxiliaries and question words
/// that employees' questions are full of and articles are not: they carry no topic,
/// and counting them would make every question look half-unanswered.
const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "but",
    "by",
    "for",
    "if",
    "in",
    "into",
    "is",
    "it",
    "of",
    "on",
    "or",
    "such",
    "that",
    "the",
    "their",
    "then",
    "there",
    "these",
    "they",
    "this",
    "to",
    "was",
    "will",
    "with",
    "i",
    "i'm",
    "im",
    "me",
    "my",
    "mine",
    "myself",
    "we",
    "us",
    "our",
    "you",
    "your",
    "he",
    "she",
    "him",
    "her",
    "his",
    "its",
    "them",
    "what",
    "what's",
    "whats",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "do",
    "does",
    "did",
    "doing",
    "done",
    "can",
    "could",
    "should",
    "would",
    "may",
    "might",
    "must",
    "shall",
    "am",
    "have",
    "has",
    "had",
    "get",
    "got",
    "any",
    "some",
    "so",
    "just",
    "about",
    "than",
    "too",
    "very",
    "also",
    "want",
    "need",
    "like",
    "please",
    "still",
    "been",
    "being",
    "were",
    "there's",
    "it's",
    "don't",
    "dont",
    "can't",
    "cant",
    "i've",
    "ive",
    "i'd",
    "id",
    "i'll",
    "ill",
    "s",
    "t",
    "d",
    "ll",
    "ve",
    "anyone",
    "someone",
    "something",
    "anything",
    "thing",
    "things",
    "way",
    "one",
    "ok",
    "okay",
    "there",
];

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(StopWordFilter::remove(STOP_WORDS.iter().map(|w| (*w).to_owned())))
        .filter(Stemmer::new(Language::English))
        .build()
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let indexed = |positions: bool| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(if positions {
                    IndexRecordOption::WithFreqsAndPositions
                } else {
                    IndexRecordOption::WithFreqs
                }),
        )
    };
    let chunk = b.add_u64_field("chunk", INDEXED | FAST | STORED);
    let body = b.add_text_field("body", indexed(true));
    let heading = b.add_text_field("heading", indexed(false));
    let title = b.add_text_field("title", indexed(false));
    (
        b.build(),
        Fields {
            chunk,
            body,
            heading,
            title,
        },
    )
}

/// The cache key of a knowledge base's index: its content hash plus the chunking
/// and schema settings.
pub fn cache_key(kb: &KnowledgeBase) -> String {
    let mut h = Sha256::new();
    h.update(kb.manifest.sha256.as_bytes());
    h.update(
        format!(
            "|chunks:{}/{}|schema:{SCHEMA_VERSION}",
            kb.chunk_params.max_words, kb.chunk_params.overlap_words
        )
        .as_bytes(),
    );
    hex::encode(h.finalize())[..16].to_owned()
}

impl Retriever {
    /// Build an index in memory (tests, benchmarks, generated KBs).
    pub fn in_memory(kb: Arc<KnowledgeBase>, params: RetrievalParams) -> Result<Self, RetrievalError> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        Self::fill(&index, &kb, fields, &mut |_| {})?;
        Self::open(kb, index, fields, params)
    }

    /// Open the cached index for this knowledge base under `cache_dir`, or build and
    /// cache it (`progress` is called with the number of chunks indexed so far).
    pub fn cached(
        kb: Arc<KnowledgeBase>,
        params: RetrievalParams,
        cache_dir: &Path,
        progress: &mut dyn FnMut(usize),
    ) -> Result<(Self, IndexSource, PathBuf), RetrievalError> {
        let dir = cache_dir.join(format!("index-{}", cache_key(&kb)));
        let cache_err = |e: std::io::Error, p: &Path| RetrievalError::Cache {
            path: p.display().to_string(),
            reason: e.to_string(),
        };
        let (schema, fields) = schema();
        if dir.join(".complete").exists()
            && let Ok(index) = Index::open_in_dir(&dir)
            && index.schema() == schema
        {
            let r = Self::open(kb, index, fields, params)?;
            return Ok((r, IndexSource::Cached, dir));
        }
        // Build into a temporary folder and rename it into place, so a crash never
        // leaves a half-written index that looks complete.
        std::fs::create_dir_all(cache_dir).map_err(|e| cache_err(e, cache_dir))?;
        let tmp = cache_dir.join(format!(".building-{}-{}", cache_key(&kb), std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| cache_err(e, &tmp))?;
        {
            let index = Index::create_in_dir(&tmp, schema)?;
            Self::fill(&index, &kb, fields, progress)?;
        }
        std::fs::write(tmp.join(".complete"), kb.manifest.sha256.as_bytes()).map_err(|e| cache_err(e, &tmp))?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).map_err(|e| cache_err(e, &dir))?;
        let index = Index::open_in_dir(&dir)?;
        let r = Self::open(kb, index, fields, params)?;
        Ok((r, IndexSource::Built, dir))
    }

    fn fill(
        index: &Index,
        kb: &KnowledgeBase,
        f: Fields,
        progress: &mut dyn FnMut(usize),
    ) -> Result<(), RetrievalError> {
        index.tokenizers().register(ANALYZER, analyzer());
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, 64_000_000)?;
        for (i, c) in kb.chunks.iter().enumerate() {
            let mut doc = TantivyDocument::default();
            doc.add_u64(f.chunk, u64::from(c.id));
            doc.add_text(f.body, &c.text);
            doc.add_text(f.heading, &c.heading);
            doc.add_text(f.title, &c.title);
            writer.add_document(doc)?;
            if i % 256 == 255 {
                progress(i + 1);
            }
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        progress(kb.chunks.len());
        Ok(())
    }

    fn open(
        kb: Arc<KnowledgeBase>,
        index: Index,
        fields: Fields,
        params: RetrievalParams,
    ) -> Result<Self, RetrievalError> {
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self {
            kb,
            index,
            reader,
            fields,
            analyzer: analyzer(),
            params,
            embedder: None,
        })
    }

    /// Load a static-embedding model from `dir` and embed every chunk, for hybrid
    /// search (used only while `embedding_weight` > 0).
    pub fn attach_embeddings(&mut self, dir: &Path) -> anyhow::Result<()> {
        self.embedder = Some(crate::embed::Embedder::load(dir, &self.kb)?);
        Ok(())
    }

    /// The embedding model directory, when hybrid search is on.
    pub fn embeddings(&self) -> Option<&str> {
        self.embedder
            .as_ref()
            .filter(|_| self.params.embedding_weight > 0.0)
            .map(|e| e.dir.as_str())
    }

    pub fn kb(&self) -> &Arc<KnowledgeBase> {
        &self.kb
    }

    pub fn params(&self) -> &RetrievalParams {
        &self.params
    }

    /// Number of indexed chunks.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The analysed words (stems) of a text, in order, with their positions.
    pub fn analyse(&self, text: &str) -> Vec<(usize, String)> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push((t.position, t.text.clone()));
        }
        out
    }

    /// The distinct stems of a text.
    pub fn stems(&self, text: &str) -> HashSet<String> {
        self.analyse(text).into_iter().map(|(_, s)| s).collect()
    }

    /// Search for a question.
    pub fn search(&self, question: &str) -> Result<Retrieval, RetrievalError> {
        let searcher = self.reader.searcher();
        let tokens = self.analyse(question);
        let n = searcher.num_docs().max(1) as f32;
        let mut terms: Vec<QueryTerm> = Vec::new();
        for (_, stem) in &tokens {
            if terms.iter().any(|t| &t.stem == stem) {
                continue;
            }
            let df = [self.fields.body, self.fields.heading, self.fields.title]
                .iter()
                .map(|f| searcher.doc_freq(&Term::from_field_text(*f, stem)).unwrap_or(0))
                .max()
                .unwrap_or(0);
            let idf = (1.0 + (n - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
            terms.push(QueryTerm {
                stem: stem.clone(),
                idf,
                doc_freq: df,
            });
        }
        let total_idf: f32 = terms.iter().map(|t| t.idf).sum();
        let known_share = if total_idf > 0.0 {
            terms.iter().filter(|t| t.doc_freq > 0).map(|t| t.idf).sum::<f32>() / total_idf
        } else {
            0.0
        };
        if terms.is_empty() {
            return Ok(Retrieval {
                hits: vec![],
                terms,
                known_share,
            });
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in &terms {
            for (field, boost) in [
                (self.fields.body, 1.0),
                (self.fields.heading, self.params.heading_boost),
                (self.fields.title, self.params.title_boost),
            ] {
                let q = TermQuery::new(Term::from_field_text(field, &t.stem), IndexRecordOption::WithFreqs);
                clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), boost))));
            }
        }
        // Adjacent question words (stop words in between allowed) found as a phrase.
        for pair in tokens.windows(2) {
            let (p0, ref a) = pair[0];
            let (p1, ref b) = pair[1];
            if a == b || p1 - p0 > 2 {
                continue;
            }
            let q = PhraseQuery::new_with_offset_and_slop(
                vec![
                    (0, Term::from_field_text(self.fields.body, a)),
                    (p1 - p0, Term::from_field_text(self.fields.body, b)),
                ],
                self.params.phrase_slop,
            );
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(q), self.params.phrase_boost)),
            ));
        }
        // Thesaurus: alternatives of phrases the question contains.
        let lower = format!(
            " {} ",
            question.to_lowercase().replace(|c: char| !c.is_alphanumeric(), " ")
        );
        let mut expansions: Vec<(Vec<String>, Vec<Vec<String>>)> = Vec::new();
        for entry in &self.params.synonyms {
            let phrases: Vec<&str> = entry.split('|').map(str::trim).filter(|p| !p.is_empty()).collect();
            let matched: Vec<&str> = phrases
                .iter()
                .copied()
                .filter(|p| lower.contains(&format!(" {} ", p.to_lowercase())))
                .collect();
            if matched.is_empty() {
                continue;
            }
            let original: Vec<String> = matched.iter().flat_map(|p| self.analyse(p)).map(|(_, s)| s).collect();
            let alternatives: Vec<Vec<String>> = phrases
                .iter()
                .filter(|p| !matched.contains(p))
                .map(|p| self.analyse(p).into_iter().map(|(_, s)| s).collect::<Vec<_>>())
                .filter(|a| !a.is_empty())
                .collect();
            for alt in &alternatives {
                for stem in alt {
                    for (field, boost) in [
                        (self.fields.body, 1.0),
                        (self.fields.heading, self.params.heading_boost),
                        (self.fields.title, self.params.title_boost),
                    ] {
                        let q = TermQuery::new(Term::from_field_text(field, stem), IndexRecordOption::WithFreqs);
                        clauses.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(
                                Box::new(q),
                                boost * self.params.synonym_boost / alt.len() as f32,
                            )),
                        ));
                    }
                }
            }
            expansions.push((original, alternatives));
        }
        // A word the KB lacks is known through a thesaurus alternative it has.
        let known_share = if total_idf > 0.0 && !expansions.is_empty() {
            let via: HashSet<&str> = expansions
                .iter()
                .filter(|(_, alts)| {
                    alts.iter().any(|alt| {
                        alt.iter().all(|s| {
                            [self.fields.body, self.fields.heading, self.fields.title]
                                .iter()
                                .any(|f| searcher.doc_freq(&Term::from_field_text(*f, s)).unwrap_or(0) > 0)
                        })
                    })
                })
                .flat_map(|(orig, _)| orig.iter().map(String::as_str))
                .collect();
            terms
                .iter()
                .filter(|t| t.doc_freq > 0 || via.contains(t.stem.as_str()))
                .map(|t| t.idf)
                .sum::<f32>()
                / total_idf
        } else {
            known_share
        };
        let query = BooleanQuery::new(clauses);
        let hybrid = self.embedder.as_ref().filter(|_| self.params.embedding_weight > 0.0);
        let limit = if hybrid.is_some() {
            self.params.top_k * 4
        } else {
            self.params.top_k
        };
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut ranked: Vec<(u32, f32)> = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let column = searcher.segment_reader(addr.segment_ord).fast_fields().u64("chunk")?;
            let chunk = match column.first(addr.doc_id) {
                Some(c) => c as u32,
                None => {
                    let doc: TantivyDocument = searcher.doc(addr)?;
                    doc.get_first(self.fields.chunk).and_then(|v| v.as_u64()).unwrap_or(0) as u32
                }
            };
            ranked.push((chunk, score));
        }
        if let Some(e) = hybrid {
            let dense: Vec<u32> = e.nearest(question, limit).into_iter().map(|(c, _)| c).collect();
            let lexical: Vec<u32> = ranked.iter().map(|(c, _)| *c).collect();
            ranked = crate::embed::fuse(&lexical, &dense, self.params.embedding_weight, 60.0);
        }
        ranked.truncate(self.params.top_k);
        let mut hits = Vec::with_capacity(ranked.len());
        for (chunk, score) in ranked {
            let c = &self.kb.chunks[chunk as usize];
            let mut present = self.stems(&format!("{}\n{}\n{}", c.title, c.heading, c.text));
            for (original, alternatives) in &expansions {
                if alternatives.iter().any(|alt| alt.iter().all(|s| present.contains(s))) {
                    present.extend(original.iter().cloned());
                }
            }
            let covered: f32 = terms.iter().filter(|t| present.contains(&t.stem)).map(|t| t.idf).sum();
            hits.push(Hit {
                chunk,
                score,
                coverage: if total_idf > 0.0 { covered / total_idf } else { 0.0 },
            });
        }
        let _ = &self.index;
        Ok(Retrieval {
            hits,
            terms,
            known_share,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::ChunkParams;

    fn shipped() -> Retriever {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("kb");
        let kb = KnowledgeBase::load(&dir, &ChunkParams::default()).unwrap();
        Retriever::in_memory(Arc::new(kb), RetrievalParams::default()).unwrap()
    }

    fn top_article(r: &Retriever, q: &str) -> String {
        let res = r.search(q).unwrap();
        res.articles(r.kb())[0].to_owned()
    }

    #[test]
    fn finds_the_article_for_reworded_questions() {
        let r = shipped();
        assert_eq!(
            top_article(&r, "I forgot my password, how do I reset it?"),
            "it-access/reset-your-password.md"
        );
        assert_eq!(
            top_article(&r, "what is the mileage rate for driving my own car"),
            "expenses/mileage-claims.md"
        );
    }

    #[test]
    fn stemming_matches_other_word_forms() {
        let r = shipped();
        // "resetting" and "passwords" stem to the article's "reset" and "password".
        assert_eq!(r.stems("resetting passwords"), r.stems("reset password"));
        assert_eq!(
            top_article(&r, "resetting passwords"),
            "it-access/reset-your-password.md"
        );
    }

    #[test]
    fn phrase_boost_prefers_the_phrase() {
        let kb = KnowledgeBase::from_texts(
            Path::new("."),
            &[
                (
                    "a.md".into(),
                    "# A\n\n## S\n\nThe card was lost. Somewhere else a corporate event happened.".into(),
                ),
                (
                    "b.md".into(),
                    "# B\n\n## S\n\nYour corporate card is blocked abroad.".into(),
                ),
            ],
            &ChunkParams::default(),
        );
        let with = Retriever::in_memory(Arc::new(kb.clone()), RetrievalParams::default()).unwrap();
        assert_eq!(with.search("corporate card").unwrap().articles(with.kb())[0], "b.md");
        let res = with.search("corporate card").unwrap();
        let without = Retriever::in_memory(
            Arc::new(kb),
            RetrievalParams {
                phrase_boost: 0.0,
                ..Default::default()
            },
        )
        .unwrap();
        let res0 = without.search("corporate card").unwrap();
        assert!(res.hits[0].score > res0.hits[0].score, "the phrase adds to the score");
    }

    #[test]
    fn confidence_is_low_for_words_the_kb_lacks() {
        let r = shipped();
        let good = r.search("How long does a new password have to be?").unwrap();
        let bad = r.search("Who won the 2022 FIFA World Cup?").unwrap();
        assert!(
            good.confidence() > bad.confidence(),
            "{} vs {}",
            good.confidence(),
            bad.confidence()
        );
        assert!(bad.known_share < good.known_share);
    }

    #[test]
    fn index_is_cached_by_content_hash() {
        let dir = tempfile::tempdir().unwrap();
        let kb_dir = dir.path().join("kb");
        std::fs::create_dir_all(&kb_dir).unwrap();
        std::fs::write(
            kb_dir.join("a.md"),
            "# Printing\n\n## Printers\n\nPrinters are on every floor.",
        )
        .unwrap();
        let cache = dir.path().join("cache");
        let load = || Arc::new(KnowledgeBase::load(&kb_dir, &ChunkParams::default()).unwrap());
        let (r, src, path1) = Retriever::cached(load(), RetrievalParams::default(), &cache, &mut |_| {}).unwrap();
        assert_eq!(src, IndexSource::Built);
        assert_eq!(r.search("printer").unwrap().hits.len(), 1);
        let (_, src, path2) = Retriever::cached(load(), RetrievalParams::default(), &cache, &mut |_| {}).unwrap();
        assert_eq!((src, &path1), (IndexSource::Cached, &path2));
        // A changed article gets a new index.
        std::fs::write(
            kb_dir.join("a.md"),
            "# Printing\n\n## Printers\n\nPrinters are on floor 3.",
        )
        .unwrap();
        let (_, src, path3) = Retriever::cached(load(), RetrievalParams::default(), &cache, &mut |_| {}).unwrap();
        assert_eq!(src, IndexSource::Built);
        assert_ne!(path1, path3);
    }
}
