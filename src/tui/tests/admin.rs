//! The Admin tab driven by keys and drawn at 80×24 and 120×40: the users and the live sessions,
//! every action's confirm modal (and that nothing is sent before Yes), the new-user form, the
//! temporary password shown once, and the refusals shown as one sentence. The forced password change
//! is in `admin_password`.

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::KeyCode;
use uuid::Uuid;

use super::{Console, SIZES, smith};
use crate::db::DbError;
use crate::services::ServiceError;
use crate::services::admin::{
    AdminUser, LiveSession, SessionFilter, TemporaryPassword, UserFilter,
};
use crate::services::auth::LoginStep;
use crate::services::sessions::Session;
use crate::services::users::{Role, UserSummary};
use crate::tui::msg::{Acted, AdminResult, AdminWork, Effect, ListPage, Msg, Outcome};
use crate::tui::screens::Screen;
use zeroize::Zeroizing;

pub(super) fn admin() -> UserSummary {
    UserSummary {
        id: Uuid::from_u128(20),
        email: "admin@healthystellar.com".into(),
        first_name: "Admin".into(),
        last_name: "User".into(),
        role: Role::Admin,
    }
}

pub(super) fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, h, m, 0).unwrap()
}

/// When the lists were read: Dr Smith's lockout runs until 10:30, so he is locked.
fn read_at() -> DateTime<Utc> {
    at(10, 0)
}

fn user(n: u128, first: &str, last: &str, email: &str, role: Role) -> AdminUser {
    AdminUser {
        id: Uuid::from_u128(n),
        email: email.into(),
        first_name: first.into(),
        last_name: last.into(),
        role,
        is_active: true,
        locked_until: None,
        mfa_enabled: true,
        requires_password_change: false,
        last_login_at: Some(at(9, 15)),
        created_at: Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap(),
        active_sessions: 0,
    }
}

pub(super) fn emily() -> AdminUser {
    let mut u = user(
        4,
        "Emily",
        "Williams",
        "nurse.williams@healthystellar.com",
        Role::Nurse,
    );
    u.active_sessions = 2;
    u
}

/// Emily (two sessions), Dr Smith (locked out), David (inactive), Alice (must change her password,
/// never signed in), the admin themself, and an account whose name carries escape sequences.
pub(super) fn users() -> Vec<AdminUser> {
    let mut smith_row = user(
        smith().id.as_u128(),
        "John",
        "Smith",
        "dr.smith@healthystellar.com",
        Role::Physician,
    );
    smith_row.locked_until = Some(at(10, 30));
    let mut david = user(
        9,
        "David",
        "Davis",
        "billing@healthystellar.com",
        Role::BillingStaff,
    );
    david.is_active = false;
    david.mfa_enabled = false;
    let mut alice = user(
        2,
        "Alice",
        "Anderson",
        "patient1@example.com",
        Role::Patient,
    );
    alice.requires_password_change = true;
    alice.last_login_at = None;
    alice.mfa_enabled = false;
    let mut me = user(20, "Admin", "User", "admin@healthystellar.com", Role::Admin);
    me.active_sessions = 1;
    let hostile = user(
        66,
        "Eve\x1b]0;pwned\x07",
        "\u{202e}Mallory",
        "eve@example.com",
        Role::Patient,
    );
    vec![emily(), smith_row, david, alice, me, hostile]
}

/// Two sessions of Emily's and the admin's own (its id is the test session's, nil).
pub(super) fn sessions() -> Vec<LiveSession> {
    let session = |id: u128, user: &AdminUser, source: &str, started: DateTime<Utc>| LiveSession {
        id: Uuid::from_u128(id),
        user_id: user.id,
        user_name: user.display_name(),
        email: user.email.clone(),
        role: user.role,
        source: source.into(),
        user_agent: "hsc/0.1.0 (xterm-256color; ssh)".into(),
        started_at: started,
        last_activity_at: at(9, 55),
        expires_at: started + chrono::Duration::hours(12),
    };
    let me = &users()[4];
    vec![
        session(0x5e55_0001, &emily(), "203.0.113.9", at(8, 0)),
        session(0x5e55_0002, &emily(), "local", at(7, 30)),
        LiveSession {
            id: Uuid::nil(),
            ..session(0, me, "198.51.100.7", at(6, 0))
        },
    ]
}

/// The admin, signed in, on the Admin tab with `rows`.
pub(super) fn on_admin(size: (u16, u16), rows: Vec<AdminUser>) -> Console {
    let mut c = Console::new(size);
    let t = c.sign_in("admin@healthystellar.com", "Test123!@#");
    let session = Session::for_tests(admin(), at(18, 0));
    c.send(Msg::Done(
        t,
        Outcome::Login(Ok(LoginStep::LoggedIn(session))),
    ));
    c.key(KeyCode::Char('4'));
    assert!(matches!(c.state.screen, Screen::Admin), "{}", c.screen());
    let Some(AdminWork::Users { filter, after }) = work(&c) else {
        panic!("the tab asks for its first page: {:?}", c.effects)
    };
    assert_eq!((filter, after), (&UserFilter::default(), &None));
    answer(&mut c, users_page(rows));
    c
}

