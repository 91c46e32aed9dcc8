//! The registry's (id, rule function) pairs as types. Code builds a
//! [`Finding`] only here (a private field keeps struct literals out; JSON
//! still reads back): through an [`Emit`]`<B>`, `B` a rule function's
//! marker (`crate::rules::by`), whose [`Emit::finding`] takes an id token
//! ([`ids`](super::registry::ids)) only if `B` [`Gives`] it, i.e. if the
//! id's registry line names the function (`crate::rules` writes the
//! `Gives` impls from the registry). A rule emitting an id its line does
//! not list fails to compile, so registry and rules cannot disagree and
//! need no run-time check:
//!
//! ```compile_fail,E0277
//! use etcd_doctor::findings::registry::ids;
//! use etcd_doctor::findings::emit::Emit;
//! use etcd_doctor::rules::by;
//! // `run::net` does not give `disk.fsync-slow`.
//! let f = Emit::<by::net>::new().finding(ids::DiskFsyncSlow, Default::default());
//! ```
//!
//! while the same call with an id its line lists compiles:
//!
//! ```
//! use etcd_doctor::findings::{registry::ids, FindingId};
//! use etcd_doctor::findings::emit::Emit;
//! use etcd_doctor::rules::by;
//! let f = Emit::<by::net>::new().finding(ids::NetErrors, Default::default());
//! assert_eq!(f.id, FindingId::NetErrors);
//! ```

use std::marker::PhantomData;

use super::registry::ids::Token;
use super::{Draft, Finding, FindingId};

/// `Self` (a rule function's marker) gives the finding id of token `I`.
pub trait Gives<I: Token> {}

/// Builds the findings of rule function `B`. Zero-sized and `Copy`: hand
/// it to helpers by value.
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

    /// The finding `draft` says, with the id of token `id`, which rule
    /// function `B` gives (else this does not compile).
    pub fn finding<I: Token>(self, id: I, draft: Draft) -> Finding
    where
        B: Gives<I>,
    {
        self.id(id).finding(draft)
    }

    /// The id of token `id`, checked as [`Emit::finding`] does, for a
    /// table of rules that builds its findings later.
    pub const fn id<I: Token>(self, _id: I) -> Checked<B>
    where
        B: Gives<I>,
    {
        Checked(I::ID, PhantomData)
    }
}

/// A finding id that rule function `B` gives, checked when it was made
/// (only [`Emit::id`] makes one).
pub struct Checked<B>(FindingId, PhantomData<fn() -> B>);

impl<B> Clone for Checked<B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B> Copy for Checked<B> {}

impl<B> Checked<B> {
    /// The id.
    pub const fn get(self) -> FindingId {
        self.0
    }

    /// The finding `draft` says, with this id.
    pub fn finding(self, draft: Draft) -> Finding {
        Finding::with_id(self.0, draft)
    }
}
