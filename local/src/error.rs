//! The crate's one error type: why the local cloud (or a part of it) could not
//! start or serve.

/// Errors raised while starting the local cloud.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A filesystem or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being attempted (includes the path or address involved).
        context: String,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The S3 backend (s3s-fs) could not be initialised.
    #[error("local S3 store: {0}")]
    Store(String),
    /// The configuration is unusable.
    #[error("invalid local cloud configuration: {0}")]
    Config(String),
}

impl LocalError {
    /// Builds a [`LocalError::Io`] with a description of what was attempted.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LocalError::Io {
            context: context.into(),
            source,
        }
    }
}
