//! How the console behaves, key by key: focus and text, locks, session checks, outages, leaving,
//! and what nothing from the database may do to the terminal.

use std::time::Duration;

use chrono::Utc;
use crossterm::event::KeyCode;
use zeroize::Zeroizing;

use super::{Console, session, smith};
use crate::services::auth::{AuthError, LoginStep, PendingLogin};
use crate::services::mfa::{BackupCodes, Enrollment};
use crate::services::sessions::{Session, SessionState};
use crate::tui::keymap::Keymap;
use crate::tui::msg::{Effect, Leave, Msg, Outcome, Ticket};
use crate::tui::screens::Screen;
use crate::tui::theme::{Palette, Theme};

#[test]
fn sign_in_sends_the_credentials_once_and_q_is_text_in_a_field() {
    let mut c = Console::new((80, 24));
    c.key(KeyCode::Enter);
    assert!(c.effects.is_empty(), "nothing to sign in with");
    assert!(c.screen().contains("Error: Enter your email address."));
    c.type_text("q@example.com");
    c.key(KeyCode::Enter);
    assert!(
        c.effects.is_empty(),
        "Enter in the email field moves to the password"
    );
    c.type_text("pw?q");
    c.key(KeyCode::Enter);
    let Some(Effect::Login {
        email, password, ..
    }) = c.effects.first()
    else {
        panic!("expected a login, got {:?}", c.effects)
    };
    assert_eq!(
        (email.as_str(), password.as_str()),
        ("q@example.com", "pw?q")
    );
    assert!(!c.state.help, "? in a field is text, not help");
    c.key(KeyCode::Enter);
    assert!(
        c.effects.is_empty(),
        "no second login while the first is under way"
    );
    assert!(c.screen().contains("Signing in…"));
}

#[test]
fn the_enrollment_qr_code_decodes_to_the_otpauth_link() {
    let e = Enrollment::from_secret(&[7; 20], "nurse.williams@healthystellar.com", "Phone");
    let uri = e.uri().unwrap();
    let rows = crate::tui::widgets::qr::render(&uri).unwrap();
    assert!(
        rows.len() <= 22,
        "fits an 80×24 terminal: {} rows",
        rows.len()
    );
    let grid = crate::tui::widgets::qr::modules(&rows);
    // Scale each module to 4×4 pixels with a wide light margin, as a phone camera would see it.
    let (w, h) = (grid[0].len(), grid.len());
    let scale = 4;
    let margin = 16;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(
        w * scale + 2 * margin,
        h * scale + 2 * margin,
        |x, y| {
            let (x, y) = (x as isize - margin as isize, y as isize - margin as isize);
            if x < 0 || y < 0 {
                return 255;
            }
            let (mx, my) = (x as usize / scale, y as usize / scale);
            if grid
                .get(my)
                .and_then(|r| r.get(mx))
                .copied()
                .unwrap_or(false)
            {
                0
            } else {
                255
            }
        },
    );
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, uri.as_str());
}

#[test]
fn ctrl_l_locks_now_and_the_password_resumes() {
    let mut c = Console::logged_in((80, 24));
    c.ctrl('l');
    assert!(c.state.lock.is_some());
    c.type_text("Test123!@#");
    c.key(KeyCode::Enter);
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::Unlocked(Ok(true))));
    assert!(c.state.lock.is_none());
    assert!(c.screen().contains("John Smith"));
}

#[test]
fn the_session_is_checked_every_30_seconds_and_a_revocation_returns_to_login() {
    let mut c = Console::logged_in((80, 24));
    c.wait(Duration::from_secs(29));
    assert!(
        !c.effects
            .iter()
            .any(|e| matches!(e, Effect::CheckSession { .. }))
    );
    c.wait(Duration::from_secs(1));
    let t = c.ticket();
    c.send(Msg::Done(
        t,
        Outcome::SessionState(Ok(SessionState::Revoked {
            reason: "ended by an administrator".into(),
        })),
    ));
    assert!(matches!(c.state.screen, Screen::Login(_)));
    assert!(
        c.screen()
            .contains("Your session was ended (ended by an administrator)")
    );
}

