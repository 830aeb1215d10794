//! How big a document really is, measured before anything expands it.
//!
//! async-graphql's own checks (recursion depth, validation, depth and
//! complexity) walk a fragment's selections again at every spread, so a
//! chain of fragments that each spread the next twice costs 2ⁿ steps before
//! any limit answers: one small anonymous request could hold a core for
//! minutes. This pass reads every definition once, notes how many fields it
//! writes and which fragments it spreads, then sizes each fragment once and
//! adds that size at each of its spreads. It is linear in the document
//! whatever the fragments do, so it can run on every request before the
//! library looks at the document at all.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    Directive, ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Positioned, parser::types::VariableDefinition};

/// The ceilings a document is held to (settings `GRAPHQL_MAX_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentLimits {
    /// Fields the document would have once every spread is replaced by its
    /// fragment, summed over all operations and fragment definitions.
    pub max_expanded_fields: u64,
    pub max_fragments: usize,
    pub max_spreads: usize,
    pub max_directives: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
}

/// Which limit a document broke, for `extensions.limit` and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Fragments,
    Spreads,
    Directives,
    Aliases,
    ExpandedFields,
    RootFields,
    /// A fragment spreads itself, directly or through others.
    FragmentCycle(String),
}

impl Refusal {
    /// The value of `extensions.limit`.
    #[must_use]
    pub fn limit(&self) -> &'static str {
        match self {
            Self::Fragments => "fragments",
            Self::Spreads => "spreads",
            Self::Directives => "directives",
            Self::Aliases => "aliases",
            Self::ExpandedFields => "expandedFields",
            Self::RootFields => "rootFields",
            Self::FragmentCycle(_) => "fragmentCycle",
        }
    }

    #[must_use]
    pub fn message(&self, limits: &DocumentLimits) -> String {
        match self {
            Self::Fragments => format!(
                "The document defines more than {} fragments",
                limits.max_fragments
            ),
            Self::Spreads => format!(
                "The document has more than {} fragment spreads",
                limits.max_spreads
            ),
            Self::Directives => format!(
                "The document has more than {} directives",
                limits.max_directives
            ),
            Self::Aliases => format!("The document has more than {} aliases", limits.max_aliases),
            Self::ExpandedFields => format!(
                "The document expands to more than {} fields once its fragments are spread",
                limits.max_expanded_fields
            ),
            Self::RootFields => format!(
                "An operation selects more than {} root fields",
                limits.max_root_fields
            ),
            Self::FragmentCycle(name) => format!("Fragment \"{name}\" spreads itself"),
        }
    }
}

/// What one definition (an operation or a fragment) writes, as text.
#[derive(Default)]
struct Written<'a> {
    fields: u64,
    /// Fragment names spread anywhere inside, once per spread.
    spreads: Vec<&'a str>,
    aliases: usize,
    directives: usize,
}

impl<'a> Written<'a> {
    /// Read a selection set. Recursion follows the nesting of the text only
    /// (the parser caps it), never a spread.
    fn selection_set(&mut self, set: &'a SelectionSet) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    self.fields += 1;
                    self.aliases += usize::from(field.node.alias.is_some());
                    self.directives(&field.node.directives);
                    self.selection_set(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => {
                    self.directives(&fragment.node.directives);
                    self.selection_set(&fragment.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    self.directives(&spread.node.directives);
                    self.spreads.push(spread.node.fragment_name.node.as_str());
                }
            }
        }
    }

    fn directives(&mut self, directives: &[Positioned<Directive>]) {
        self.directives += directives.len();
    }

    fn variables(&mut self, variables: &[Positioned<VariableDefinition>]) {
        for variable in variables {
            self.directives(&variable.node.directives);
        }
    }
}

