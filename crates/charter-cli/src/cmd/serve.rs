use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

pub async fn serve(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = super::load_config(file)?;
    charter_server::init_logging(&config);
    let state = charter_server::open(config).await?;
    charter_server::serve(state).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = super::load_config(file)?;
    if config.database.url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    }
    let store = charter_store::Store::connect(&config.store_options()).await?;
    let applied = store.migrate().await?;
    println!(
        "{} database is up to date: {applied} migration(s) applied now, {} known",
        store.backend().as_str(),
        store.known_migrations()
    );
    Ok(ExitCode::SUCCESS)
}
