//! Hybrid retrieval with static embeddings through `model2vec-rs`, on a tiny
//! synthetic Model2Vec model written here (a word-level `tokenizer.json`, an
//! `embeddings` tensor in `model.safetensors`, `config.json`): the real loader reads
//! it from a local directory, and a question that shares no word with its article
//! is found only when the embedding weight is on.

use std::path::Path;
use std::sync::Arc;

use helpbot::kb::{ChunkParams, KnowledgeBase};
use helpbot::retrieval::{RetrievalParams, Retriever};
use safetensors::tensor::{Dtype, TensorView};

/// Words and their 4-dimensional vectors: "holiday", "vacation" and "leave" point
/// the same way; printing words point elsewhere.
const WORDS: &[(&str, [f32; 4])] = &[
    ("[UNK]", [0.0, 0.0, 0.0, 0.0]),
    ("holiday", [1.0, 0.1, 0.0, 0.0]),
    ("vacation", [0.9, 0.0, 0.1, 0.0]),
    ("leave", [1.0, 0.0, 0.0, 0.1]),
    ("annual", [0.8, 0.2, 0.0, 0.0]),
    ("days", [0.5, 0.5, 0.0, 0.0]),
    ("printer", [0.0, 0.0, 1.0, 0.0]),
    ("printers", [0.0, 0.0, 1.0, 0.1]),
    ("toner", [0.0, 0.1, 0.9, 0.0]),
    ("floor", [0.0, 0.3, 0.7, 0.0]),
];

fn write_model(dir: &Path) {
    let vocab: serde_json::Map<String, serde_json::Value> = WORDS
        .iter()
        .enumerate()
        .map(|(i, (w, _))| ((*w).to_owned(), i.into()))
        .collect();
    let tokenizer = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    let bytes: Vec<u8> = WORDS
        .iter()
        .flat_map(|(_, v)| v.iter().flat_map(|x| x.to_le_bytes()))
        .collect();
    let view = TensorView::new(Dtype::F32, vec![WORDS.len(), 4], &bytes).unwrap();
    let data = safetensors::tensor::serialize([("embeddings", view)], &None).unwrap();
    std::fs::write(dir.join("model.safetensors"), data).unwrap();
    std::fs::write(dir.join("config.json"), r#"{"normalize": true}"#).unwrap();
}

fn kb() -> Arc<KnowledgeBase> {
    Arc::new(KnowledgeBase::from_texts(
        Path::new("."),
        &[
            (
                "hr/annual-leave.md".into(),
                "# Annual leave\n\n## Allowance\n\nYou get 25 days of annual leave.".into(),
            ),
            (
                "it/printing.md".into(),
                "# Printing\n\n## Printers\n\nPrinters and toner are on every floor.".into(),
            ),
        ],
        &ChunkParams::default(),
    ))
}

#[test]
fn hybrid_search_finds_what_bm25_cannot() {
    let model = tempfile::tempdir().unwrap();
    write_model(model.path());

    // "vacation" occurs in no article: BM25 finds nothing.
    let bm25 = Retriever::in_memory(kb(), RetrievalParams::default()).unwrap();
    assert!(bm25.search("vacation").unwrap().hits.is_empty());

    let mut hybrid = Retriever::in_memory(
        kb(),
        RetrievalParams {
            embedding_weight: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    hybrid.attach_embeddings(model.path()).unwrap();
    assert_eq!(hybrid.embeddings(), Some(model.path().to_str().unwrap()));
    let r = hybrid.search("vacation").unwrap();
    assert_eq!(r.articles(hybrid.kb())[0], "hr/annual-leave.md");
    // Words the model knows about printing rank the printing article first.
    let r = hybrid.search("toner").unwrap();
    assert_eq!(r.articles(hybrid.kb())[0], "it/printing.md");

    // With the weight at 0 the embeddings are loaded but not used.
    let mut off = Retriever::in_memory(kb(), RetrievalParams::default()).unwrap();
    off.attach_embeddings(model.path()).unwrap();
    assert_eq!(off.embeddings(), None);
    assert!(off.search("vacation").unwrap().hits.is_empty());
}

#[test]
fn a_missing_model_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let mut r = Retriever::in_memory(kb(), RetrievalParams::default()).unwrap();
    let err = r.attach_embeddings(empty.path()).unwrap_err();
    assert!(format!("{err:#}").contains("embedding model"), "{err:#}");
}
