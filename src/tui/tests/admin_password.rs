//! Passwords set by someone else: the new-user form (with its validation and the temporary
//! password shown once), and the "Choose a new password" screen that stands before every tab when
//! sign-in brings a session whose password must change — and that the Account screen offers too.

use std::time::Duration;

use crossterm::event::KeyCode;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::admin::{admin, answer, at, on_admin, select, users, work};
use super::{Console, SIZES, session};
use crate::services::ServiceError;
use crate::services::admin::TemporaryPassword;
use crate::services::auth::LoginStep;
use crate::services::sessions::Session;
use crate::services::users::Role;
use crate::tui::msg::{Acted, AdminResult, AdminWork, Effect, Msg, Outcome, RecordResult};
use crate::tui::screens::Screen;
use crate::tui::screens::admin::Overlay;
use crate::tui::screens::records::browser::RecordPage;

#[test]
fn a_new_user_is_checked_here_stated_then_created_with_a_password_shown_once() {
    for size in SIZES {
        let mut c = on_admin(size, users());
        c.key(KeyCode::Char('n'));
        assert!(c.effects.is_empty());
        c.key(KeyCode::Enter);
        assert!(c.screen().contains("Enter the new user's email address."));
        c.type_text("new.nurse@healthystellar");
        c.key(KeyCode::Enter);
        c.snapshot("admin_new_user_invalid");
        assert!(c.effects.is_empty());
        c.type_text(".com");
        c.key(KeyCode::Tab);
        c.type_text("Nora");
        c.key(KeyCode::Tab);
        c.type_text("Quinn");
        c.key(KeyCode::Enter);
        assert!(
            c.screen().contains("Choose the role with ← and →."),
            "{}",
            c.screen()
        );
        for _ in 0..3 {
            c.key(KeyCode::Right);
        }
        c.key(KeyCode::Enter);
        assert!(c.effects.is_empty());
        let screen = c.screen();
        assert!(
            screen.contains("Create an account for Nora Quinn")
                && screen.contains("new.nurse@healthystellar.com")
                && screen.contains("as Nurse?"),
            "{screen}"
        );
        c.key(KeyCode::Right);
        c.key(KeyCode::Enter);
        let Some(AdminWork::Create(new)) = work(&c) else {
            panic!("{:?}", c.effects)
        };
        assert_eq!(
            (
                new.email.as_str(),
                new.first_name.as_str(),
                new.last_name.as_str(),
                new.role
            ),
            ("new.nurse@healthystellar.com", "Nora", "Quinn", Role::Nurse)
        );
        let id = Uuid::from_u128(77);
        let password = TemporaryPassword(Zeroizing::new("Wd4!hJ8r-Xc2qN".into()));
        answer(&mut c, AdminResult::Acted(Ok(Acted::Created(id, password))));
        let screen = c.screen();
        assert!(screen.contains("Wd4!hJ8r-Xc2qN"), "{screen}");
        assert!(screen.contains("Nora Quinn"), "{screen}");
        assert!(c.effects.iter().any(|e| matches!(
            e,
            Effect::Admin {
                work: AdminWork::Users { .. },
                ..
            }
        )));
        c.key(KeyCode::Esc);
        let screen = c.screen();
        assert!(!screen.contains("Wd4!hJ8r"), "{screen}");
        assert!(
            screen.contains("Created Nora Quinn (new.nurse@healthystellar.com) as Nurse."),
            "{screen}"
        );
    }
}

#[test]
fn a_refused_account_keeps_the_form_as_typed() {
    let mut c = on_admin((120, 40), users());
    c.key(KeyCode::Char('n'));
    c.type_text("nurse.williams@healthystellar.com");
    c.key(KeyCode::Tab);
    c.type_text("Emily");
    c.key(KeyCode::Tab);
    c.type_text("Williams");
    c.key(KeyCode::Tab);
    c.key(KeyCode::Left);
    c.key(KeyCode::Enter);
    assert!(c.screen().contains("as Medical records?"), "{}", c.screen());
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    assert!(matches!(work(&c), Some(AdminWork::Create(_))));
    answer(
        &mut c,
        AdminResult::Acted(Err(ServiceError::Invalid(
            "nurse.williams@healthystellar.com already has an account.".into(),
        ))),
    );
    let Some(Overlay::NewUser(form)) = &c.state.admin.as_ref().unwrap().overlay else {
        panic!("the form stays")
    };
    assert_eq!(form.email.value(), "nurse.williams@healthystellar.com");
    assert!(
        c.screen()
            .contains("Error: nurse.williams@healthystellar.com already has an account."),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Esc);
    assert!(c.state.admin.as_ref().unwrap().overlay.is_none());
    assert!(c.effects.is_empty());
}

