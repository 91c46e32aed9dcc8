//! Checks of one threshold key: the bound a value must keep ([`Bound`],
//! [`within`], [`check_keys`]) and warn/fail pairs ([`levels`]), failing
//! with the key's dotted name ([`BadKey`]). Each rule section validates its
//! keys with these; the profile ([`super::profile`]) gathers the sections.

/// A threshold key whose value cannot be used (see [`super::Profile::validate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BadKey {
    /// Dotted path of the key.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl BadKey {
    /// A bad key `section.name` with `message`.
    pub fn new(section: &str, name: &str, message: impl Into<String>) -> BadKey {
        BadKey {
            key: format!("{section}.{name}"),
            message: message.into(),
        }
    }
}

/// What a threshold key may hold. A section lists each key with its bound
/// ([`check_keys`]), so a new key joins with one line; a value outside it
/// is one that could never (or would always) fire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// A finite number above 0.
    Positive,
    /// A share of a whole: above 0, at most 1.
    Fraction,
    /// A percentage: above 0, at most 100.
    Percent,
    /// Above 0, at most this.
    AtMost(f64),
}

impl Bound {
    /// The largest value the bound admits.
    fn max(self) -> f64 {
        match self {
            Bound::Positive => f64::MAX,
            Bound::Fraction => 1.0,
            Bound::Percent => 100.0,
            Bound::AtMost(max) => max,
        }
    }
}

/// Checks one key against its bound (NaN and infinities never pass).
pub fn within(section: &str, name: &str, value: f64, bound: Bound) -> Result<(), BadKey> {
    if !(value.is_finite() && value > 0.0) {
        return Err(BadKey::new(
            section,
            name,
            format!("must be a number above 0, got {value}"),
        ));
    }
    if value > bound.max() {
        return Err(BadKey::new(
            section,
            name,
            format!("must be at most {}, got {value}", bound.max()),
        ));
    }
    Ok(())
}

/// Checks each `(key, value, bound)` of a section, the first bad one named.
pub fn check_keys(section: &str, keys: &[(&str, f64, Bound)]) -> Result<(), BadKey> {
    keys.iter()
        .try_for_each(|&(name, value, bound)| within(section, name, value, bound))
}

/// Checks that a threshold is a finite number above zero.
pub fn positive(section: &str, name: &str, value: f64) -> Result<(), BadKey> {
    within(section, name, value, Bound::Positive)
}

/// Checks a warn/fail pair: both positive, warn not above fail.
pub fn levels(section: &str, warn: (&str, f64), fail: (&str, f64)) -> Result<(), BadKey> {
    positive(section, warn.0, warn.1)?;
    positive(section, fail.0, fail.1)?;
    if warn.1 > fail.1 {
        return Err(BadKey::new(
            section,
            warn.0,
            format!("{} is above {} = {}", warn.1, fail.0, fail.1),
        ));
    }
    Ok(())
}