pub(super) fn users_page(rows: Vec<AdminUser>) -> AdminResult {
    AdminResult::Users(Ok(ListPage {
        rows,
        next: None,
        read_at: read_at(),
    }))
}

fn sessions_page(rows: Vec<LiveSession>) -> AdminResult {
    AdminResult::Sessions(Ok(ListPage {
        rows,
        next: None,
        read_at: read_at(),
    }))
}

/// The admin on the Sessions list with `sessions()`.
fn on_sessions(size: (u16, u16)) -> Console {
    let mut c = on_admin(size, users());
    c.key(KeyCode::Char('s'));
    let Some(AdminWork::Sessions {
        filter,
        after: None,
    }) = work(&c)
    else {
        panic!("{:?}", c.effects)
    };
    assert_eq!(filter, &SessionFilter::default());
    answer(&mut c, sessions_page(sessions()));
    c
}

pub(super) fn work(c: &Console) -> Option<&AdminWork> {
    match c.effects.as_slice() {
        [Effect::Admin { work, .. }] => Some(work),
        _ => None,
    }
}

pub(super) fn answer(c: &mut Console, result: AdminResult) {
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::Admin(Box::new(result))));
}

pub(super) fn select(c: &mut Console, row: usize) {
    c.key(KeyCode::Char('g'));
    for _ in 0..row {
        c.key(KeyCode::Down);
    }
}

#[test]
fn an_admin_sees_every_user_with_their_state_in_words() {
    for size in SIZES {
        let mut c = on_admin(size, users());
        c.snapshot("admin_users");
        let screen = c.screen();
        assert!(screen.contains("[4 Admin]"), "{screen}");
        assert!(screen.contains("[Users]"), "{screen}");
        for word in ["locked", "inactive", "due", "never", "Emily Williams"] {
            assert!(screen.contains(word), "{word}: {screen}");
        }
        assert!(
            screen.contains("· 2 live sessions ·") || size.0 < 100,
            "the pane counts the sessions: {screen}"
        );
        assert!(
            !screen.contains('\x1b') && !screen.contains('\u{202e}'),
            "hostile names are inert: {screen:?}"
        );
        select(&mut c, 1);
        assert!(
            c.screen().contains("locked until 2026-11-27 10:30 UTC"),
            "{}",
            c.screen()
        );
    }
}

#[test]
fn the_sessions_list_shows_who_from_where_and_since_when() {
    for size in SIZES {
        let mut c = on_sessions(size);
        c.snapshot("admin_sessions");
        let screen = c.screen();
        assert!(screen.contains("[Sessions]"), "{screen}");
        assert!(screen.contains("203.0.113.9"), "{screen}");
        assert!(screen.contains("11-27 08:00"), "{screen}");
        assert!(
            screen.contains("hsc/0.1.0 (xterm-256color; ssh)"),
            "{screen}"
        );
        // Tab goes back to the users, which are not read again.
        c.key(KeyCode::Tab);
        assert!(c.effects.is_empty(), "{:?}", c.effects);
        assert!(c.screen().contains("[Users]"));
    }
}

#[test]
fn only_an_admin_has_the_tab() {
    let mut c = Console::logged_in((120, 40));
    assert!(!c.screen().contains("Admin"), "{}", c.screen());
    c.key(KeyCode::Char('4'));
    assert!(c.effects.is_empty(), "{:?}", c.effects);
    assert!(!matches!(c.state.screen, Screen::Admin));
    assert!(c.state.admin.is_none());
}