/// Dr Smith signs in with a temporary password.
fn must_change(size: (u16, u16)) -> Console {
    let mut c = Console::new(size);
    let t = c.sign_in("dr.smith@healthystellar.com", "Tmp-Pass-4711!");
    let mut s = session();
    s.password_change_required = true;
    c.send(Msg::Done(t, Outcome::Login(Ok(LoginStep::LoggedIn(s)))));
    c
}

#[test]
fn a_temporary_password_is_replaced_before_any_tab() {
    for size in SIZES {
        let mut c = must_change(size);
        assert!(matches!(c.state.screen, Screen::Password(_)));
        assert!(c.effects.is_empty(), "no tab opened: {:?}", c.effects);
        c.snapshot("password_change_forced");
        assert!(!c.screen().contains("1 Records"), "no tab bar");
        // The digits and q are password text here, not tabs or quitting.
        c.type_text("1234q");
        assert!(c.effects.is_empty());
        assert!(matches!(c.state.screen, Screen::Password(_)));
        for _ in 0..5 {
            c.key(KeyCode::Backspace);
        }
        c.type_text("Tmp-Pass-4711!");
        c.key(KeyCode::Enter);
        c.type_text("Blue-Harbour-71");
        c.key(KeyCode::Enter);
        c.type_text("Blue-Harbour-17");
        c.key(KeyCode::Enter);
        assert!(c.effects.is_empty());
        assert!(
            c.screen()
                .contains("The two new passwords are not the same; type the new one again."),
            "{}",
            c.screen()
        );
        c.type_text("Blue-Harbour-71");
        c.key(KeyCode::Enter);
        let Some(Effect::ChangePassword { current, new, .. }) = c.effects.first() else {
            panic!("{:?}", c.effects)
        };
        assert_eq!((&**current, &**new), ("Tmp-Pass-4711!", "Blue-Harbour-71"));
        let t = c.ticket();
        c.send(Msg::Done(t, Outcome::PasswordChanged(Ok(()))));
        assert!(matches!(c.state.screen, Screen::Records), "the first tab");
        assert!(!c.state.password_due());
        let t = c.ticket();
        c.send(Msg::Done(
            t,
            Outcome::Records(Box::new(RecordResult::Page(Ok(RecordPage {
                rows: Vec::new(),
                next: None,
            })))),
        ));
        assert!(c.screen().contains("Password changed."), "{}", c.screen());
    }
}

#[test]
fn a_refused_change_says_why_and_esc_logs_out() {
    let mut c = must_change((120, 40));
    c.type_text("wrong");
    c.key(KeyCode::Tab);
    c.type_text("Blue-Harbour-71");
    c.key(KeyCode::Tab);
    c.type_text("Blue-Harbour-71");
    c.key(KeyCode::Enter);
    let t = c.ticket();
    c.send(Msg::Done(
        t,
        Outcome::PasswordChanged(Err(ServiceError::Invalid(
            "The current password is not right.".into(),
        ))),
    ));
    assert!(matches!(c.state.screen, Screen::Password(_)));
    assert!(
        c.screen()
            .contains("Error: The current password is not right."),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Esc);
    assert!(
        c.effects.iter().any(|e| matches!(
            e,
            Effect::EndSession {
                reason: "logout",
                ..
            }
        )),
        "{:?}",
        c.effects
    );
}

#[test]
fn the_account_screen_offers_a_password_change_and_esc_comes_back() {
    let mut c = Console::logged_in((120, 40));
    c.key(KeyCode::Char('0'));
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::Devices(Ok((Vec::new(), 0)))));
    assert!(
        c.screen().contains("p changes your password"),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Char('p'));
    assert!(
        matches!(c.state.screen, Screen::Password(_)),
        "{}",
        c.screen()
    );
    assert!(c.screen().contains("1 Records"), "the tabs stay in view");
    c.key(KeyCode::Esc);
    assert!(matches!(c.state.screen, Screen::Account(_)));
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::Devices(Ok((Vec::new(), 0)))));
    c.key(KeyCode::Char('p'));
    c.type_text("Test123!@#");
    c.key(KeyCode::Tab);
    c.type_text("Blue-Harbour-71");
    c.key(KeyCode::Tab);
    c.type_text("Blue-Harbour-71");
    c.key(KeyCode::Enter);
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::PasswordChanged(Ok(()))));
    assert!(matches!(c.state.screen, Screen::Account(_)));
    assert!(c.screen().contains("Password changed."), "{}", c.screen());
    assert!(
        matches!(c.effects.as_slice(), [Effect::LoadDevices { .. }]),
        "{:?}",
        c.effects
    );
}

