//! `sls-load destroy`: removes what `deploy` created ([`crate::deploy::destroy`]):
//! the worker stacks and code buckets, then the results stack, asking on the
//! terminal before stored results are deleted (`--yes` answers for it; without a
//! terminal and without `--yes` nothing stored is deleted). Resources that
//! `sls-load.toml` marks `managed` are left alone.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use super::Error;
use crate::deploy::DestroySettings;

/// `sls-load destroy`.
pub async fn destroy(s: DestroySettings) -> Result<(), Error> {
    if s.managed {
        eprintln!(
            "sls-load: destroy: nothing removed: {} says the resources are managed by someone else (managed = true)",
            s.project_file.display()
        );
        return Ok(());
    }
    if s.regions.is_empty() {
        return Err(crate::deploy::DeployError::NoRegions.into());
    }
    crate::deploy::destroy(&s, ask).await?;
    Ok(())
}

/// Asks on the terminal whether `objects` stored objects of `bucket` may go.
fn ask(bucket: &str, objects: u64) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!(
        "sls-load: s3://{bucket} holds {objects} object(s) of stored runs; delete them with the bucket? [y/N] "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}