/// What a key on the selected row must send once Yes is said: each action, row and request.
#[test]
fn every_action_is_sent_only_after_yes_and_nothing_on_no_or_esc() {
    type Whom = fn(&AdminWork) -> Option<Uuid>;
    let cases: [(usize, char, &str, Whom); 6] = [
        (0, 'd', "Deactivate Emily Williams", |w| match w {
            AdminWork::SetActive {
                user,
                active: false,
            } => Some(*user),
            _ => None,
        }),
        (2, 'a', "Reactivate David Davis", |w| match w {
            AdminWork::SetActive { user, active: true } => Some(*user),
            _ => None,
        }),
        (
            3,
            'p',
            "Reset the password of Alice Anderson",
            |w| match w {
                AdminWork::ResetPassword { user } => Some(*user),
                _ => None,
            },
        ),
        (1, 'u', "Unlock John Smith", |w| match w {
            AdminWork::Unlock { user } => Some(*user),
            _ => None,
        }),
        (
            0,
            'm',
            "Reset two-factor authentication for Emily Williams",
            |w| match w {
                AdminWork::ResetMfa { user } => Some(*user),
                _ => None,
            },
        ),
        (0, 'E', "End every live session of Emily", |w| match w {
            AdminWork::EndSessionsOf { user } => Some(*user),
            _ => None,
        }),
    ];
    for (row, key, question, whom) in cases {
        let mut c = on_admin((120, 40), users());
        select(&mut c, row);
        c.key(KeyCode::Char(key));
        assert!(c.effects.is_empty(), "{key}: {:?}", c.effects);
        let screen = c.screen();
        assert!(screen.contains(question), "{key}: {screen}");
        assert!(screen.contains(&users()[row].email), "{key}: {screen}");
        c.key(KeyCode::Esc);
        assert!(c.effects.is_empty(), "{key}: Esc sends nothing");
        assert!(c.state.admin.as_ref().unwrap().overlay.is_none());
        c.key(KeyCode::Char(key));
        c.key(KeyCode::Enter);
        assert!(c.effects.is_empty(), "{key}: No is the default");
        c.key(KeyCode::Char(key));
        c.key(KeyCode::Char('n'));
        c.key(KeyCode::Char('y'));
        assert!(c.effects.is_empty(), "{key}: letters do not answer");
        c.key(KeyCode::Right);
        c.key(KeyCode::Enter);
        let sent = work(&c).unwrap_or_else(|| panic!("{key}: {:?}", c.effects));
        assert_eq!(whom(sent), Some(users()[row].id), "{key}: {sent:?}");
        // Landed: a note, and the list is read again.
        let acted = match key {
            'p' => Acted::Password(TemporaryPassword(Zeroizing::new("Tmp-Pass-4711!".into()))),
            'd' | 'm' | 'E' => Acted::Count(2),
            _ => Acted::Done,
        };
        answer(&mut c, AdminResult::Acted(Ok(acted)));
        assert!(
            c.effects.iter().any(|e| matches!(
                e,
                Effect::Admin {
                    work: AdminWork::Users { .. },
                    ..
                }
            )),
            "{key}: the list is read again: {:?}",
            c.effects
        );
    }
}

