//! Stream entry ids (`<ms>-<seq>`), compared as numbers: a string comparison puts `9-5` after
//! `10-0`. Trimming and the stray-entry check of reading both order entries by id.

/// A stream entry id, compared numerically (`<ms>-<seq>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct EntryId(pub(super) u64, pub(super) u64);

impl EntryId {
    pub(super) fn parse(id: &str) -> Option<Self> {
        let (ms, seq) = id.split_once('-')?;
        Some(Self(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::EntryId;

    #[test]
    fn entry_ids_compare_as_numbers() {
        let a = EntryId::parse("9-5").unwrap();
        let b = EntryId::parse("10-0").unwrap();
        assert!(
            a < b,
            "9-5 before 10-0 (a string comparison says otherwise)"
        );
        assert_eq!(a.to_string(), "9-5");
        assert_eq!(EntryId::parse("x-1"), None);
        assert_eq!(EntryId::parse("12"), None);
    }
}
