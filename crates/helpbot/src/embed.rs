//! Optional hybrid retrieval: static embeddings (a Model2Vec model loaded by
//! `model2vec-rs` from a local directory — `tokenizer.json`, `model.safetensors`,
//! `config.json` — never downloaded) of every chunk, searched by cosine similarity
//! and fused with BM25 by reciprocal rank. Off unless `HELPBOT_EMBEDDINGS_DIR` names
//! a model and the model version's `retrieval.embedding_weight` is above 0.

use std::path::Path;

use anyhow::Context as _;
use model2vec_rs::model::StaticModel;

use crate::kb::KnowledgeBase;

/// Chunk embeddings and the model that made them.
pub struct Embedder {
    model: StaticModel,
    dim: usize,
    /// Row-major, L2-normalised, one row per chunk.
    vectors: Vec<f32>,
    /// The model directory (for `/health`).
    pub dir: String,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("dir", &self.dir)
            .field("dim", &self.dim)
            .finish()
    }
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

impl Embedder {
    /// Load the model in `dir` and embed every chunk (title, heading and text).
    pub fn load(dir: &Path, kb: &KnowledgeBase) -> anyhow::Result<Self> {
        let model = StaticModel::from_pretrained(dir, None, Some(true), None).with_context(|| {
            format!(
                "loading the embedding model in {} (tokenizer.json, model.safetensors, config.json)",
                dir.display()
            )
        })?;
        let dim = model.dim();
        let texts: Vec<String> = kb
            .chunks
            .iter()
            .map(|c| format!("{} {} {}", c.title, c.heading, c.text))
            .collect();
        let mut vectors = model.encode_flat(&texts);
        for row in vectors.chunks_mut(dim) {
            normalise(row);
        }
        Ok(Self {
            model,
            dim,
            vectors,
            dir: dir.display().to_string(),
        })
    }

    /// The `n` chunks most similar to `text`, best first, with their cosine.
    pub fn nearest(&self, text: &str, n: usize) -> Vec<(u32, f32)> {
        let mut q = self.model.encode_single(text);
        normalise(&mut q);
        if q.iter().all(|x| *x == 0.0) {
            return vec![]; // no known token: no opinion
        }
        let mut scored: Vec<(u32, f32)> = self
            .vectors
            .chunks(self.dim)
            .enumerate()
            .map(|(i, row)| (i as u32, row.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>()))
            .collect();
        let n = n.min(scored.len());
        if n == 0 {
            return vec![];
        }
        scored.select_nth_unstable_by(n - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(n);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored
    }
}

/// Reciprocal-rank fusion: `1/(k + rank)` from each list, the second weighted.
pub fn fuse(bm25: &[u32], dense: &[u32], weight: f32, k: f32) -> Vec<(u32, f32)> {
    let mut scores: std::collections::HashMap<u32, f32> = std::collections::HashMap::new();
    for (r, c) in bm25.iter().enumerate() {
        *scores.entry(*c).or_default() += 1.0 / (k + r as f32 + 1.0);
    }
    for (r, c) in dense.iter().enumerate() {
        *scores.entry(*c).or_default() += weight / (k + r as f32 + 1.0);
    }
    let mut out: Vec<(u32, f32)> = scores.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement() {
        let f = fuse(&[1, 2, 3], &[3, 1, 9], 1.0, 60.0);
        assert_eq!(f[0].0, 1);
        assert!(f.iter().any(|(c, _)| *c == 9));
        // With no weight the dense list cannot reorder BM25.
        let f = fuse(&[1, 2, 3], &[3, 2, 1], 0.0, 60.0);
        assert_eq!(f.iter().map(|x| x.0).take(3).collect::<Vec<_>>(), [1, 2, 3]);
    }
}
