//! What collect and merge both name: a worker ([`WorkerKey`]) and an object (or
//! a line of one) that could not be used ([`Problem`]). A leaf: it imports
//! nothing of the crate.

use sls_load_core::job::{ObjectKey, Region, WorkerId};

/// A worker, named by region and id.
pub type WorkerKey = (Region, WorkerId);

/// An object that was there but could not be used.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The object.
    pub key: ObjectKey,
    /// What is wrong with it.
    pub message: String,
}