/// Check `document` against `limits`, cheapest counts first.
pub fn check(document: &ExecutableDocument, limits: &DocumentLimits) -> Result<(), Refusal> {
    if document.fragments.len() > limits.max_fragments {
        return Err(Refusal::Fragments);
    }
    let mut operations = Vec::new();
    for (_, operation) in document.operations.iter() {
        let mut written = Written::default();
        written.directives(&operation.node.directives);
        written.variables(&operation.node.variable_definitions);
        written.selection_set(&operation.node.selection_set.node);
        operations.push(written);
    }
    let mut fragments: HashMap<&str, Written> = HashMap::with_capacity(document.fragments.len());
    for (name, fragment) in &document.fragments {
        fragments.insert(name.as_str(), written_fragment(&fragment.node));
    }
    let all = || operations.iter().chain(fragments.values());
    if all().map(|written| written.spreads.len()).sum::<usize>() > limits.max_spreads {
        return Err(Refusal::Spreads);
    }
    if all().map(|written| written.directives).sum::<usize>() > limits.max_directives {
        return Err(Refusal::Directives);
    }
    if all().map(|written| written.aliases).sum::<usize>() > limits.max_aliases {
        return Err(Refusal::Aliases);
    }
    let sizes = fragment_sizes(&fragments)?;
    let size_of = |written: &Written| {
        written.spreads.iter().fold(written.fields, |total, name| {
            total.saturating_add(sizes.get(name).copied().unwrap_or(0))
        })
    };
    // Validation walks every definition, unused fragments included.
    let expanded = all().fold(0u64, |total, written| {
        total.saturating_add(size_of(written))
    });
    if expanded > limits.max_expanded_fields {
        return Err(Refusal::ExpandedFields);
    }
    if most_root_fields(document) > limits.max_root_fields {
        return Err(Refusal::RootFields);
    }
    Ok(())
}

fn written_fragment(fragment: &FragmentDefinition) -> Written<'_> {
    let mut written = Written::default();
    written.directives(&fragment.directives);
    written.selection_set(&fragment.selection_set.node);
    written
}

/// Each fragment's expanded field count, every fragment sized once (an
/// explicit stack, so a long chain of fragments cannot exhaust the real
/// one). Spreads of unknown fragments count nothing: validation refuses
/// them later.
fn fragment_sizes<'a>(
    fragments: &HashMap<&'a str, Written<'a>>,
) -> Result<HashMap<&'a str, u64>, Refusal> {
    let mut sizes: HashMap<&str, u64> = HashMap::with_capacity(fragments.len());
    let mut on_path: HashSet<&str> = HashSet::new();
    for &start in fragments.keys() {
        if sizes.contains_key(start) {
            continue;
        }
        // (fragment, index of the next spread to visit)
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        on_path.insert(start);
        while let Some(&mut (name, ref mut next)) = stack.last_mut() {
            let written = &fragments[name];
            if let Some(&target) = written.spreads.get(*next) {
                *next += 1;
                if sizes.contains_key(target) || !fragments.contains_key(target) {
                    continue;
                }
                if !on_path.insert(target) {
                    return Err(Refusal::FragmentCycle(target.to_owned()));
                }
                stack.push((target, 0));
                continue;
            }
            let size = written
                .spreads
                .iter()
                .fold(written.fields, |total, target| {
                    total.saturating_add(sizes.get(target).copied().unwrap_or(0))
                });
            sizes.insert(name, size);
            on_path.remove(name);
            stack.pop();
        }
    }
    Ok(sizes)
}