#[test]
fn a_result_for_work_no_longer_awaited_is_dropped() {
    let mut c = Console::new((80, 24));
    let t = c.sign_in("dr.smith@healthystellar.com", "Test123!@#");
    c.send(Msg::Done(
        Ticket(t.0 + 100),
        Outcome::Login(Ok(LoginStep::LoggedIn(session()))),
    ));
    assert!(
        c.state.live.is_none(),
        "a stale ticket must not log anyone in"
    );
    c.send(Msg::Done(t, Outcome::Login(Err(AuthError::Refused))));
    assert!(c.screen().contains("Login failed"));
}

#[test]
fn leaving_ends_the_session_first_and_waits_at_most_the_grace_period() {
    let mut c = Console::logged_in((80, 24));
    c.ctrl('c');
    assert!(matches!(
        c.effects.as_slice(),
        [Effect::EndSession {
            reason: "ctrl-c",
            ..
        }]
    ));
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::SessionEnded));
    assert!(matches!(c.effects.as_slice(), [Effect::Exit]));

    let mut c = Console::logged_in((80, 24));
    c.send(Msg::Leave(Leave::Terminated));
    assert!(matches!(
        c.effects.as_slice(),
        [Effect::EndSession {
            reason: "terminated",
            ..
        }]
    ));
    c.wait(Duration::from_secs(3));
    assert!(
        matches!(c.effects.as_slice(), [Effect::Exit]),
        "the database being away does not keep hsc open"
    );

    let mut c = Console::new((80, 24));
    c.ctrl('c');
    assert!(
        matches!(c.effects.as_slice(), [Effect::Exit]),
        "nothing to end before login"
    );
}

#[test]
fn bad_input_gets_a_sentence_and_changes_nothing() {
    let mut c = Console::new((80, 24));
    c.send(Msg::Paste("x".repeat(10 * 1024)));
    assert!(c.screen().contains(
        "Error: The email field takes at most 254 characters; that paste would not fit."
    ));
    c.send(Msg::Paste("a\u{1b}[2J\u{7}b".into()));
    assert!(c.screen().contains("does not take control characters"));
    c.send(Msg::Paste("名前@例え.jp".into()));
    let Screen::Login(login) = &c.state.screen else {
        panic!()
    };
    assert_eq!(login.email.value(), "名前@例え.jp");
    c.key(KeyCode::Tab);
    c.send(Msg::Paste("p".repeat(129)));
    assert!(
        c.screen()
            .contains("The password field takes at most 128 characters")
    );
}

#[test]
fn names_from_the_database_cannot_drive_the_terminal() {
    let mut c = Console::new((120, 40));
    let mut user = smith();
    user.first_name = "\u{1b}]0;pwned\u{7}John".into();
    user.last_name = "Sm\u{1b}[2Jith\u{202e}".into();
    let t = c.sign_in("dr.smith@healthystellar.com", "Test123!@#");
    c.send(Msg::Done(
        t,
        Outcome::Login(Ok(LoginStep::LoggedIn(Session::for_tests(
            user,
            Utc::now(),
        )))),
    ));
    let screen = c.screen();
    assert!(
        !screen.contains('\u{1b}') && !screen.contains('\u{202e}'),
        "{screen}"
    );
    assert!(
        screen.contains("␛]0;pwned␇John Sm␛[2Jith<U+202E>"),
        "{screen}"
    );
}

#[test]
fn help_is_generated_from_the_live_keymap() {
    let mut overrides = std::collections::BTreeMap::new();
    overrides.insert("lock".to_string(), "f12".to_string());
    let mut c = Console::logged_in((120, 40));
    c.state.settings.keymap = Keymap::with_overrides(&overrides).unwrap();
    c.key(KeyCode::Char('?'));
    let screen = c.screen();
    assert!(screen.contains("F12  lock the screen now"), "{screen}");
    assert!(
        screen.contains("F12 lock"),
        "the status bar hints follow the keymap too"
    );
    c.key(KeyCode::Esc);
    assert!(!c.state.help);
}

