//! `GRAPHQL_INTROSPECTION=false`: a document asking for `__schema` or
//! `__type` is refused with `FORBIDDEN` before it runs (by [`super::gate`]), instead of the
//! silent `null` async-graphql answers, so a client knows why its tooling
//! shows nothing. (The schema also stops suggesting field names in
//! validation errors; see `build_schema_with`.)
//!
//! Both fields exist only on the query root, so only the root selections of
//! each query operation are read, following fragments spread there (each
//! fragment once, so a cycle cannot loop). `__typename` stays allowed.

use std::collections::HashSet;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};

/// The message of the refusal.
pub const INTROSPECTION_DISABLED: &str = "introspection is disabled";

/// Whether any query operation of `document` selects `__schema` or `__type`.
#[must_use]
pub fn asks_for_introspection(document: &ExecutableDocument) -> bool {
    let mut seen_fragments = HashSet::new();
    document
        .operations
        .iter()
        .filter(|(_, operation)| operation.node.ty == OperationType::Query)
        .any(|(_, operation)| {
            selects_introspection(
                document,
                &operation.node.selection_set.node,
                &mut seen_fragments,
            )
        })
}

fn selects_introspection<'a>(
    document: &'a ExecutableDocument,
    selections: &'a SelectionSet,
    seen_fragments: &mut HashSet<&'a str>,
) -> bool {
    selections
        .items
        .iter()
        .any(|selection| match &selection.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "__schema" | "__type")
            }
            Selection::InlineFragment(fragment) => {
                selects_introspection(document, &fragment.node.selection_set.node, seen_fragments)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if !seen_fragments.insert(name) {
                    return false;
                }
                document.fragments.get(name).is_some_and(|fragment| {
                    selects_introspection(
                        document,
                        &fragment.node.selection_set.node,
                        seen_fragments,
                    )
                })
            }
        })
}

#[cfg(test)]
mod tests {
    use super::asks_for_introspection;

    fn introspects(query: &str) -> bool {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        asks_for_introspection(&document)
    }

    #[test]
    fn introspection_is_found_wherever_the_root_hides_it() {
        assert!(introspects("{ __schema { queryType { name } } }"));
        assert!(introspects(
            "query Q { me { id } __type(name: \"User\") { name } }"
        ));
        assert!(introspects(
            "{ ...F } fragment F on Query { ... on Query { __schema { types { name } } } }"
        ));
        assert!(introspects(
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __type(name: \"X\") { name } }"
        ));
    }

    #[test]
    fn typename_and_ordinary_fields_are_not_introspection() {
        assert!(!introspects("{ __typename me { id __typename } }"));
        assert!(!introspects("{ ...A } fragment A on Query { ...A }"));
        assert!(!introspects("mutation { logout }"));
    }
}
