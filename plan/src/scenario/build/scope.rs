//! Where one request of a scenario stands while it is checked ([`Scope`]): its
//! key path (for errors naming the line and key) and what its templates may
//! refer to. A leaf of `build`: `requests` makes one per request, `checks` reads
//! it.

use super::Ctx;
use crate::scenario::error::ScenarioError;
use crate::scenario::locate::Seg;

/// Where one request stands and what it may refer to.
pub(super) struct Scope<'a> {
    pub(super) ctx: Ctx<'a>,
    /// `scenarios.{name}.requests[i]`.
    pub(super) path: Vec<Seg<'a>>,
    /// The test's base URL.
    pub(super) target: &'a str,
    /// The scenario's data columns.
    pub(super) columns: &'a [String],
    /// Names captured by earlier requests.
    pub(super) captured: &'a [String],
}

impl Scope<'_> {
    /// An error about the request's key `field`.
    pub(super) fn fail(&self, field: &'static str, message: String) -> ScenarioError {
        let mut path = self.path.clone();
        path.push(Seg::Key(field));
        self.ctx.fail(&path, message)
    }

    /// An error about item `j` of the request's list `field`.
    pub(super) fn fail_item(
        &self,
        field: &'static str,
        j: usize,
        message: String,
    ) -> ScenarioError {
        let mut path = self.path.clone();
        path.extend([Seg::Key(field), Seg::Index(j)]);
        self.ctx.fail(&path, message)
    }
}
