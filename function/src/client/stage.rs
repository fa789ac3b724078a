//! Where an exchange broke ([`Stage`]): named by both protocols and by the
//! classification of failures. A leaf.

/// Where an exchange broke.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stage {
    /// The connection did not accept a request (it was closed).
    NotReady,
    /// Before the response head arrived.
    Head,
    /// While reading the body.
    Body,
}