#[test]
fn every_confirm_names_the_person_and_what_happens() {
    let mut c = on_admin((80, 24), users());
    c.key(KeyCode::Char('d'));
    c.snapshot("admin_confirm_deactivate");
    assert!(c.screen().contains("Their 2 live sessions end now."));
    for (row, key, name) in [
        (2, 'a', "admin_confirm_reactivate"),
        (3, 'p', "admin_confirm_reset_password"),
        (1, 'u', "admin_confirm_unlock"),
        (0, 'm', "admin_confirm_reset_mfa"),
        (0, 'E', "admin_confirm_end_sessions"),
    ] {
        c.key(KeyCode::Esc);
        select(&mut c, row);
        c.key(KeyCode::Char(key));
        c.snapshot(name);
    }
    c.key(KeyCode::Esc);
    select(&mut c, 0);
    c.key(KeyCode::Char('c'));
    c.snapshot("admin_role_chooser");
    c.key(KeyCode::Enter);
    assert!(c.effects.is_empty());
    assert!(
        c.screen()
            .contains("Emily Williams already has the role Nurse."),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Char('c'));
    c.key(KeyCode::Up);
    c.key(KeyCode::Enter);
    assert!(c.effects.is_empty());
    c.snapshot("admin_confirm_role");
    assert!(
        c.screen()
            .contains("(nurse.williams@healthystellar.com) from Nurse to Physician?"),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    let Some(AdminWork::ChangeRole { user, role }) = work(&c) else {
        panic!("{:?}", c.effects)
    };
    assert_eq!((*user, *role), (emily().id, Role::Physician));
    answer(&mut c, AdminResult::Acted(Ok(Acted::Done)));
    assert!(
        c.screen()
            .contains("The role of Emily Williams is now Physician.")
    );
}

#[test]
fn what_cannot_apply_is_said_without_a_confirm() {
    let mut c = on_admin((120, 40), users());
    for (row, key, said) in [
        (0, 'a', "Emily Williams is already active."),
        (2, 'd', "David Davis is already inactive."),
        (0, 'u', "Emily Williams is not locked out."),
        (1, 'E', "John Smith has no live session."),
        (4, 'd', "You cannot deactivate your own account"),
        (4, 'c', "You cannot change your own role"),
    ] {
        select(&mut c, row);
        c.key(KeyCode::Char(key));
        assert!(c.effects.is_empty(), "{key}");
        assert!(c.state.admin.as_ref().unwrap().overlay.is_none(), "{key}");
        assert!(c.screen().contains(said), "{said}: {}", c.screen());
    }
}

#[test]
fn a_refusal_is_one_sentence_and_changes_nothing() {
    let mut c = on_admin((120, 40), users());
    c.key(KeyCode::Char('d'));
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    assert!(matches!(work(&c), Some(AdminWork::SetActive { .. })));
    answer(
        &mut c,
        AdminResult::Acted(Err(ServiceError::Invalid(
            "Emily Williams is the last active admin; make another admin first.".into(),
        ))),
    );
    assert!(c.effects.is_empty(), "nothing is read again");
    assert!(
        c.screen()
            .contains("Error: Emily Williams is the last active admin; make another admin first."),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Char('E'));
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    answer(
        &mut c,
        AdminResult::Acted(Err(ServiceError::Database(DbError::Unavailable(
            "connection refused".into(),
        )))),
    );
    let screen = c.screen();
    assert!(
        screen.contains("The database is not answering; nothing was changed."),
        "{screen}"
    );
    assert!(screen.contains("DATABASE NOT ANSWERING"), "{screen}");
    // A session ended elsewhere (this admin deactivated meanwhile) signs out.
    c.key(KeyCode::Char('m'));
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    answer(&mut c, AdminResult::Acted(Err(ServiceError::SessionEnded)));
    assert!(matches!(c.state.screen, Screen::Login(_)));
}

#[test]
fn enter_on_a_user_shows_their_sessions_and_enter_on_a_session_their_account() {
    let mut c = on_admin((120, 40), users());
    c.key(KeyCode::Enter);
    let Some(AdminWork::Sessions {
        filter,
        after: None,
    }) = work(&c)
    else {
        panic!("{:?}", c.effects)
    };
    assert_eq!(filter, &SessionFilter::of_user(emily().id));
    answer(&mut c, sessions_page(sessions()[..2].to_vec()));
    let screen = c.screen();
    assert!(screen.contains("[Sessions]"), "{screen}");
    assert!(screen.contains(&format!("user:{}", emily().id)), "{screen}");
    c.key(KeyCode::Enter);
    let Some(AdminWork::Users { filter, .. }) = work(&c) else {
        panic!("{:?}", c.effects)
    };
    assert_eq!(filter.words, ["nurse.williams@healthystellar.com"]);
}

#[test]
fn sessions_end_one_at_a_time_or_all_of_a_user_and_never_ones_own() {
    let mut c = on_sessions((120, 40));
    c.key(KeyCode::Char('e'));
    assert!(c.effects.is_empty());
    c.snapshot("admin_confirm_end_session");
    assert!(
        c.screen().contains("started 2026-11-27 08:00 UTC?"),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    let Some(AdminWork::EndSession { session }) = work(&c) else {
        panic!("{:?}", c.effects)
    };
    assert_eq!(*session, sessions()[0].id);
    answer(&mut c, AdminResult::Acted(Ok(Acted::Done)));
    assert!(c.screen().contains("Ended a session of Emily Williams."));
    let reads: Vec<_> = c
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Admin { work, .. } => Some(format!("{work:?}")),
            _ => None,
        })
        .collect();
    assert_eq!(reads.len(), 2, "both lists are read again: {reads:?}");

    c.key(KeyCode::Char('E'));
    assert!(c.screen().contains("End every live session of Emily"));
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    assert!(matches!(
        work(&c),
        Some(AdminWork::EndSessionsOf { user }) if *user == emily().id
    ));
    answer(&mut c, AdminResult::Acted(Ok(Acted::Count(2))));
    assert!(c.screen().contains("Ended 2 sessions of Emily Williams."));

    select(&mut c, 2);
    c.key(KeyCode::Char('e'));
    assert!(c.effects.is_empty());
    assert!(
        c.screen().contains("This is your own session"),
        "{}",
        c.screen()
    );
}

#[test]
fn typing_in_the_filter_reads_the_list_once_typing_pauses() {
    let mut c = on_admin((120, 40), users());
    c.key(KeyCode::Char('/'));
    c.type_text("dap");
    assert!(c.effects.is_empty(), "letters are filter text, not actions");
    c.wait(crate::tui::screens::paged::FILTER_PAUSE);
    assert!(
        matches!(work(&c), Some(AdminWork::Users { .. })),
        "{:?}",
        c.effects
    );
}

#[test]
fn the_help_lists_every_key_of_the_tab_even_on_a_small_terminal() {
    for size in SIZES {
        let mut c = on_admin(size, users());
        c.key(KeyCode::Char('?'));
        c.snapshot("admin_help");
        let screen = c.screen();
        for key in ["reset the user's password", "log out and quit", "Ctrl-C"] {
            assert!(screen.contains(key), "{key}: {screen}");
        }
    }
}
