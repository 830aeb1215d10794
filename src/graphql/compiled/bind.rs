//! A plan with one request's variables: the arguments as the resolvers
//! would see them, or `None` whenever a value is not one the plan is sure
//! to treat as async-graphql would (wrong type, out of range, a cursor this
//! server did not issue). Those requests run the ordinary way, which gives
//! the error.

use async_graphql::{Request, Value as ConstValue};

use super::plan::{Argument, Plan, Root};
use crate::graphql::users::page_request;
use crate::services::listing::PageRequest;

/// The arguments of a planned root field.
#[derive(Debug)]
pub enum Bound {
    User { username: String },
    Users { request: PageRequest, page: i32 },
}

impl Bound {
    /// The page size asked for (1 for a single user): what the complexity
    /// of the document grows with.
    #[must_use]
    pub fn size(&self) -> u64 {
        match self {
            Self::User { .. } => 1,
            Self::Users { request, .. } => request.size(),
        }
    }
}

/// `plan`'s arguments in `request`.
#[must_use]
pub fn bind(plan: &Plan, request: &Request) -> Option<Bound> {
    if let Some(asked) = &request.operation_name
        && plan.operation.as_ref().map(|name| name.as_str()) != Some(asked.as_str())
    {
        return None;
    }
    let value = |argument: &Argument| -> Option<Option<ConstValue>> {
        match argument {
            Argument::Absent => Some(None),
            Argument::Literal(value) => Some(Some(value.clone())),
            Argument::Variable { name, declared } => match request.variables.get(name.as_str()) {
                None | Some(ConstValue::Null) if declared.required() => None,
                None | Some(ConstValue::Null) => Some(None),
                Some(value) => Some(Some(value.clone())),
            },
        }
    };
    let int = |argument: &Argument| -> Option<Option<i32>> {
        match value(argument)? {
            None => Some(None),
            Some(ConstValue::Number(number)) => Some(Some(i32::try_from(number.as_i64()?).ok()?)),
            Some(_) => None,
        }
    };
    let string = |argument: &Argument| -> Option<Option<String>> {
        match value(argument)? {
            None => Some(None),
            Some(ConstValue::String(text)) => Some(Some(text)),
            Some(_) => None,
        }
    };
    match &plan.root {
        Root::User { username, .. } => Some(Bound::User {
            username: string(username)??,
        }),
        Root::Users { arguments, .. } => {
            let after = string(&arguments.after)?;
            let (request, page) = page_request(
                int(&arguments.page)?,
                int(&arguments.items_per_page)?,
                after.as_deref(),
                int(&arguments.first)?,
            )
            .ok()?;
            Some(Bound::Users { request, page })
        }
    }
}