#[test]
fn an_admin_with_a_temporary_password_changes_it_before_the_admin_tab() {
    let mut c = Console::new((120, 40));
    let t = c.sign_in("admin@healthystellar.com", "Tmp-Pass-4711!");
    let mut s = Session::for_tests(admin(), at(18, 0));
    s.password_change_required = true;
    c.send(Msg::Done(t, Outcome::Login(Ok(LoginStep::LoggedIn(s)))));
    c.key(KeyCode::Char('4'));
    assert!(c.effects.is_empty());
    assert!(c.state.admin.is_none());
    assert!(matches!(c.state.screen, Screen::Password(_)));
}

#[test]
fn the_second_factor_and_a_first_enrollment_lead_to_the_new_password_too() {
    use crate::services::auth::PendingLogin;
    use crate::services::mfa::{BackupCodes, Enrollment};
    let due = || {
        let mut s = session();
        s.password_change_required = true;
        s
    };
    let mut c = Console::new((120, 40));
    let t = c.sign_in("dr.smith@healthystellar.com", "Tmp-Pass-4711!");
    let pending = PendingLogin::for_tests(super::smith());
    c.send(Msg::Done(
        t,
        Outcome::Login(Ok(LoginStep::NeedsCode(pending))),
    ));
    c.type_text("123456");
    c.key(KeyCode::Enter);
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::Code(Ok(due()))));
    assert!(matches!(c.state.screen, Screen::Password(_)));
    assert!(c.effects.is_empty());

    let mut c = Console::new((120, 40));
    let t = c.sign_in("dr.smith@healthystellar.com", "Tmp-Pass-4711!");
    let pending = PendingLogin::for_tests(super::smith());
    c.send(Msg::Done(
        t,
        Outcome::Login(Ok(LoginStep::NeedsEnrollment(pending))),
    ));
    let t = c.ticket();
    let secret: Vec<u8> = (1..=20).collect();
    let e = Enrollment::from_secret(&secret, "dr.smith@healthystellar.com", "Phone");
    c.send(Msg::Done(t, Outcome::EnrollmentReady(Ok(e))));
    c.type_text("123456");
    c.key(KeyCode::Enter);
    let t = c.ticket();
    let codes = BackupCodes(vec![Zeroizing::new("AAAA-BBBB-CCCC-DD00".into())]);
    c.send(Msg::Done(t, Outcome::Enrolled(Ok((due(), codes)))));
    assert!(matches!(c.state.screen, Screen::BackupCodes(_)));
    c.key(KeyCode::Enter);
    assert!(
        matches!(c.state.screen, Screen::Password(_)),
        "{}",
        c.screen()
    );
    assert!(c.effects.is_empty());
}

#[test]
fn a_reset_shows_the_temporary_password_once_and_keeps_it_nowhere() {
    for size in SIZES {
        let mut c = on_admin(size, users());
        select(&mut c, 3);
        c.key(KeyCode::Char('p'));
        c.key(KeyCode::Right);
        c.key(KeyCode::Enter);
        assert!(matches!(work(&c), Some(AdminWork::ResetPassword { .. })));
        let password = TemporaryPassword(Zeroizing::new("Kq7#vR2m-Tz9pL".into()));
        answer(&mut c, AdminResult::Acted(Ok(Acted::Password(password))));
        c.snapshot("admin_temporary_password");
        let screen = c.screen();
        assert!(screen.contains("Kq7#vR2m-Tz9pL"), "{screen}");
        assert!(
            screen.contains("they must change it at next login"),
            "{screen}"
        );
        assert!(
            !format!("{:?} {:?}", c.state, c.effects).contains("Kq7#vR2m"),
            "Debug never shows it"
        );
        // The box holds the tab: no tab switch, no action, until it is acknowledged.
        c.key(KeyCode::Char('0'));
        c.key(KeyCode::Char('d'));
        assert!(matches!(c.state.screen, Screen::Admin));
        assert!(c.state.holds_secret());
        c.key(KeyCode::Enter);
        assert!(!c.state.holds_secret());
        assert!(c.state.admin.as_ref().unwrap().overlay.is_none());
        let screen = c.screen();
        assert!(!screen.contains("Kq7#vR2m"), "{screen}");
        assert!(
            screen.contains("Reset the password of Alice Anderson"),
            "{screen}"
        );
    }
}

#[test]
fn the_idle_lock_wipes_a_temporary_password_on_show() {
    let mut c = on_admin((120, 40), users());
    select(&mut c, 3);
    c.key(KeyCode::Char('p'));
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    let password = TemporaryPassword(Zeroizing::new("Kq7#vR2m-Tz9pL".into()));
    answer(&mut c, AdminResult::Acted(Ok(Acted::Password(password))));
    assert!(c.state.holds_secret());
    c.wait(Duration::from_secs(15 * 60 + 1));
    assert!(c.state.lock.is_some(), "idle for the whole limit");
    assert!(!c.state.holds_secret(), "the lock does not keep it");
    assert!(!c.screen().contains("Kq7#vR2m"));
}
