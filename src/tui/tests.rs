//! The console driven the way the live loop drives it — real key events through `update` — and drawn
//! into ratatui's TestBackend, snapshotted at 80×24 and 120×40. No database: results arrive as the
//! messages the runner would send.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::keymap::Keymap;
use super::msg::{Effect, Leave, Msg, Outcome, Ticket};
use super::screens::Screen;
use super::state::{Settings, State};
use super::theme::{Palette, Theme};
use super::update::update;
use super::view;
use crate::services::auth::{AuthError, LoginStep, PendingLogin};
use crate::services::mfa::{BackupCodes, Enrollment};
use crate::services::sessions::{Session, SessionState};
use crate::services::users::{Role, UserSummary};

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

struct Console {
    state: State,
    now: Instant,
    effects: Vec<Effect>,
}

fn smith() -> UserSummary {
    UserSummary {
        id: Uuid::from_u128(1),
        email: "dr.smith@healthystellar.com".into(),
        first_name: "John".into(),
        last_name: "Smith".into(),
        role: Role::Physician,
    }
}

fn session() -> Session {
    Session::for_tests(
        smith(),
        Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).unwrap(),
    )
}

impl Console {
    fn new(size: (u16, u16)) -> Console {
        let now = Instant::now();
        let settings = Settings {
            keymap: Keymap::default(),
            theme: Theme::new(Palette::Default),
            idle_lock: Duration::from_secs(15 * 60),
        };
        Console {
            state: State::new(settings, size, now),
            now,
            effects: Vec::new(),
        }
    }

    fn send(&mut self, msg: Msg) {
        self.effects = update(&mut self.state, msg, self.now);
    }

    fn key(&mut self, code: KeyCode) {
        self.send(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn ctrl(&mut self, c: char) {
        self.send(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )));
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    fn wait(&mut self, d: Duration) {
        self.now += d;
        self.send(Msg::Tick);
    }

    /// The ticket of the single effect `update` just asked for.
    fn ticket(&self) -> Ticket {
        match self.effects.as_slice() {
            [
                Effect::Login { ticket, .. }
                | Effect::SubmitCode { ticket, .. }
                | Effect::PrepareEnrollment { ticket, .. }
                | Effect::CompleteEnrollment { ticket, .. }
                | Effect::Unlock { ticket, .. }
                | Effect::LoadDevices { ticket, .. }
                | Effect::CheckSession { ticket, .. }
                | Effect::RecordLock { ticket, .. }
                | Effect::EndSession { ticket, .. },
            ] => *ticket,
            other => panic!("expected one effect, got {other:?}"),
        }
    }

    fn screen(&self) -> String {
        let (w, h) = self.state.size;
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| view::draw(&self.state, f)).unwrap();
        terminal.backend().to_string()
    }

    fn snapshot(&self, name: &str) {
        let (w, h) = self.state.size;
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), self.screen());
    }

    fn sign_in(&mut self, email: &str, password: &str) -> Ticket {
        self.type_text(email);
        self.key(KeyCode::Tab);
        self.type_text(password);
        self.key(KeyCode::Enter);
        self.ticket()
    }

    fn logged_in(size: (u16, u16)) -> Console {
        let mut c = Console::new(size);
        let t = c.sign_in("dr.smith@healthystellar.com", "Test123!@#");
        c.send(Msg::Done(
            t,
            Outcome::Login(Ok(LoginStep::LoggedIn(session()))),
        ));
        let t = c.ticket();
        c.send(Msg::Done(t, Outcome::Devices(Ok((Vec::new(), 10)))));
        c
    }
}

#[test]
fn login_screen() {
    for size in SIZES {
        let mut c = Console::new(size);
        c.snapshot("login");
        c.type_text("dr.smith@healthystellar.com");
        c.key(KeyCode::Tab);
        c.type_text("secret");
        c.snapshot("login_filled");
    }
}

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
fn wrong_password_and_lockout_say_the_same_thing() {
    for size in SIZES {
        let mut c = Console::new(size);
        let t = c.sign_in("dr.smith@healthystellar.com", "wrong");
        c.send(Msg::Done(t, Outcome::Login(Err(AuthError::Refused))));
        c.snapshot("wrong_password");
        let wrong = c.screen();
        for _ in 0..5 {
            c.type_text("again");
            c.key(KeyCode::Enter);
            let t = c.ticket();
            c.send(Msg::Done(t, Outcome::Login(Err(AuthError::Refused))));
        }
        c.snapshot("lockout");
        assert_eq!(
            c.screen(),
            wrong,
            "a locked account looks exactly like a wrong password"
        );
    }
}

