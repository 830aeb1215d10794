//! The arguments and variables of a planned root field: which a plan
//! accepts (literals and variables of the types the field takes, each
//! declared variable used, no defaults), as the document gives them.

use std::cell::Cell;

use async_graphql::parser::types::{BaseType, Field, OperationDefinition};
use async_graphql::{Name, Value as ConstValue};
use async_graphql_value::Value;

/// An argument as the document gives it.
#[derive(Debug, Clone)]
pub enum Argument {
    Absent,
    Literal(ConstValue),
    /// A variable of the operation, with the type it was declared with.
    Variable {
        name: Name,
        declared: Declared,
    },
}

/// The variable types a plan accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    Int { required: bool },
    String { required: bool },
}

impl Declared {
    #[must_use]
    pub fn required(self) -> bool {
        match self {
            Self::Int { required } | Self::String { required } => required,
        }
    }
}

/// The operation's variables: each of a type plans accept, without a
/// default value or directives.
pub struct Variables(Vec<(Name, Declared)>);

impl Variables {
    pub fn of(definition: &OperationDefinition) -> Option<Self> {
        let mut declared = Vec::with_capacity(definition.variable_definitions.len());
        for variable in &definition.variable_definitions {
            let variable = &variable.node;
            if variable.default_value.is_some() || !variable.directives.is_empty() {
                return None;
            }
            let ty = &variable.var_type.node;
            let BaseType::Named(name) = &ty.base else {
                return None;
            };
            let required = !ty.nullable;
            let kind = match name.as_str() {
                "Int" => Declared::Int { required },
                "String" => Declared::String { required },
                _ => return None,
            };
            declared.push((variable.name.node.clone(), kind));
        }
        Some(Self(declared))
    }

    fn get(&self, name: &str) -> Option<Declared> {
        self.0
            .iter()
            .find(|(declared, _)| declared.as_str() == name)
            .map(|(_, kind)| *kind)
    }

    pub fn all_used(&self, arguments: &Arguments) -> bool {
        self.0.iter().all(|(name, _)| {
            arguments.0.iter().any(|(_, argument, _)| {
                matches!(argument, Argument::Variable { name: used, .. } if used == name)
            })
        })
    }
}

/// The root field's arguments, each taken by name once.
pub struct Arguments(Vec<(Name, Argument, Cell<bool>)>);

impl Arguments {
    pub fn of(field: &Field, variables: &Variables) -> Option<Self> {
        let mut arguments = Vec::with_capacity(field.arguments.len());
        for (name, value) in &field.arguments {
            if arguments
                .iter()
                .any(|(seen, _, _): &(Name, Argument, _)| *seen == name.node)
            {
                return None;
            }
            let argument = match &value.node {
                Value::Variable(variable) => Argument::Variable {
                    name: variable.clone(),
                    declared: variables.get(variable.as_str())?,
                },
                Value::Number(_) | Value::String(_) => {
                    Argument::Literal(value.node.clone().into_const()?)
                }
                _ => return None,
            };
            arguments.push((name.node.clone(), argument, Cell::new(false)));
        }
        Some(Self(arguments))
    }

    /// Argument `name` (absent if not given); `None` when a variable is
    /// given whose declared type `accepts` refuses.
    pub fn take(&self, name: &str, accepts: impl Fn(Declared) -> bool) -> Option<Argument> {
        let Some((_, argument, taken)) = self.0.iter().find(|(n, _, _)| n.as_str() == name) else {
            return Some(Argument::Absent);
        };
        taken.set(true);
        match argument {
            Argument::Variable { declared, .. } if !accepts(*declared) => None,
            other => Some(other.clone()),
        }
    }

    pub fn all_taken(&self) -> bool {
        self.0.iter().all(|(_, _, taken)| taken.get())
    }
}
