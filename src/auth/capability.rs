//! "May this caller …?" answered in one place. Who may manage an account
//! (change it, delete it, edit its posts), who may see an email address,
//! who may list deleted users or search by email: the user themselves or a
//! superuser, decided here once. Guards, the `User` view and the services
//! ask this type instead of comparing ids and flags themselves, so a new
//! role (a moderator, an organisation admin) changes one file.

use super::caller::{Authentication, Caller};
use crate::entities::user;

/// Whose email addresses a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVisibility {
    Everyone,
    /// Only the caller's own, this user id's.
    Own(i32),
    Nobody,
}

/// What one caller may do to, and see of, other users.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities<'a> {
    caller: Option<&'a user::Model>,
}

impl<'a> Capabilities<'a> {
    /// Nobody logged in: may read public things only.
    #[must_use]
    pub fn anonymous() -> Self {
        Self { caller: None }
    }

    /// The capabilities of `caller`.
    #[must_use]
    pub fn of(caller: &'a Caller) -> Self {
        Self {
            caller: Some(&caller.user),
        }
    }

    /// The capabilities of whoever made this request (anonymous when the
    /// token was refused or the session has ended).
    #[must_use]
    pub fn of_request(authentication: &'a Authentication) -> Self {
        Self {
            caller: authentication.caller().map(|caller| &caller.user),
        }
    }

    /// A superuser may do everything below to anybody.
    #[must_use]
    pub fn is_superuser(self) -> bool {
        self.caller.is_some_and(|caller| caller.is_superuser)
    }

    fn is(self, user_id: i32) -> bool {
        self.caller.is_some_and(|caller| caller.id == user_id)
    }

    /// Change, delete or act for the user `owner_id`, and change what
    /// belongs to them (their posts).
    #[must_use]
    pub fn can_manage(self, owner_id: i32) -> bool {
        self.is_superuser() || self.is(owner_id)
    }

    /// [`Self::can_manage`] for the user called `username` (as typed: the
    /// comparison is on the trimmed, lower-cased name usernames are stored as).
    #[must_use]
    pub fn can_manage_named(self, username: &str) -> bool {
        self.is_superuser()
            || self
                .caller
                .is_some_and(|caller| caller.username == username.trim().to_lowercase())
    }

    /// See the email address of the user `user_id`.
    #[must_use]
    pub fn can_see_email(self, user_id: i32) -> bool {
        match self.email_visibility() {
            EmailVisibility::Everyone => true,
            EmailVisibility::Own(own) => own == user_id,
            EmailVisibility::Nobody => false,
        }
    }

    /// Whose email addresses this caller sees, for code that decides for
    /// many users at once (a listing written by the database): the same
    /// rule as [`Self::can_see_email`], the user themselves or a superuser.
    #[must_use]
    pub fn email_visibility(self) -> EmailVisibility {
        match self.caller {
            Some(caller) if caller.is_superuser => EmailVisibility::Everyone,
            Some(caller) => EmailVisibility::Own(caller.id),
            None => EmailVisibility::Nobody,
        }
    }

    /// List soft-deleted users.
    #[must_use]
    pub fn can_list_deleted(self) -> bool {
        self.is_superuser()
    }

    /// Match a search against email addresses; for anyone else the search
    /// would be an oracle for hidden addresses.
    #[must_use]
    pub fn can_search_email(self) -> bool {
        self.is_superuser()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i32, username: &str, is_superuser: bool) -> user::Model {
        user::Model::sample(id, username, is_superuser)
    }

    #[test]
    fn the_user_themselves_and_superusers_manage_an_account_nobody_else() {
        let ann = user(1, "ann", false);
        let root = user(2, "root", true);
        let ann = Capabilities { caller: Some(&ann) };
        let root = Capabilities {
            caller: Some(&root),
        };
        let nobody = Capabilities::anonymous();
        assert!(ann.can_manage(1) && ann.can_see_email(1) && ann.can_manage_named(" Ann "));
        assert!(!ann.can_manage(3) && !ann.can_see_email(3) && !ann.can_manage_named("bob"));
        assert!(!ann.can_list_deleted() && !ann.can_search_email());
        assert!(root.can_manage(3) && root.can_see_email(3) && root.can_manage_named("bob"));
        assert!(root.can_list_deleted() && root.can_search_email());
        assert!(!nobody.can_manage(1) && !nobody.can_see_email(1) && !nobody.is_superuser());
    }
}
