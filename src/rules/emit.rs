//! The registry's (id, rule function) pairs as types: a rule builds a
//! finding's id through an [`Emit`]`<by::f>`, whose [`Emit::id`] accepts
//! only the id tokens ([`ids`](crate::findings::registry::ids)) that `by::f` [`Gives`], i.e. those the
//! registry line of the id names `f` for. Emitting an id the registry does
//! not list for the function fails to compile, so the registry and the
//! rules cannot disagree (no run-time check needed):
//!
//! ```compile_fail,E0277
//! use etcd_doctor::findings::registry::ids;
//! use etcd_doctor::rules::{by, emit::Emit};
//! // `run::net` does not give `disk.fsync-slow`.
//! let id = Emit::<by::net>::new().id(ids::DiskFsyncSlow);
//! ```
//!
//! while the same call with an id its line lists compiles:
//!
//! ```
//! use etcd_doctor::findings::{registry::ids, FindingId};
//! use etcd_doctor::rules::{by, emit::Emit};
//! let id = Emit::<by::net>::new().id(ids::NetErrors);
//! assert_eq!(id, FindingId::NetErrors);
//! ```

use std::marker::PhantomData;

use crate::findings::registry::ids::Token;
use crate::findings::FindingId;

/// `Self` (a rule function's marker in [`super::by`]) gives the finding
/// id of token `I`; written by `crate::rules` from the registry's lines.
pub trait Gives<I: Token> {}

/// Builds the ids of the findings of rule function `B` (a marker of
/// [`super::by`]). Zero-sized and `Copy`: hand it to helpers by value.
pub struct Emit<B>(PhantomData<fn() -> B>);

impl<B> Clone for Emit<B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B> Copy for Emit<B> {}

impl<B> Emit<B> {
    /// The emitter of `B`'s findings. Holding one lets code build only
    /// the ids `B` gives, whoever holds it.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Emit<B> {
        Emit(PhantomData)
    }

    /// The id of token `id`, which rule function `B` gives (else this
    /// does not compile).
    pub const fn id<I: Token>(self, _id: I) -> FindingId
    where
        B: Gives<I>,
    {
        I::ID
    }
}
