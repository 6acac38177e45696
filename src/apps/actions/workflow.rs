//! The action state machine (SPEC.md rule 8), in one place: every status change of an action —
//! by `transition`, `approve` or `reject` — is checked here before anything is written.
//!
//! ```text
//! OPEN → IN_PROGRESS ⇄ WAITING (SLA clock paused)
//!        IN_PROGRESS → PENDING_APPROVAL → (approve) CLOSED
//!                      PENDING_APPROVAL → (reject)  IN_PROGRESS
//! any open status → CANCELLED
//! ```
//! `approve` is the only way to CLOSED; CLOSED and CANCELLED are final.

use super::model::{CANCELLED, CLOSED, IN_PROGRESS, OPEN, PENDING_APPROVAL, WAITING};

/// A requested status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move<'a> {
    /// `POST …/transition/ {"status": …}`.
    To(&'a str),
    Approve,
    Reject,
}

/// Statuses `transition` may move to from `from` (approve and reject are separate endpoints).
pub fn allowed(from: &str) -> &'static [&'static str] {
    match from {
        OPEN => &[IN_PROGRESS, CANCELLED],
        IN_PROGRESS => &[WAITING, PENDING_APPROVAL, CANCELLED],
        WAITING => &[IN_PROGRESS, CANCELLED],
        PENDING_APPROVAL => &[CANCELLED],
        _ => &[],
    }
}

/// Whether the action still counts as open work (CLOSED and CANCELLED are final).
pub fn is_open(status: &str) -> bool {
    !matches!(status, CLOSED | CANCELLED)
}

/// Whether the SLA engine (reminders, escalation) acts on an action in `status`. WAITING has its
/// clock stopped; PENDING_APPROVAL waits for the approver, not the assignee.
pub fn sla_running(status: &str) -> bool {
    matches!(status, OPEN | IN_PROGRESS)
}

fn refusal(from: &str, to: &str) -> String {
    let allowed = allowed(from);
    let list = if allowed.is_empty() {
        "none".to_string()
    } else {
        allowed.join(", ")
    };
    let mut msg = format!("cannot move from {from} to {to}; allowed: {list}");
    if to == CLOSED {
        msg.push_str(" (only approve closes an action)");
    }
    msg
}

/// The status the move leads to, or the message for `{"status": [...]}` (or for `approve` /
/// `reject`, the same wording).
///
/// # Errors
/// `cannot move from X to Y; allowed: A, B` when the move is not allowed.
pub fn check(from: &str, m: Move<'_>) -> Result<&'static str, String> {
    match m {
        Move::To(to) => allowed(from)
            .iter()
            .find(|s| **s == to)
            .copied()
            .ok_or_else(|| refusal(from, to)),
        Move::Approve if from == PENDING_APPROVAL => Ok(CLOSED),
        Move::Approve => Err(format!(
            "cannot move from {from} to {CLOSED}; only an action PENDING_APPROVAL can be approved"
        )),
        Move::Reject if from == PENDING_APPROVAL => Ok(IN_PROGRESS),
        Move::Reject => Err(format!(
            "cannot move from {from} to {IN_PROGRESS}; only an action PENDING_APPROVAL can be rejected"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::actions::model::STATUSES;

    #[test]
    fn the_happy_path_is_allowed() {
        assert_eq!(check(OPEN, Move::To(IN_PROGRESS)), Ok(IN_PROGRESS));
        assert_eq!(check(IN_PROGRESS, Move::To(WAITING)), Ok(WAITING));
        assert_eq!(check(WAITING, Move::To(IN_PROGRESS)), Ok(IN_PROGRESS));
        assert_eq!(
            check(IN_PROGRESS, Move::To(PENDING_APPROVAL)),
            Ok(PENDING_APPROVAL)
        );
        assert_eq!(check(PENDING_APPROVAL, Move::Approve), Ok(CLOSED));
        assert_eq!(check(PENDING_APPROVAL, Move::Reject), Ok(IN_PROGRESS));
    }

    #[test]
    fn no_transition_reaches_closed_only_approve_does() {
        for from in STATUSES {
            let e = check(from, Move::To(CLOSED)).unwrap_err();
            assert!(e.contains("only approve closes"), "{e}");
        }
    }

    #[test]
    fn refusals_name_the_allowed_transitions() {
        assert_eq!(
            check(OPEN, Move::To(PENDING_APPROVAL)).unwrap_err(),
            "cannot move from OPEN to PENDING_APPROVAL; allowed: IN_PROGRESS, CANCELLED"
        );
        assert_eq!(
            check(OPEN, Move::To("FROZEN")).unwrap_err(),
            "cannot move from OPEN to FROZEN; allowed: IN_PROGRESS, CANCELLED"
        );
        assert!(
            check(CLOSED, Move::To(OPEN))
                .unwrap_err()
                .ends_with("allowed: none")
        );
    }

    #[test]
    fn cancelled_is_reachable_from_every_open_status_and_final_states_are_final() {
        for from in STATUSES {
            assert_eq!(
                check(from, Move::To(CANCELLED)).is_ok(),
                is_open(from),
                "{from}"
            );
        }
        assert!(allowed(CLOSED).is_empty() && allowed(CANCELLED).is_empty());
    }

    #[test]
    fn approve_and_reject_need_pending_approval() {
        for from in [OPEN, IN_PROGRESS, WAITING, CLOSED, CANCELLED] {
            assert!(check(from, Move::Approve).is_err());
            assert!(check(from, Move::Reject).is_err());
        }
    }
}