#[test]
fn code_prompt_and_backup_code() {
    for size in SIZES {
        let mut c = Console::new(size);
        let t = c.sign_in("dr.smith@healthystellar.com", "Test123!@#");
        c.send(Msg::Done(
            t,
            Outcome::Login(Ok(LoginStep::NeedsCode(PendingLogin::for_tests(smith())))),
        ));
        c.snapshot("code_prompt");
        c.type_text("000000");
        c.key(KeyCode::Enter);
        let t = c.ticket();
        c.send(Msg::Done(t, Outcome::Code(Err(AuthError::WrongCode))));
        assert!(c.screen().contains("Error: That code is not right"));
        c.type_text("ABCD-EFGH-2345-6723");
        c.snapshot("backup_code");
        c.key(KeyCode::Enter);
        let Some(Effect::SubmitCode { code, .. }) = c.effects.first() else {
            panic!()
        };
        assert_eq!(code.as_str(), "ABCD-EFGH-2345-6723");
        let t = c.ticket();
        c.send(Msg::Done(t, Outcome::Code(Ok(session()))));
        assert!(matches!(c.state.screen, Screen::Account(_)));
    }
}

#[test]
fn enrollment_shows_a_qr_code_the_secret_and_the_link_then_the_backup_codes() {
    for size in SIZES {
        let mut c = Console::new(size);
        let t = c.sign_in("dr.smith@healthystellar.com", "Test123!@#");
        c.send(Msg::Done(
            t,
            Outcome::Login(Ok(LoginStep::NeedsEnrollment(PendingLogin::for_tests(
                smith(),
            )))),
        ));
        let t = c.ticket();
        assert!(matches!(c.effects[0], Effect::PrepareEnrollment { .. }));
        let secret: Vec<u8> = (1..=20).collect();
        let e = Enrollment::from_secret(&secret, "dr.smith@healthystellar.com", "Phone");
        c.send(Msg::Done(t, Outcome::EnrollmentReady(Ok(e))));
        c.snapshot("enrollment");
        let screen = c.screen();
        assert!(
            screen.contains("AEBA GBAF AYDQ QCIK") && screen.contains("CAIR EEYU"),
            "{screen}"
        );
        assert!(
            screen.contains("otpauth://totp/Healthy%20Stellar:"),
            "{screen}"
        );
        c.type_text("123456");
        c.key(KeyCode::Enter);
        let t = c.ticket();
        let codes = BackupCodes(
            (0..10)
                .map(|i| Zeroizing::new(format!("AAAA-BBBB-CCCC-DD{i:02}")))
                .collect(),
        );
        c.send(Msg::Done(t, Outcome::Enrolled(Ok((session(), codes)))));
        c.snapshot("backup_codes");
        c.key(KeyCode::Enter);
        assert!(matches!(c.state.screen, Screen::Account(_)));
    }
}

#[test]
fn the_enrollment_qr_code_decodes_to_the_otpauth_link() {
    let e = Enrollment::from_secret(&[7; 20], "nurse.williams@healthystellar.com", "Phone");
    let uri = e.uri().unwrap();
    let rows = super::widgets::qr::render(&uri).unwrap();
    assert!(
        rows.len() <= 22,
        "fits an 80×24 terminal: {} rows",
        rows.len()
    );
    let grid = super::widgets::qr::modules(&rows);
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
fn idle_lock_hides_everything_and_three_wrong_passwords_log_out() {
    for size in SIZES {
        let mut c = Console::logged_in(size);
        c.wait(Duration::from_secs(14 * 60 + 59));
        assert!(c.state.lock.is_none());
        c.wait(Duration::from_secs(1));
        assert!(
            c.effects
                .iter()
                .any(|e| matches!(e, Effect::RecordLock { .. })),
            "{:?}",
            c.effects
        );
        c.snapshot("idle_lock");
        assert!(
            !c.screen().contains("dr.smith@healthystellar.com"),
            "the lock hides the account"
        );
        for attempt in 1..=3 {
            c.type_text("nope");
            c.key(KeyCode::Enter);
            let t = c.ticket();
            c.send(Msg::Done(t, Outcome::Unlocked(Ok(false))));
            if attempt < 3 {
                assert!(c.screen().contains("That password is not right."));
            }
        }
        assert!(
            c.effects
                .iter()
                .any(|e| matches!(e, Effect::EndSession { .. }))
        );
        assert!(matches!(c.state.screen, Screen::Login(_)) && c.state.live.is_none());
        assert!(
            c.screen()
                .contains("Three wrong passwords at the lock screen")
        );
    }
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
fn too_small_terminal() {
    let mut c = Console::new((79, 24));
    c.snapshot("too_small");
    c.type_text("abc");
    c.send(Msg::Resize(120, 40));
    assert!(c.screen().contains("Email:"));
    assert!(
        !c.screen().contains("abc"),
        "keys are not taken while the terminal is too small"
    );
    c.send(Msg::Resize(60, 20));
    c.snapshot("too_small");
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