#[test]
fn a_database_outage_is_said_in_words_and_cleared_when_it_answers() {
    use crate::db::DbError;
    use crate::services::ServiceError;
    let mut c = Console::logged_in((120, 40));
    c.wait(Duration::from_secs(30));
    let t = c.ticket();
    let down = ServiceError::Database(DbError::Connect {
        target: "hsc@db/hsc".into(),
        reason: "connection refused".into(),
    });
    c.send(Msg::Done(t, Outcome::SessionState(Err(down))));
    assert!(c.state.live.is_some(), "an outage does not log anyone out");
    assert!(
        c.screen().contains("!! DATABASE NOT ANSWERING"),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Char('j'));
    c.wait(Duration::from_secs(30));
    assert!(
        c.effects.iter().any(|e| matches!(e, Effect::Touch { .. })),
        "activity is stamped at most once a minute"
    );
    let t = c
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::CheckSession { ticket, .. } => Some(*ticket),
            _ => None,
        })
        .expect("checked again after 30 seconds");
    c.send(Msg::Done(
        t,
        Outcome::SessionState(Ok(SessionState::Active)),
    ));
    assert!(!c.screen().contains("NOT ANSWERING"));
}

#[test]
fn no_color_leaves_only_emphasis() {
    let theme = Theme::choose(true, Some("high-contrast")).unwrap();
    assert_eq!(theme.palette, Palette::Monochrome);
    for style in [
        theme.base,
        theme.title,
        theme.focus,
        theme.error,
        theme.info,
        theme.key,
        theme.selected,
        theme.status,
    ] {
        assert_eq!((style.fg, style.bg), (None, None), "{style:?}");
    }
    assert_eq!(
        Theme::choose(false, Some("high-contrast")).unwrap().palette,
        Palette::HighContrast
    );
    assert!(Theme::choose(false, Some("neon")).is_err());
}

#[test]
fn a_sign_in_that_finishes_late_never_leaves_a_session_open() {
    // Ctrl-C while signing in: wait for the answer, end the session it brings, then leave.
    let mut c = Console::new((80, 24));
    let t = c.sign_in("patient1@example.com", "Test123!@#");
    c.ctrl('c');
    assert!(c.effects.is_empty(), "the sign-in under way is waited for");
    c.send(Msg::Done(
        t,
        Outcome::Login(Ok(LoginStep::LoggedIn(session()))),
    ));
    assert!(matches!(
        c.effects.as_slice(),
        [Effect::EndSession {
            reason: "sign-in abandoned",
            ..
        }]
    ));
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::SessionEnded));
    assert!(matches!(c.effects.as_slice(), [Effect::Exit]));

    // Esc while the enrollment code is checked waits for the answer instead of dropping it.
    let mut c = Console::new((80, 24));
    let t = c.sign_in("dr.smith@healthystellar.com", "Test123!@#");
    c.send(Msg::Done(
        t,
        Outcome::Login(Ok(LoginStep::NeedsEnrollment(PendingLogin::for_tests(
            smith(),
        )))),
    ));
    let t = c.ticket();
    let e = Enrollment::from_secret(&[3; 20], "dr.smith@healthystellar.com", "Phone");
    c.send(Msg::Done(t, Outcome::EnrollmentReady(Ok(e))));
    c.type_text("123456");
    c.key(KeyCode::Enter);
    let t = c.ticket();
    c.key(KeyCode::Esc);
    assert!(
        matches!(c.state.screen, Screen::Enroll(_)),
        "Esc waits while the code is checked"
    );
    let codes = BackupCodes(vec![Zeroizing::new("AAAA-BBBB-CCCC-DDDD".to_string())]);
    c.send(Msg::Done(t, Outcome::Enrolled(Ok((session(), codes)))));
    assert!(
        matches!(c.state.screen, Screen::BackupCodes(_)),
        "the backup codes are shown, not lost"
    );

    // A result for a screen the person has left is dropped, and its session ended.
    let mut c = Console::new((80, 24));
    let t = c.sign_in("dr.smith@healthystellar.com", "Test123!@#");
    c.send(Msg::Done(
        t,
        Outcome::Login(Ok(LoginStep::NeedsCode(PendingLogin::for_tests(smith())))),
    ));
    c.type_text("123456");
    c.key(KeyCode::Enter);
    let t = c.ticket();
    c.state.to_login(None);
    c.send(Msg::Done(t, Outcome::Code(Ok(session()))));
    assert!(c.state.live.is_none());
    assert!(matches!(c.effects.as_slice(), [Effect::EndSession { .. }]));
}
