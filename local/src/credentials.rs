//! The key pair the local stand-ins accept. A leaf: the S3 stand-in, every
//! Lambda service and the SigV4 checks take it from here.

use std::fmt;

/// The key pair the local stand-ins accept: made fresh at each start
/// ([`LocalCredentials::generate`]), known only to the orchestrator process that
/// started them and the function processes it spawns (in their environment).
#[derive(Clone, PartialEq, Eq)]
pub struct LocalCredentials {
    /// Access key id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// Secret access key (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: String,
}

impl LocalCredentials {
    /// A random key pair from the thread's CSPRNG: an access key id shaped like
    /// AWS's (20 upper-case characters) and a 40-character secret.
    pub fn generate() -> Self {
        use rand::distr::{Alphanumeric, SampleString};
        let mut rng = rand::rng();
        let id = Alphanumeric
            .sample_string(&mut rng, 16)
            .to_ascii_uppercase();
        LocalCredentials {
            access_key_id: format!("LSLL{id}"),
            secret_access_key: Alphanumeric.sample_string(&mut rng, 40),
        }
    }
}

impl fmt::Debug for LocalCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_secret() {
        let creds = LocalCredentials::generate();
        let text = format!("{creds:?}");
        assert!(text.contains(&creds.access_key_id));
        assert!(!text.contains(&creds.secret_access_key));
    }

    #[test]
    fn credentials_are_fresh_and_not_the_old_constant_pair() {
        let (a, b) = (LocalCredentials::generate(), LocalCredentials::generate());
        assert_ne!(a.access_key_id, b.access_key_id);
        assert_ne!(a.secret_access_key, b.secret_access_key);
        assert_eq!(a.access_key_id.len(), 20);
        assert_eq!(a.secret_access_key.len(), 40);
        assert_ne!(a.access_key_id, "sls-load-local");
    }
}
