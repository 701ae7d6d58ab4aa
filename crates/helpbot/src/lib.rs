//! HelpBot, Charter's governed reference chatbot: it answers employees' questions
//! from a knowledge base of help-centre articles, with citations, guardrails,
//! OpenInference telemetry, an evaluation harness and versioned configurations
//! registered in MLflow. It reaches Charter only through public HTTP APIs (OTLP,
//! MLflow REST, `/api/v1`), as any third-party app would.
#![forbid(unsafe_code)]

pub mod app;
pub mod bench;
pub mod charter;
pub mod chat;
pub mod embed;
pub mod eval;
pub mod generate;
pub mod guardrail;
pub mod kb;
pub mod mlflow;
pub mod model;
pub mod register;
pub mod retrieval;
pub mod server;
pub mod settings;
pub mod telemetry;
