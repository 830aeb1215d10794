//! Parsed documents, remembered by their text.
//!
//! Clients send the same few documents over and over (variables carry what
//! changes), and parsing one is a good share of a small request: for
//! `user(username)` about a sixth of its instructions (docs/performance.md,
//! issue 16). A copy of a parsed document costs less than parsing its text
//! again, so the parse of a short document is kept and copied into every
//! request that sends the same text.
//!
//! Bounded both ways, so hostile traffic cannot grow it: only documents of
//! at most [`MAX_TEXT_BYTES`] are kept, at most [`CAPACITY`] of them, and
//! when it is full it starts over empty. A document that does not parse is
//! not kept (async-graphql reports the error from the request's own text).
//!
//! A kept document of the shape compiled queries cover also keeps its plan
//! (see [`super::compiled`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::Request;
use async_graphql::parser::types::ExecutableDocument;

use super::compiled::{self, Compiled};

/// The longest document text kept.
pub const MAX_TEXT_BYTES: usize = 2048;
/// The most documents kept.
pub const CAPACITY: usize = 128;

#[derive(Default)]
pub struct DocumentCache {
    parsed: Mutex<HashMap<String, Arc<Known>>>,
}

/// A kept document.
pub struct Known {
    pub document: ExecutableDocument,
    /// Its plan, when it has the shape compiled queries cover.
    pub compiled: Option<Compiled>,
}

impl DocumentCache {
    /// Attach the parsed document to `request`: a copy of the kept one when
    /// its text was seen before, else its own parse (kept when short). The
    /// kept entry, when there is one.
    pub fn parse(&self, request: &mut Request) -> Option<Arc<Known>> {
        if request.query.len() > MAX_TEXT_BYTES {
            return None;
        }
        let known = self.lock().get(request.query.as_str()).map(Arc::clone);
        if let Some(known) = known {
            request.set_parsed_query(known.document.clone());
            return Some(known);
        }
        let document = request.parsed_query().ok()?;
        let known = Arc::new(Known {
            compiled: compiled::compile(document).map(Compiled::new),
            document: document.clone(),
        });
        let mut parsed = self.lock();
        if parsed.len() >= CAPACITY {
            parsed.clear();
        }
        parsed.insert(request.query.clone(), Arc::clone(&known));
        Some(known)
    }

    /// How many documents are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Known>>> {
        // A panic while holding the lock cannot leave the map half-written
        // in a way that matters: every entry is a whole parse.
        self.parsed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_the_cache_stays_bounded() {
        let cache = DocumentCache::default();
        let mut first = Request::new("{ me { id } }");
        cache.parse(&mut first);
        assert_eq!(cache.len(), 1);
        let mut again = Request::new("{ me { id } }");
        cache.parse(&mut again);
        assert_eq!(cache.len(), 1);
        let parsed = again.parsed_query().map(|d| format!("{d:?}"));
        let original = first.parsed_query().map(|d| format!("{d:?}"));
        assert_eq!(parsed.ok(), original.ok());

        // Syntax errors and long documents are not kept.
        cache.parse(&mut Request::new("{ me { id }"));
        let long = format!("{{ {} }}", "__typename ".repeat(MAX_TEXT_BYTES / 10));
        cache.parse(&mut Request::new(long));
        assert_eq!(cache.len(), 1);

        for i in 0..CAPACITY + 5 {
            cache.parse(&mut Request::new(format!("{{ a{i}: __typename }}")));
        }
        assert!(cache.len() <= CAPACITY);
    }
}