/// The most root fields any one operation selects, fragments expanded (each
/// fragment once: the executor merges repeated spreads of one fragment).
fn most_root_fields(document: &ExecutableDocument) -> usize {
    fn in_set<'a>(
        document: &'a ExecutableDocument,
        set: &'a SelectionSet,
        seen: &mut HashSet<&'a str>,
    ) -> usize {
        let mut count = 0;
        for selection in &set.items {
            count += match &selection.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(fragment) => {
                    in_set(document, &fragment.node.selection_set.node, seen)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match document.fragments.get(name) {
                        Some(fragment) if seen.insert(name) => {
                            in_set(document, &fragment.node.selection_set.node, seen)
                        }
                        _ => 0,
                    }
                }
            };
        }
        count
    }
    document
        .operations
        .iter()
        .map(|(_, operation)| {
            in_set(
                document,
                &operation.node.selection_set.node,
                &mut HashSet::new(),
            )
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use async_graphql::parser::parse_query;

    use super::*;

    const LIMITS: DocumentLimits = DocumentLimits {
        max_expanded_fields: 2000,
        max_fragments: 100,
        max_spreads: 500,
        max_directives: 50,
        max_aliases: 15,
        max_root_fields: 10,
    };

    fn check_text(text: &str, limits: &DocumentLimits) -> Result<(), Refusal> {
        check(&parse_query(text).expect("parses"), limits)
    }

    /// `query{...F0}`, each `Fi` spreading `Fi+1` twice, `Fn` a leaf.
    fn doubling_chain(n: usize) -> String {
        let mut text = String::from("query { ...F0 }");
        for i in 0..n {
            text.push_str(&format!(
                " fragment F{i} on Query {{ ...F{next} ...F{next} }}",
                next = i + 1
            ));
        }
        text.push_str(&format!(" fragment F{n} on Query {{ __typename }}"));
        text
    }

    #[test]
    fn a_doubling_chain_is_sized_without_being_expanded() {
        assert_eq!(check_text(&doubling_chain(8), &LIMITS), Ok(()));
        // 2^60 fields once expanded: refused, and at once.
        let text = doubling_chain(60);
        let document = parse_query(&text).expect("parses");
        let started = Instant::now();
        assert_eq!(check(&document, &LIMITS), Err(Refusal::ExpandedFields));
        assert!(started.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn sizes_add_up_across_spreads_and_inline_fragments() {
        let text = "{ me { id ...U } ...Q } \
                    fragment U on User { name ... on User { email } } \
                    fragment Q on Query { me { ...U ...U } }";
        // Operation: me, id (2) + U; Q: me (1) + 2U; U: name, email (2).
        // 2 + 2 + (1 + 4) written in the operation, then Q (5) and U (2).
        let exact = |max| DocumentLimits {
            max_expanded_fields: max,
            ..LIMITS
        };
        assert_eq!(check_text(text, &exact(16)), Ok(()));
        assert_eq!(check_text(text, &exact(15)), Err(Refusal::ExpandedFields));
    }

    #[test]
    fn counts_of_written_things_have_their_own_limits() {
        let many_fragments = (0..101)
            .map(|i| format!("fragment F{i} on Query {{ __typename }}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            check_text(&format!("{{ __typename }} {many_fragments}"), &LIMITS),
            Err(Refusal::Fragments)
        );
        let spreads = "...F ".repeat(501);
        assert_eq!(
            check_text(
                &format!("{{ {spreads} }} fragment F on Query {{ __typename }}"),
                &LIMITS
            ),
            Err(Refusal::Spreads)
        );
        let directives = "@include(if: true) ".repeat(51);
        assert_eq!(
            check_text(&format!("{{ __typename {directives} }}"), &LIMITS),
            Err(Refusal::Directives)
        );
        let aliases = (0..16)
            .map(|i| format!("a{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            check_text(
                &format!("{{ ...F }} fragment F on Query {{ {aliases} }}"),
                &LIMITS
            ),
            Err(Refusal::Aliases)
        );
        let wide = "{ ...F me { id } } fragment F on Query { a: me { id } b: me { id } c: me { id } \
                    d: me { id } e: me { id } f: me { id } g: me { id } h: me { id } i: me { id } \
                    j: me { id } }";
        assert_eq!(check_text(wide, &LIMITS), Err(Refusal::RootFields));
    }

    #[test]
    fn a_fragment_cycle_is_refused_rather_than_followed() {
        let text = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert!(matches!(
            check_text(text, &LIMITS),
            Err(Refusal::FragmentCycle(_))
        ));
        let own = "{ ...A } fragment A on Query { __typename ...A }";
        assert!(matches!(
            check_text(own, &LIMITS),
            Err(Refusal::FragmentCycle(_))
        ));
    }

    #[test]
    fn a_megabyte_of_hostile_fragments_is_sized_in_one_pass() {
        // Far more fragments and spreads than any limit allows, so the size
        // pass itself runs: 3^16000 fields once expanded, which only a
        // linear pass can size at all.
        let generous = DocumentLimits {
            max_fragments: usize::MAX,
            max_spreads: usize::MAX,
            ..LIMITS
        };
        let mut text = String::from("query { ...F0 }");
        let mut i = 0;
        while text.len() < 1_000_000 {
            text.push_str(&format!(
                " fragment F{i} on Query {{ ...F{next} ...F{next} ...F{next} }}",
                next = i + 1
            ));
            i += 1;
        }
        text.push_str(&format!(" fragment F{i} on Query {{ __typename }}"));
        let document = parse_query(&text).expect("parses");
        let started = Instant::now();
        assert_eq!(check(&document, &generous), Err(Refusal::ExpandedFields));
        eprintln!(
            "{} bytes, {} fragments sized in {:?}",
            text.len(),
            document.fragments.len(),
            started.elapsed()
        );
        // With the real limits the count of fragments refuses it first.
        let started = Instant::now();
        assert_eq!(check(&document, &LIMITS), Err(Refusal::Fragments));
        eprintln!("refused by the fragment count in {:?}", started.elapsed());
    }
}
