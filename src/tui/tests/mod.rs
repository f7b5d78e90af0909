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
use super::msg::{Effect, Msg, Outcome, RecordResult, Ticket};
use super::screens::Screen;
use super::screens::records::browser::RecordPage;
use super::state::{Settings, State};
use super::theme::{Palette, Theme};
use super::update::update;
use super::view;
use crate::services::auth::{AuthError, LoginStep, PendingLogin};
use crate::services::mfa::{BackupCodes, Enrollment};
use crate::services::sessions::Session;
use crate::services::users::{Role, UserSummary};

mod admin;
mod admin_password;
mod audit;
mod behaviour;
mod grants;
mod grants_forms;
mod records;
mod records_behaviour;
mod records_drafts;
mod records_editor;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

pub(super) struct Console {
    pub(super) state: State,
    now: Instant,
    pub(super) effects: Vec<Effect>,
}

pub(super) fn smith() -> UserSummary {
    UserSummary {
        id: Uuid::from_u128(1),
        email: "dr.smith@healthystellar.com".into(),
        first_name: "John".into(),
        last_name: "Smith".into(),
        role: Role::Physician,
    }
}

pub(super) fn session() -> Session {
    Session::for_tests(
        smith(),
        Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).unwrap(),
    )
}

impl Console {
    pub(super) fn new(size: (u16, u16)) -> Console {
        let now = Instant::now();
        let settings = Settings {
            keymap: Keymap::default(),
            theme: Theme::new(Palette::Default),
            idle_lock: Duration::from_secs(15 * 60),
            grant_max_days: 730,
            exports_dir: "/srv/hsc/exports".into(),
        };
        let mut state = State::new(settings, size, now);
        state.today = chrono::NaiveDate::from_ymd_opt(2026, 11, 27);
        state.utc_today = state.today;
        Console {
            state,
            now,
            effects: Vec::new(),
        }
    }

    pub(super) fn send(&mut self, msg: Msg) {
        self.effects = update(&mut self.state, msg, self.now);
    }

    pub(super) fn key(&mut self, code: KeyCode) {
        self.send(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    pub(super) fn ctrl(&mut self, c: char) {
        self.send(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )));
    }

    pub(super) fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    pub(super) fn wait(&mut self, d: Duration) {
        self.now += d;
        self.send(Msg::Tick);
    }

    /// The ticket of the single effect `update` just asked for.
    pub(super) fn ticket(&self) -> Ticket {
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
                | Effect::Records { ticket, .. }
                | Effect::Grants { ticket, .. }
                | Effect::Audit { ticket, .. }
                | Effect::Admin { ticket, .. }
                | Effect::ChangePassword { ticket, .. }
                | Effect::EndSession { ticket, .. },
            ] => *ticket,
            other => panic!("expected one effect, got {other:?}"),
        }
    }

    pub(super) fn screen(&self) -> String {
        let (w, h) = self.state.size;
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| view::draw(&self.state, f)).unwrap();
        terminal.backend().to_string()
    }

    pub(super) fn snapshot(&self, name: &str) {
        let (w, h) = self.state.size;
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), self.screen());
    }

    pub(super) fn sign_in(&mut self, email: &str, password: &str) -> Ticket {
        self.type_text(email);
        self.key(KeyCode::Tab);
        self.type_text(password);
        self.key(KeyCode::Enter);
        self.ticket()
    }

    /// Dr Smith, signed in, on the Records tab with an empty first page.
    pub(super) fn logged_in(size: (u16, u16)) -> Console {
        let mut c = Console::new(size);
        let t = c.sign_in("dr.smith@healthystellar.com", "Test123!@#");
        c.send(Msg::Done(
            t,
            Outcome::Login(Ok(LoginStep::LoggedIn(session()))),
        ));
        let t = c.ticket();
        c.send(Msg::Done(
            t,
            Outcome::Records(Box::new(RecordResult::Page(Ok(RecordPage {
                rows: Vec::new(),
                next: None,
            })))),
        ));
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
        assert!(
            matches!(c.state.screen, Screen::Records),
            "a physician lands on the Records tab"
        );
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
